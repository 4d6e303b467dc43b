/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The lineage of an `enable --pid` entry: which processes of the node are
 * what `samepage enable --pid` switched on (the rule is in node/state.h).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "host/ksm.h"
#include "host/proc.h"
#include "node/state.h"

bool sp_state_is_pid_entry(const struct sp_container *c)
{
	return strncmp(c->id, "pid:", 4) == 0;
}

void sp_proc_table_free(struct sp_proc_table *t)
{
	free(t->procs);
	memset(t, 0, sizeof(*t));
}

static bool has_ksm(pid_t pid)
{
	struct ksm_proc_stat ks;

	if (ksm_proc_stat_read(pid, &ks, NULL) < 0)
		return false;
	return ks.merge_any == 1 || ks.mergeable == 1 || ks.merging_pages > 0;
}

static int table_add(struct sp_proc_table *t, size_t *cap, const struct sp_proc_view *v)
{
	if (t->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct sp_proc_view *n = realloc(t->procs, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->procs = n;
		*cap = ncap;
	}
	t->procs[t->n++] = *v;
	return 0;
}

int sp_proc_table_read(struct sp_proc_table *t, sp_error_t *err)
{
	_cleanup_(closedirp) DIR *d = opendir("/proc");
	struct dirent *e;
	size_t cap = 0;
	long pid;

	memset(t, 0, sizeof(*t));
	if (!d)
		return sp_error_set(err, errno, "open `/proc`");
	while ((e = readdir(d))) {
		struct proc_info pi;
		struct sp_proc_view v;

		if (parse_long(e->d_name, 1, INT32_MAX, &pid) < 0 || proc_info_read((pid_t)pid, &pi, NULL) < 0)
			continue;
		if (pi.state == 'Z' || pi.state == 'X' || pi.pid == 2 || pi.ppid == 2)
			continue; /* zombies and kernel threads have no mm */
		v = (struct sp_proc_view){ pi.pid, pi.ppid, pi.sid, pi.start_time, has_ksm(pi.pid) };
		if (table_add(t, &cap, &v) < 0) {
			sp_proc_table_free(t);
			return sp_error_set(err, ENOMEM, "process table");
		}
	}
	return 0;
}

static bool recorded(const struct sp_container *c, const struct sp_proc_view *p)
{
	size_t i;

	for (i = 0; i < c->n_members; i++)
		if (c->members[i].pid == p->pid && c->members[i].start_time == p->start_time)
			return true;
	return false;
}

/* Rules 1 and 3 of node/state.h: recorded members, and the session's
 * processes with KSM while a process that existed at enable time, or a
 * recorded member, proves the session. */
static void mark_recorded_and_session(const struct sp_container *c, const struct sp_proc_table *t, bool *in)
{
	unsigned long long bound = UINT64_MAX;
	bool anchored = false;
	size_t i;

	for (i = 0; i < c->n_members; i++)
		if (c->members[i].start_time < bound)
			bound = c->members[i].start_time;
	for (i = 0; i < t->n; i++) {
		const struct sp_proc_view *p = &t->procs[i];

		in[i] = recorded(c, p);
		if (c->sid > 0 && p->sid == c->sid && (in[i] || p->start_time < c->enabled_ticks))
			anchored = true;
	}
	if (!anchored)
		return;
	for (i = 0; i < t->n; i++)
		if (t->procs[i].sid == c->sid && t->procs[i].ksm && t->procs[i].start_time >= bound)
			in[i] = true;
}

/* Rule 2: children of members, until nothing changes (a parent is always
 * older than its child, so a pass in any order finds at least one level). */
static void mark_descendants(const struct sp_proc_table *t, bool *in)
{
	bool changed = true;
	size_t i, j;

	while (changed) {
		changed = false;
		for (i = 0; i < t->n; i++) {
			if (in[i])
				continue;
			for (j = 0; j < t->n; j++) {
				if (in[j] && t->procs[j].pid == t->procs[i].ppid &&
				    t->procs[j].start_time <= t->procs[i].start_time) {
					in[i] = changed = true;
					break;
				}
			}
		}
	}
}

static int member_cmp(const void *a, const void *b)
{
	const struct sp_member *x = a, *y = b;

	return x->start_time < y->start_time ? -1 : x->start_time > y->start_time;
}

int sp_lineage_members(const struct sp_container *c, const struct sp_proc_table *t, struct sp_member **out,
		       size_t *n_out)
{
	_cleanup_free_ bool *in = calloc(t->n ? t->n : 1, sizeof(*in));
	struct sp_member *m;
	size_t i, n = 0, k = 0, with_ksm = 0;
	int pass;

	*out = NULL;
	*n_out = 0;
	if (!in)
		return -ENOMEM;
	mark_recorded_and_session(c, t, in);
	mark_descendants(t, in);
	for (i = 0; i < t->n; i++) {
		n += in[i];
		with_ksm += in[i] && t->procs[i].ksm;
	}
	m = calloc(n ? n : 1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	/* Those with KSM first, each part by start time. */
	for (pass = 0; pass < 2; pass++) {
		size_t from = k;

		for (i = 0; i < t->n; i++)
			if (in[i] && t->procs[i].ksm == (pass == 0))
				m[k++] = (struct sp_member){ t->procs[i].pid, t->procs[i].start_time };
		qsort(m + from, k - from, sizeof(*m), member_cmp);
	}
	*out = m;
	*n_out = n;
	return (int)with_ksm;
}

/* Now, in the units of /proc/<pid>/stat's start time. */
static unsigned long long ticks_now(void)
{
	struct timespec ts;
	long hz = sysconf(_SC_CLK_TCK);

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (unsigned long long)ts.tv_sec * (unsigned long long)hz +
	       (unsigned long long)ts.tv_nsec / (1000000000ULL / (unsigned long long)hz);
}

int sp_lineage_start(struct sp_container *c, sp_error_t *err)
{
	struct proc_info pi;
	int ret;

	ret = proc_info_read(c->pid, &pi, err);
	if (ret < 0)
		return ret;
	free(c->members);
	c->members = malloc(sizeof(*c->members));
	if (!c->members)
		return sp_error_set(err, ENOMEM, "pid %d", (int)c->pid);
	c->members[0] = (struct sp_member){ c->pid, c->start_time };
	c->n_members = 1;
	c->sid = pi.sid;
	c->enabled_ticks = ticks_now();
	return 0;
}

int sp_lineage_pids(const struct sp_container *c, struct pid_list *l, sp_error_t *err)
{
	_cleanup_(sp_proc_table_free) struct sp_proc_table t = { 0 };
	_cleanup_free_ struct sp_member *m = NULL;
	size_t n = 0, i;
	int ret;

	ret = sp_proc_table_read(&t, err);
	if (ret < 0)
		return ret;
	ret = sp_lineage_members(c, &t, &m, &n);
	if (ret < 0)
		return sp_error_set(err, ENOMEM, "processes of `%s`", c->id);
	for (i = 0; i < n; i++)
		if (pid_list_add(l, m[i].pid) < 0)
			return sp_error_set(err, ENOMEM, "processes of `%s`", c->id);
	pid_list_sort_unique(l);
	return ret;
}
