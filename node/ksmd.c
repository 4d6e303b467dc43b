/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "host/ksm.h"
#include "node/ksmd.h"

const char *const ksmd_knobs[] = { "pages_to_scan", "sleep_millisecs", "smart_scan", "run", "advisor_mode", NULL };

static struct sp_knob_change *record_find(struct sp_state *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n_knobs; i++)
		if (strcmp(st->knobs[i].name, name) == 0)
			return &st->knobs[i];
	return NULL;
}

static void record_drop(struct sp_state *st, struct sp_knob_change *k)
{
	size_t i = k - st->knobs;

	memmove(&st->knobs[i], &st->knobs[i + 1], (st->n_knobs - i - 1) * sizeof(*k));
	st->n_knobs--;
}

static bool is_knob(const char *name, const char *knob)
{
	return strcmp(name, knob) == 0;
}

/* While an advisor runs, pages_to_scan is its: the kernel refuses writes. */
static bool advisor_running(void)
{
	_cleanup_free_ char *mode = NULL;

	return ksm_knob_exists("advisor_mode") && ksm_knob_read("advisor_mode", &mode, NULL) == 0 &&
	       strcmp(mode, "none") != 0;
}

/* A knob going back to `to`, and where it goes in the order of ksmd.h. */
struct putback {
	size_t idx;
	unsigned int rank;
};

static unsigned int restore_rank(const char *name, const char *to)
{
	unsigned int i;

	if (is_knob(name, "advisor_mode") && strcmp(to, "none") == 0)
		return 0;
	for (i = 0; ksmd_knobs[i]; i++)
		if (is_knob(name, ksmd_knobs[i]))
			return 2 * (i + 1);
	/* Not ours to list (an old state file): before the advisor returns. */
	return 2 * i - 1;
}

/* Insertion sort by rank, stable: n is at most SP_STATE_MAX_KNOBS. */
static void putback_sort(struct putback *pb, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		struct putback p = pb[i];

		for (j = i; j > 0 && pb[j - 1].rank > p.rank; j--)
			pb[j] = pb[j - 1];
		pb[j] = p;
	}
}

/* Record the change of a knob in st (its value before samepage's first
 * change, the value samepage sets) and, when write, make it. */
static int set_knob(struct sp_state *st, const char *name, const char *value, bool write, sp_error_t *err)
{
	_cleanup_free_ char *old = NULL;
	struct sp_knob_change *k;
	int ret;

	ret = ksm_knob_read(name, &old, err);
	if (ret < 0)
		return ret;
	k = record_find(st, name);
	if (!k) {
		if (st->n_knobs >= SP_STATE_MAX_KNOBS)
			return sp_error_set(err, ENOSPC, "too many KSM knobs recorded");
		k = &st->knobs[st->n_knobs];
		memset(k, 0, sizeof(*k));
		snprintf(k->name, sizeof(k->name), "%s", name);
		snprintf(k->saved, sizeof(k->saved), "%s", old);
	}
	if (write && strcmp(old, value) != 0) {
		ret = ksm_knob_write(name, value, err);
		if (ret < 0)
			return ret;
	}
	snprintf(k->set, sizeof(k->set), "%s", value);
	if (k == &st->knobs[st->n_knobs])
		st->n_knobs++;
	return 0;
}

int ksmd_set_knob(struct sp_state *st, const char *name, const char *value, sp_error_t *err)
{
	return set_knob(st, name, value, true, err);
}

