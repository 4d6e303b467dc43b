/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "host/ksm.h"
#include "node/ksmd.h"

static struct sp_knob_change *find_knob(struct sp_state *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n_knobs; i++)
		if (strcmp(st->knobs[i].name, name) == 0)
			return &st->knobs[i];
	return NULL;
}

int ksmd_set_knob(struct sp_state *st, const char *name, const char *value, sp_error_t *err)
{
	_cleanup_free_ char *old = NULL;
	struct sp_knob_change *k;
	int ret;

	ret = ksm_knob_read(name, &old, err);
	if (ret < 0)
		return ret;
	k = find_knob(st, name);
	if (!k) {
		if (st->n_knobs >= SP_STATE_MAX_KNOBS)
			return sp_error_set(err, ENOSPC, "too many KSM knobs recorded");
		k = &st->knobs[st->n_knobs];
		memset(k, 0, sizeof(*k));
		snprintf(k->name, sizeof(k->name), "%s", name);
		snprintf(k->saved, sizeof(k->saved), "%s", old);
	}
	if (strcmp(old, value) != 0) {
		ret = ksm_knob_write(name, value, err);
		if (ret < 0)
			return ret;
	}
	snprintf(k->set, sizeof(k->set), "%s", value);
	if (k == &st->knobs[st->n_knobs])
		st->n_knobs++;
	return 0;
}

/* Record a knob the advisor will own while samepage's advisor runs. */
static int record_advisor_owned(struct sp_state *st, const char *name, sp_error_t *err)
{
	_cleanup_free_ char *cur = NULL;
	struct sp_knob_change *k;
	int ret;

	if (find_knob(st, name))
		return 0;
	if (st->n_knobs >= SP_STATE_MAX_KNOBS)
		return sp_error_set(err, ENOSPC, "too many KSM knobs recorded");
	ret = ksm_knob_read(name, &cur, err);
	if (ret < 0)
		return ret;
	k = &st->knobs[st->n_knobs++];
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->saved, sizeof(k->saved), "%s", cur);
	snprintf(k->set, sizeof(k->set), "%s", KSMD_SET_BY_ADVISOR);
	return 0;
}

int ksmd_take(struct sp_state *st, const struct sp_config *cfg, sp_error_t *err)
{
	_cleanup_free_ char *run = NULL;
	int ret;

	if (st->ksmd_managed || !cfg->manage_ksmd)
		return 0;
	ret = ksm_knob_read("run", &run, err);
	if (ret < 0)
		return sp_error_wrap(err, "ksmd");
	if (strcmp(run, "0") != 0)
		return 0;

	/* The advisor sizes pages_to_scan to a target scan time, which is
	 * better than a fixed rate nobody tuned. */
	if (strcmp(cfg->advisor_mode, "none") != 0 && ksm_knob_exists("advisor_mode")) {
		/* The advisor rewrites pages_to_scan: remember it so release
		 * can put it back along with the advisor. */
		ret = record_advisor_owned(st, "pages_to_scan", err);
		if (ret < 0)
			return sp_error_wrap(err, "ksmd");
		ret = ksmd_set_knob(st, "advisor_mode", cfg->advisor_mode, err);
		if (ret < 0)
			return sp_error_wrap(err, "ksmd");
	}
	ret = ksmd_set_knob(st, "run", "1", err);
	if (ret < 0) {
		sp_error_wrap(err, "ksmd");
		sp_error_t ignored = NULL;
		ksmd_release(st, &ignored);
		sp_error_free(&ignored);
		return -EIO;
	}
	st->ksmd_managed = true;
	return 1;
}

int ksmd_release(struct sp_state *st, sp_error_t *err)
{
	int restored = 0, first_err = 0;
	bool advisor_put_back = false;
	size_t i;

	/* Reverse order: stop ksmd first, then put back its settings. */
	for (i = st->n_knobs; i-- > 0;) {
		struct sp_knob_change *k = &st->knobs[i];
		_cleanup_free_ char *cur = NULL;
		int ret;

		ret = ksm_knob_read(k->name, &cur, err);
		/* While samepage's advisor ran, pages_to_scan was the advisor's
		 * (or the governor's): the kernel refuses other writers then. */
		if (ret == 0 && strcmp(cur, k->saved) != 0 &&
		    (strcmp(cur, k->set) == 0 || (advisor_put_back && strcmp(k->name, "pages_to_scan") == 0))) {
			ret = ksm_knob_write(k->name, k->saved, err);
			if (ret == 0) {
				restored++;
				if (strcmp(k->name, "advisor_mode") == 0)
					advisor_put_back = true;
			}
		}
		if (ret < 0 && !first_err)
			first_err = ret;
	}
	st->n_knobs = 0;
	st->ksmd_managed = false;
	return first_err ? first_err : restored;
}
