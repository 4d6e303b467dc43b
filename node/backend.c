/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "node/backend.h"
#include "host/inject.h"
#include "cgroupfs/native.h"
#include "host/proc.h"
#include "host/seccomp.h"
#include "host/sample.h"

/* A workload that keeps spawning faster than we inject never ends; stop. */
#define PASSES_MAX 20

static bool under_cgroup2_root(const char *cgroup)
{
	const char *root = ksm_native_cgroup2_root();
	size_t n = root ? strlen(root) : 0;

	return root && strncmp(cgroup, root, n) == 0 && (cgroup[n] == '/' || cgroup[n] == '\0');
}

enum ksm_backend ksm_backend_choose(enum ksm_scope scope, const char *cgroup)
{
	if (scope == KSM_SCOPE_PROCESS || !ksm_native_available())
		return KSM_BACKEND_STOCK;
	if (scope == KSM_SCOPE_CGROUP && !(cgroup && under_cgroup2_root(cgroup)))
		return KSM_BACKEND_STOCK;
	return KSM_BACKEND_NATIVE;
}

enum ksm_backend ksm_backend_detect(void)
{
	return ksm_backend_choose(KSM_SCOPE_CONTAINER_INIT, NULL);
}

const char *ksm_backend_name(enum ksm_backend b)
{
	return b == KSM_BACKEND_NATIVE ? "native" : "stock";
}

static int enable_native(pid_t pid, bool on, struct ksm_enabled *out, sp_error_t *err)
{
	_cleanup_free_ char *cg = NULL;
	int ret;

	ret = ksm_native_cgroup_of_pid(pid, &cg, err);
	if (ret < 0)
		return ret;
	ret = ksm_native_enable(cg, on, err);
	if (ret < 0)
		return ret;
	out->cgroup = TAKE_PTR(cg);
	return 0;
}

int ksm_container_init_enable(pid_t pid, pid_t runtime_pid, bool on, struct ksm_enabled *out, sp_error_t *err)
{
	_cleanup_close_ int pidfd = -EBADF;
	/* exit_kill: should the hook die holding the init (its registers ours
	 * for a few hundred microseconds), the init dies too and the container
	 * fails to start, rather than running on with doctored registers. */
	static const struct inject_opts init_opts = { .exit_kill = true };
	struct inject_result res;

	memset(out, 0, sizeof(*out));
	out->backend = ksm_backend_choose(KSM_SCOPE_CONTAINER_INIT, NULL);
	pidfd = proc_confirm_container_init(pid, runtime_pid, &out->start_time, err);
	if (pidfd < 0)
		return pidfd;
	if (out->backend == KSM_BACKEND_NATIVE)
		return enable_native(pid, on, out, err);
	return inject_prctl_memory_merge_opts(pidfd, pid, on, &init_opts, &res, err);
}

int ksm_target_pids(const struct ksm_target *t, struct pid_list *l, sp_error_t *err)
{
	int ret;

	l->n = 0;
	if (t->cgroup) {
		ret = cgroup_procs_read(t->cgroup, true, l, err);
		if (ret < 0)
			return ret;
	} else if (pid_list_add(l, t->pid) < 0) {
		return sp_error_set(err, ENOMEM, "pid %d", (int)t->pid);
	}
	pid_list_sort_unique(l);
	return 0;
}

void ksm_switched_free(struct ksm_switched *s)
{
	size_t i;

	for (i = 0; i < s->n_notes; i++)
		free(s->notes[i]);
	free(s->notes);
	s->notes = NULL;
	s->n_notes = 0;
}

/* The processes a stock switch has looked at: each once per start time. */
struct seen {
	pid_t pid;
	unsigned long long start_time;
};

struct stock_pass {
	bool on;
	struct ksm_switched *out;
	struct seen *seen;
	size_t n_seen, cap_seen;
};

static bool seen_has(const struct stock_pass *sp, pid_t pid, unsigned long long start)
{
	size_t i;

	for (i = 0; i < sp->n_seen; i++)
		if (sp->seen[i].pid == pid && sp->seen[i].start_time == start)
			return true;
	return false;
}