/* Record a knob the advisor will own while samepage's advisor runs. */
static int record_advisor_owned(struct sp_state *st, const char *name, sp_error_t *err)
{
	_cleanup_free_ char *cur = NULL;
	struct sp_knob_change *k;
	int ret;

	if (record_find(st, name))
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

/* The knobs of a ksmd samepage turns on, run last; recorded only (not
 * written) unless write. */
static int take_knobs(struct sp_state *st, const struct sp_config *cfg, bool write, sp_error_t *err)
{
	int ret;

	/* The advisor sizes pages_to_scan to a target scan time, which is
	 * better than a fixed rate nobody tuned. */
	if (strcmp(cfg->advisor_mode, "none") != 0 && ksm_knob_exists("advisor_mode")) {
		/* The advisor rewrites pages_to_scan: remember it so release
		 * can put it back along with the advisor. */
		ret = record_advisor_owned(st, "pages_to_scan", err);
		if (ret < 0)
			return ret;
		ret = set_knob(st, "advisor_mode", cfg->advisor_mode, write, err);
		if (ret < 0)
			return ret;
	}
	/* Smart scan skips a page that did not merge for more and more
	 * scans, each on its own schedule: the pages of a replica that
	 * started later than its twins then rarely meet them in the
	 * unstable tree (measured: 78 % of a late twin's 64 MiB after 52 s
	 * with smart scan, all of it in 3 s without). */
	if (cfg->smart_scan_off && ksm_knob_exists("smart_scan")) {
		ret = set_knob(st, "smart_scan", "0", write, err);
		if (ret < 0)
			return ret;
	}
	return set_knob(st, "run", "1", write, err);
}

int ksmd_take_logged(struct sp_state *st, const struct sp_config *cfg, ksmd_commit_fn commit, void *arg,
		     sp_error_t *err)
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
	/* Write-ahead: a process killed between the knob writes and its
	 * state save would leave ksmd on with nothing recorded.  Release
	 * puts a knob back only while it holds what samepage set, so a
	 * record whose write never happened is harmless. */
	if (commit) {
		struct sp_knob_change before[SP_STATE_MAX_KNOBS];
		size_t n_before = st->n_knobs;

		memcpy(before, st->knobs, sizeof(before));
		ret = take_knobs(st, cfg, false, err);
		if (ret >= 0) {
			st->ksmd_managed = true;
			ret = commit(st, arg, err);
		}
		if (ret < 0) {
			st->ksmd_managed = false;
			memcpy(st->knobs, before, sizeof(before));
			st->n_knobs = n_before;
			return sp_error_wrap(err, "ksmd");
		}
	}
	ret = take_knobs(st, cfg, true, err);
	if (ret < 0) {
		sp_error_t ignored = NULL;

		sp_error_wrap(err, "ksmd");
		ksmd_release(st, &ignored);
		sp_error_free(&ignored);
		return ret;
	}
	st->ksmd_managed = true;
	return 1;
}

int ksmd_take(struct sp_state *st, const struct sp_config *cfg, sp_error_t *err)
{
	return ksmd_take_logged(st, cfg, NULL, NULL, err);
}

const char *ksmd_saved(const struct sp_state *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n_knobs; i++)
		if (strcmp(st->knobs[i].name, name) == 0)
			return st->knobs[i].saved;
	return NULL;
}

/* Put one record back.  Returns 1 when written, 0 when left alone. */
static int release_one(const struct sp_knob_change *k, bool advisor_put_back, sp_error_t *err)
{
	_cleanup_free_ char *cur = NULL;
	bool ours;
	int ret;

	ret = ksm_knob_read(k->name, &cur, err);
	if (ret < 0)
		return ret;
	if (strcmp(cur, k->saved) == 0)
		return 0;
	ours = strcmp(cur, k->set) == 0;
	if (is_knob(k->name, "pages_to_scan")) {
		/* While samepage's advisor ran, pages_to_scan was the
		 * advisor's (or the governor's): it goes back with it. */
		if (advisor_running())
			return 0;
		ours = ours || advisor_put_back;
	}
	if (!ours)
		return 0;
	ret = ksm_knob_write(k->name, k->saved, err);
	return ret < 0 ? ret : 1;
}

int ksmd_release(struct sp_state *st, sp_error_t *err)
{
	struct putback pb[SP_STATE_MAX_KNOBS];
	int restored = 0, first_err = 0;
	bool advisor_put_back = false;
	size_t i;

	for (i = 0; i < st->n_knobs; i++)
		pb[i] = (struct putback){ i, restore_rank(st->knobs[i].name, st->knobs[i].saved) };
	putback_sort(pb, st->n_knobs);
	for (i = 0; i < st->n_knobs; i++) {
		const struct sp_knob_change *k = &st->knobs[pb[i].idx];
		int ret = release_one(k, advisor_put_back, err);

		if (ret > 0) {
			restored++;
			if (is_knob(k->name, "advisor_mode"))
				advisor_put_back = true;
		}
		if (ret < 0 && !first_err)
			first_err = ret;
	}
	st->n_knobs = 0;
	st->ksmd_managed = false;
	return first_err ? first_err : restored;
}

static struct ksmd_undo_change *undo_find(struct ksmd_undo *u, const char *name)
{
	size_t i;

	for (i = 0; i < u->n; i++)
		if (strcmp(u->c[i].name, name) == 0)
			return &u->c[i];
	return NULL;
}

int ksmd_undo_note(struct ksmd_undo *u, const char *name, const char *before, const char *set, const char *rec_set)
{
	struct ksmd_undo_change *c = undo_find(u, name);

	if (!c) {
		if (u->n >= ARRAY_SIZE(u->c))
			return -ENOSPC;
		c = &u->c[u->n++];
		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", name);
		snprintf(c->before, sizeof(c->before), "%s", before);
		snprintf(c->rec_set, sizeof(c->rec_set), "%s", rec_set ? rec_set : "");
	}
	snprintf(c->set, sizeof(c->set), "%s", set);
	return 0;
}

