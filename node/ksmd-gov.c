/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "host/ksm.h"
#include "node/ksmd.h"
#include "node/ksmd-gov.h"
#include "host/proc.h"

int ksmd_find_pid(sp_error_t *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	d = opendir("/proc");
	if (!d)
		return sp_error_set(err, errno, "open `/proc`");
	while ((de = readdir(d))) {
		struct proc_info pi;
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]) || parse_long(de->d_name, 1, 1L << 22, &pid) < 0)
			continue;
		/* Kernel threads are children of kthreadd, pid 2. */
		if (proc_info_read((pid_t)pid, &pi, NULL) < 0 || pi.ppid != 2)
			continue;
		if (strcmp(pi.comm, "ksmd") == 0)
			return (int)pid;
	}
	return sp_error_set(err, ESRCH, "no ksmd kernel thread in /proc (kernel without CONFIG_KSM?)");
}

int ksmd_parse_stat_cpu(const char *line, long ticks_per_sec, double *secs)
{
	const char *p = strrchr(line, ')');
	unsigned long long utime = 0, stime = 0;
	int field;

	if (!p || ticks_per_sec <= 0)
		return -EINVAL;
	p++;
	/* Field 3 (state) follows ") "; utime and stime are fields 14, 15. */
	for (field = 3; field <= 15; field++) {
		char *end;

		while (*p == ' ')
			p++;
		if (!*p)
			return -EINVAL;
		if (field == 14 || field == 15) {
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				return -EINVAL;
			if (field == 14)
				utime = v;
			else
				stime = v;
			p = end;
			continue;
		}
		while (*p && *p != ' ')
			p++;
	}
	*secs = (double)(utime + stime) / (double)ticks_per_sec;
	return 0;
}

int ksmd_cpu_seconds(pid_t pid, double *secs, sp_error_t *err)
{
	_cleanup_free_ char *buf = NULL;
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ret = read_file_bounded(AT_FDCWD, path, 4096, &buf, NULL, err);
	if (ret < 0)
		return ret;
	if (ksmd_parse_stat_cpu(buf, sysconf(_SC_CLK_TCK), secs) < 0)
		return sp_error_set(err, 0, "cannot parse utime/stime in `%s`", path);
	return 0;
}

int ksmd_nice_get(pid_t pid, int *nice, sp_error_t *err)
{
	int n;

	errno = 0;
	n = getpriority(PRIO_PROCESS, (id_t)pid);
	if (n == -1 && errno)
		return sp_error_set(err, errno, "getpriority of pid %d", (int)pid);
	*nice = n;
	return 0;
}

int ksmd_nice_set(pid_t pid, int nice, sp_error_t *err)
{
	if (setpriority(PRIO_PROCESS, (id_t)pid, nice) < 0)
		return sp_error_set(err, errno, "set nice %d on pid %d", nice, (int)pid);
	return 0;
}

int ksmd_read_counters(struct gov_sample *s, sp_error_t *err)
{
	static const struct {
		const char *name;
		size_t off;
	} counters[] = {
		{ "pages_shared", offsetof(struct gov_sample, pages_shared) },
		{ "pages_sharing", offsetof(struct gov_sample, pages_sharing) },
		{ "pages_unshared", offsetof(struct gov_sample, pages_unshared) },
		{ "pages_volatile", offsetof(struct gov_sample, pages_volatile) },
		{ "full_scans", offsetof(struct gov_sample, full_scans) },
	};
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		uint64_t *c = (uint64_t *)((char *)s + counters[i].off);
		int ret = ksm_knob_read_u64(counters[i].name, c, err);

		if (ret < 0)
			return ret;
	}
	s->has_pages_scanned = ksm_knob_read_u64("pages_scanned", &s->pages_scanned, NULL) == 0;
	s->smart_scan = ksm_knob_read_u64("smart_scan", &v, NULL) == 0 && v == 1;
	if (!s->has_pages_scanned)
		s->pages_scanned = 0;
	return 0;
}

static struct ksmd_gov_change *undo_find(struct ksmd_gov_undo *u, const char *name)
{
	size_t i;

	for (i = 0; i < u->n; i++)
		if (strcmp(u->c[i].name, name) == 0)
			return &u->c[i];
	return NULL;
}

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

int ksmd_gov_note(struct ksmd_gov_undo *u, const char *name, const char *before, const char *set, bool had_record)
{
	struct ksmd_gov_change *c = undo_find(u, name);

	if (!c) {
		if (u->n >= ARRAY_SIZE(u->c))
			return -ENOSPC;
		c = &u->c[u->n++];
		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", name);
		snprintf(c->before, sizeof(c->before), "%s", before);
		c->had_record = had_record;
	}
	snprintf(c->set, sizeof(c->set), "%s", set);
	return 0;
}

int ksmd_gov_set(struct ksmd_gov_undo *u, struct sp_state *st, const char *name, const char *value, sp_error_t *err)
{
	_cleanup_free_ char *cur = NULL;
	bool had_record = record_find(st, name) != NULL;
	int ret;

	if (!undo_find(u, name)) {
		ret = ksm_knob_read(name, &cur, err);
		if (ret < 0)
			return ret;
	}
	ret = ksmd_set_knob(st, name, value, err);
	if (ret < 0)
		return ret;
	if (ksmd_gov_note(u, name, cur ? cur : "", value, had_record) < 0)
		return sp_error_set(err, ENOSPC, "governor: too many KSM knobs changed");
	return 0;
}

int ksmd_gov_restore(struct ksmd_gov_undo *u, struct sp_state *st, sp_error_t *err)
{
	int written = 0, first_err = 0;
	size_t i;

	for (i = u->n; i-- > 0;) {
		struct ksmd_gov_change *c = &u->c[i];
		struct sp_knob_change *rec = record_find(st, c->name);
		_cleanup_free_ char *cur = NULL;
		bool ours;
		int ret;

		ret = ksm_knob_read(c->name, &cur, err);
		if (ret < 0) {
			if (!first_err)
				first_err = ret;
			continue;
		}
		ours = strcmp(cur, c->set) == 0;
		if (ours && strcmp(cur, c->before) != 0) {
			ret = ksm_knob_write(c->name, c->before, err);
			if (ret < 0) {
				if (!first_err)
					first_err = ret;
				continue;
			}
			written++;
		}
		if (!rec)
			continue;
		if (!ours) {
			/* Someone else's value now: whatever the record says,
			 * ksmd_release() leaves a knob alone that does not
			 * hold the recorded value. */
			continue;
		}
		if (c->had_record)
			snprintf(rec->set, sizeof(rec->set), "%s", c->before);
		else
			record_drop(st, rec);
	}
	u->n = 0;
	return first_err ? first_err : written;
}

void ksmd_gov_forget(struct ksmd_gov_undo *u)
{
	u->n = 0;
}