static int seen_add(struct stock_pass *sp, pid_t pid, unsigned long long start)
{
	if (sp->n_seen == sp->cap_seen) {
		size_t ncap = sp->cap_seen ? sp->cap_seen * 2 : 64;
		struct seen *n = realloc(sp->seen, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		sp->seen = n;
		sp->cap_seen = ncap;
	}
	sp->seen[sp->n_seen++] = (struct seen){ pid, start };
	return 0;
}

/* "skipped pid 12 (sh): why"; a note lost to ENOMEM still counts. */
static void note_pid(struct ksm_switched *out, const char *what, const struct proc_info *pi, const char *why)
{
	char **n = realloc(out->notes, (out->n_notes + 1) * sizeof(*n));
	char *line;

	if (!n)
		return;
	out->notes = n;
	if (asprintf(&line, "%s pid %d (%s): %s", what, (int)pi->pid, pi->comm, why) >= 0)
		out->notes[out->n_notes++] = line;
}

/* Would the process's seccomp filter let the prctl through?  1 yes, 0 no
 * (noted), -ESRCH gone.  The injection module seizes and detaches on its
 * own with no step between for us, so the check attaches briefly by itself
 * (only for processes in seccomp filter mode). */
static int seccomp_allows(struct stock_pass *sp, const struct proc_info *pi)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_error_ sp_error_t e = NULL;
	int ret;

	ret = seccomp_check_prctl_merge(pi->pid, sp->on, &why, &e);
	if (ret == -ESRCH)
		return ret;
	if (ret <= 0)
		note_pid(sp->out, "skipped", pi, ret < 0 ? sp_error_msg(e) : why);
	return ret < 0 ? 0 : ret;
}

/*
 * One process.  Returns 1 when it was changed, 0 when there was nothing to
 * do or it went away, -1 skipped, -2 failed (both noted).
 */
static int switch_process(struct stock_pass *sp, pid_t pid)
{
	_cleanup_close_ int pidfd = -EBADF;
	_cleanup_error_ sp_error_t e = NULL;
	struct ksm_proc_sample s;
	struct proc_info pi, again;
	struct inject_result res;
	int ret;

	if (proc_info_read(pid, &pi, NULL) < 0 || pi.state == 'Z' || pi.state == 'X')
		return 0;
	if (seen_has(sp, pid, pi.start_time))
		return 0;
	if (seen_add(sp, pid, pi.start_time) < 0)
		return -2;
	if (ksm_proc_sample_read(pid, &s, NULL) < 0)
		return 0; /* gone, or no mm (kernel thread) */
	if (s.merge_any == (sp->on ? 1 : 0)) {
		sp->out->already++;
		return 0;
	}
	ret = seccomp_allows(sp, &pi);
	if (ret <= 0)
		return ret == -ESRCH ? 0 : -1;

	pidfd = pidfd_open_pid(pid, NULL);
	if (pidfd < 0)
		return 0;
	/* The pidfd pins a process; make sure it is the one we checked. */
	if (proc_info_read(pid, &again, NULL) < 0 || again.start_time != pi.start_time)
		return 0;
	ret = inject_prctl_memory_merge(pidfd, pid, sp->on, &res, &e);
	if (ret == -ESRCH || (ret < 0 && !pidfd_alive(pidfd)))
		return 0;
	if (ret < 0) {
		note_pid(sp->out, "failed on", &pi, sp_error_msg(e));
		return -2;
	}
	return 1;
}

/* Stock: inject pass after pass until a pass changes nothing. */
static int stock_passes(const struct ksm_target *t, struct stock_pass *sp, sp_error_t *err)
{
	_cleanup_(pid_list_free) struct pid_list l = { 0 };
	struct ksm_switched *out = sp->out;
	size_t i, changed;
	int ret;

	do {
		if (out->passes == PASSES_MAX)
			return sp_error_set(err, EAGAIN, "still finds new processes after %d passes; giving up",
					    PASSES_MAX);
		ret = ksm_target_pids(t, &l, err);
		if (ret < 0)
			return ret;
		out->passes++;
		changed = 0;
		for (i = 0; i < l.n; i++) {
			ret = switch_process(sp, l.pids[i]);
			if (ret == 1)
				changed++;
			else if (ret == -1)
				out->skipped++;
			else if (ret == -2)
				out->failed++;
		}
		out->changed += changed;
	} while (changed > 0);
	return 0;
}

int ksm_target_switch(const struct ksm_target *t, bool on, struct ksm_switched *out, sp_error_t *err)
{
	struct stock_pass sp = { .on = on, .out = out };
	int ret;

	memset(out, 0, sizeof(*out));
	out->backend = ksm_backend_choose(t->cgroup ? KSM_SCOPE_CGROUP : KSM_SCOPE_PROCESS, t->cgroup);
	if (out->backend == KSM_BACKEND_NATIVE)
		return ksm_native_enable(t->cgroup, on, err);
	ret = stock_passes(t, &sp, err);
	free(sp.seen);
	return ret;
}