void ksmd_undo_adopt(struct ksmd_undo *u, const struct sp_state *st, const struct sp_config *cfg)
{
	const char *cfg_advisor_mode = cfg->advisor_mode;
	bool cfg_advisor = strcmp(cfg_advisor_mode, "none") != 0;
	/* The hook turned smart scan off when it took ksmd: put back off. */
	bool hook_smart_off = st->ksmd_managed && cfg->smart_scan_off;
	bool hook_advisor = false;
	size_t i;

	/* The hook's advisor record: its mode, or the governor's `none`
	 * over the configured mode. */
	for (i = 0; i < st->n_knobs; i++)
		if (is_knob(st->knobs[i].name, "advisor_mode"))
			hook_advisor = strcmp(st->knobs[i].set, "none") != 0 || cfg_advisor;
	for (i = 0; i < st->n_knobs; i++) {
		const struct sp_knob_change *k = &st->knobs[i];

		if (is_knob(k->name, "smart_scan") && hook_smart_off)
			ksmd_undo_note(u, k->name, "0", k->set, "0");
		else if (is_knob(k->name, "sleep_millisecs") || is_knob(k->name, "smart_scan"))
			ksmd_undo_note(u, k->name, k->saved, k->set, NULL);
		else if (is_knob(k->name, "pages_to_scan"))
			ksmd_undo_note(u, k->name, k->saved, k->set,
				       hook_advisor || strcmp(k->set, KSMD_SET_BY_ADVISOR) == 0 ? KSMD_SET_BY_ADVISOR
												: NULL);
		else if (is_knob(k->name, "advisor_mode") && strcmp(k->set, "none") == 0 && cfg_advisor)
			ksmd_undo_note(u, k->name, cfg_advisor_mode, k->set, cfg_advisor_mode);
	}
}

int ksmd_undo_set(struct ksmd_undo *u, struct sp_state *st, const char *name, const char *value, sp_error_t *err)
{
	_cleanup_free_ char *cur = NULL;
	const struct sp_knob_change *rec = record_find(st, name);
	char rec_set[sizeof(rec->set)];
	int ret;

	snprintf(rec_set, sizeof(rec_set), "%s", rec ? rec->set : "");
	if (!undo_find(u, name)) {
		ret = ksm_knob_read(name, &cur, err);
		if (ret < 0)
			return ret;
	}
	ret = ksmd_set_knob(st, name, value, err);
	if (ret < 0)
		return ret;
	if (ksmd_undo_note(u, name, cur ? cur : "", value, rec ? rec_set : NULL) < 0)
		return sp_error_set(err, ENOSPC, "governor: too many KSM knobs changed");
	return 0;
}

const char *ksmd_undo_changed(const struct ksmd_undo *u)
{
	size_t i;

	for (i = 0; i < u->n; i++) {
		_cleanup_free_ char *cur = NULL;

		/* Adopted and not set again yet: the advisor's, not a value. */
		if (strcmp(u->c[i].set, KSMD_SET_BY_ADVISOR) == 0)
			continue;
		if (ksm_knob_read(u->c[i].name, &cur, NULL) < 0)
			continue;
		if (strcmp(cur, u->c[i].set) != 0)
			return u->c[i].name;
	}
	return NULL;
}

/* Undo one change and fix its record.  Returns 1 when written. */
static int undo_one(const struct ksmd_undo_change *c, struct sp_state *st, sp_error_t *err)
{
	struct sp_knob_change *rec = record_find(st, c->name);
	_cleanup_free_ char *cur = NULL;
	int ret, written = 0;

	ret = ksm_knob_read(c->name, &cur, err);
	if (ret < 0)
		return ret;
	/* Someone else's value now: whatever the record says,
	 * ksmd_release() leaves a knob alone that does not hold it. */
	if (strcmp(cur, c->set) != 0)
		return 0;
	if (strcmp(cur, c->before) != 0 && !(is_knob(c->name, "pages_to_scan") && advisor_running())) {
		ret = ksm_knob_write(c->name, c->before, err);
		if (ret < 0)
			return ret;
		written = 1;
	}
	if (rec && c->rec_set[0])
		snprintf(rec->set, sizeof(rec->set), "%s", c->rec_set);
	else if (rec)
		record_drop(st, rec);
	return written;
}

int ksmd_undo_restore(struct ksmd_undo *u, struct sp_state *st, sp_error_t *err)
{
	struct putback pb[ARRAY_SIZE(u->c)];
	int written = 0, first_err = 0;
	size_t i;

	for (i = 0; i < u->n; i++)
		pb[i] = (struct putback){ i, restore_rank(u->c[i].name, u->c[i].before) };
	putback_sort(pb, u->n);
	for (i = 0; i < u->n; i++) {
		int ret = undo_one(&u->c[pb[i].idx], st, err);

		if (ret < 0 && !first_err)
			first_err = ret;
		else if (ret > 0)
			written++;
	}
	u->n = 0;
	return first_err ? first_err : written;
}

void ksmd_undo_forget(struct ksmd_undo *u)
{
	u->n = 0;
}
