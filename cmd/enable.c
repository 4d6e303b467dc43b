/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage enable|disable (--cgroup PATH | --pid PID) [--domain D]: switch
 * KSM for a workload that is already running.
 *
 *   --cgroup PATH  every process of the cgroup directory and its descendant
 *                  cgroups.  Native backend (PATH in the cgroup2 hierarchy of
 *                  a kernel with the ksm controller): one write to ksm.enable.
 *                  Stock kernels: prctl(PR_SET_MEMORY_MERGE) injected into
 *                  each process, pass after pass until a pass finds nothing
 *                  left to do: children forked meanwhile inherit the flag from
 *                  an enabled parent, processes that joined from outside are
 *                  caught by the next pass.
 *   --pid PID      that one process (its threads share its mm); children it
 *                  forks later inherit KSM, children it forked before do not:
 *                  use --cgroup for a whole workload.
 *
 * The workload is recorded in the node state as `cgroup:<path>` or
 * `pid:<pid>` with its domain, so the domain policy treats it like a
 * container the hook enabled; disable unmerges and forgets it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "node/config.h"
#include "base/fileio.h"
#include "node/policy.h"
#include "node/state.h"
#include "node/backend.h"
#include "cgroupfs/cgroup.h"
#include "host/inject.h"
#include "node/ksmd.h"
#include "cgroupfs/native.h"
#include "host/proc.h"
#include "host/seccomp.h"
#include "host/sample.h"
#include "cmd/verbs.h"

/* A workload that keeps spawning faster than we inject never ends; stop. */
#define PASSES_MAX 20
#define DEFAULT_DOMAIN "default"

struct enable_opts {
	bool on;
	const char *verb;
	char *cgroup;       /* canonical path, malloc'd */
	pid_t pid;
	const char *domain;
	char id[PATH_MAX + 16];
};

struct seen {
	pid_t pid;
	unsigned long long start_time;
};

struct pass_result {
	bool native;        /* ksm.enable was written; the kernel did the rest */
	size_t changed, already, skipped, failed, passes;
	struct seen *seen;
	size_t n_seen, cap_seen;
};

static void enable_usage(FILE *f, const char *verb)
{
	fprintf(f,
		"Usage: samepage %s (--cgroup PATH | --pid PID) [--domain D]\n"
		"Switch KSM %s for a running workload.  --cgroup: every process of the cgroup\n"
		"directory and its descendants (a container's cgroup); --pid: that process only\n"
		"(children it forks later inherit KSM).  Processes whose seccomp filter would not\n"
		"allow prctl(PR_SET_MEMORY_MERGE) are skipped with a message.\n"
		"Exit status: 0 done, 1 error or refused by the domain policy, 2 usage,\n"
		"3 done but some processes were skipped or failed.\n"
		"\nOptions:\n"
		"  -g, --cgroup PATH   a cgroup directory, e.g. /sys/fs/cgroup/pids/mycontainer\n"
		"  -p, --pid PID       one process\n"
		"  -d, --domain D      security domain (default `" DEFAULT_DOMAIN "`; enable only)\n"
		"  -h, --help          show this help\n"
		"\nExamples:\n"
		"  samepage enable --cgroup /sys/fs/cgroup/pids/web-1 --domain team-a\n"
		"  samepage disable --cgroup /sys/fs/cgroup/pids/web-1\n"
		"  samepage enable --pid 4121\n",
		verb, strcmp(verb, "enable") == 0 ? "on" : "off (and unmerge its pages)");
}

static bool seen_has(const struct pass_result *pr, pid_t pid, unsigned long long start)
{
	size_t i;

	for (i = 0; i < pr->n_seen; i++)
		if (pr->seen[i].pid == pid && pr->seen[i].start_time == start)
			return true;
	return false;
}

static int seen_add(struct pass_result *pr, pid_t pid, unsigned long long start)
{
	if (pr->n_seen == pr->cap_seen) {
		size_t ncap = pr->cap_seen ? pr->cap_seen * 2 : 64;
		struct seen *n = realloc(pr->seen, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		pr->seen = n;
		pr->cap_seen = ncap;
	}
	pr->seen[pr->n_seen++] = (struct seen){ pid, start };
	return 0;
}

static void warn_pid(const struct enable_opts *o, const char *what, const struct proc_info *pi, const char *why)
{
	fprintf(stderr, "samepage: warning: %s: %s pid %d (%s): %s\n", o->verb, what, (int)pi->pid, pi->comm, why);
}

/*
 * One process.  Returns 1 when it was changed, 0 when there was nothing to
 * do or it went away, -1 skipped, -2 failed (both with a message).
 */
static int act_on_process(const struct enable_opts *o, pid_t pid, struct pass_result *pr)
{
	_cleanup_close_ int pidfd = -EBADF;
	_cleanup_free_ char *why = NULL;
	sp_error_t e = NULL;
	struct ksm_proc_sample s;
	struct proc_info pi, again;
	struct inject_result res;
	int ret;

	if (proc_info_read(pid, &pi, NULL) < 0 || pi.state == 'Z' || pi.state == 'X')
		return 0;
	if (seen_has(pr, pid, pi.start_time))
		return 0;
	if (seen_add(pr, pid, pi.start_time) < 0)
		return -2;
	if (ksm_proc_sample_read(pid, &s, NULL) < 0)
		return 0; /* gone, or no mm (kernel thread) */
	if (s.merge_any == (o->on ? 1 : 0)) {
		pr->already++;
		return 0;
	}

	/* The injection module seizes and detaches on its own and has no step
	 * between the two for us, so the seccomp check attaches briefly by
	 * itself (only for processes in seccomp filter mode). */
	ret = seccomp_check_prctl_merge(pid, o->on, &why, &e);
	if (ret == -ESRCH) {
		sp_error_free(&e);
		return 0;
	}
	if (ret < 0) {
		warn_pid(o, "skipped", &pi, sp_error_msg(e));
		sp_error_free(&e);
		return -1;
	}
	if (ret == 0) {
		warn_pid(o, "skipped", &pi, why);
		return -1;
	}

	pidfd = pidfd_open_pid(pid, NULL);
	if (pidfd < 0)
		return 0;
	/* The pidfd pins a process; make sure it is the one we checked. */
	if (proc_info_read(pid, &again, NULL) < 0 || again.start_time != pi.start_time)
		return 0;
	ret = inject_prctl_memory_merge(pidfd, pid, o->on, &res, &e);
	if (ret == -ESRCH || (ret < 0 && !pidfd_alive(pidfd))) {
		sp_error_free(&e);
		return 0;
	}
	if (ret < 0) {
		warn_pid(o, "failed on", &pi, sp_error_msg(e));
		sp_error_free(&e);
		return -2;
	}
	return 1;
}

static int list_targets(const struct enable_opts *o, struct pid_list *l, sp_error_t *err)
{
	int ret;

	l->n = 0;
	if (o->cgroup) {
		ret = cgroup_procs_read(o->cgroup, true, l, err);
		if (ret < 0)
			return ret;
	} else if (pid_list_add(l, o->pid) < 0) {
		return sp_error_set(err, ENOMEM, "pid %d", (int)o->pid);
	}
	pid_list_sort_unique(l);
	return 0;
}

/* Stock kernels: inject pass after pass until a pass changes nothing. */
static int inject_passes(const struct enable_opts *o, struct pass_result *pr, sp_error_t *err)
{
	_cleanup_(pid_list_free) struct pid_list l = { 0 };
	size_t i, changed;
	int ret;

	do {
		if (pr->passes == PASSES_MAX)
			return sp_error_set(err, EAGAIN, "%s still finds new processes after %d passes; giving up",
					    o->id, PASSES_MAX);
		ret = list_targets(o, &l, err);
		if (ret < 0)
			return ret;
		pr->passes++;
		changed = 0;
		for (i = 0; i < l.n; i++) {
			ret = act_on_process(o, l.pids[i], pr);
			if (ret == 1)
				changed++;
			else if (ret == -1)
				pr->skipped++;
			else if (ret == -2)
				pr->failed++;
		}
		pr->changed += changed;
	} while (changed > 0);
	return 0;
}

/* Native backend for a cgroup2 directory of a kernel with the controller. */
static bool use_native(const struct enable_opts *o)
{
	const char *root;
	size_t n;

	if (!o->cgroup || !ksm_native_available())
		return false;
	root = ksm_native_cgroup2_root();
	n = root ? strlen(root) : 0;
	return root && strncmp(o->cgroup, root, n) == 0 && (o->cgroup[n] == '/' || o->cgroup[n] == '\0');
}

/* The oldest process stands for the workload in the state: when it is
 * gone, the entry is pruned like a stopped container's. */
static int representative(const struct enable_opts *o, struct proc_info *rep, sp_error_t *err)
{
	_cleanup_(pid_list_free) struct pid_list l = { 0 };
	bool found = false;
	size_t i;
	int ret;

	ret = list_targets(o, &l, err);
	if (ret < 0)
		return ret;
	for (i = 0; i < l.n; i++) {
		struct proc_info pi;

		if (proc_info_read(l.pids[i], &pi, NULL) < 0 || pi.state == 'Z')
			continue;
		if (!found || pi.start_time < rep->start_time)
			*rep = pi;
		found = true;
	}
	if (!found)
		return sp_error_set(err, ESRCH, "%s has no running process", o->id);
	return 0;
}

/* State entries the target covers: its own id, the same cgroup, or a
 * container whose recorded process is one of the target's. */
static void forget_entries(struct sp_state *st, const struct enable_opts *o)
{
	_cleanup_(pid_list_free) struct pid_list l = { 0 };
	size_t i = 0;

	if (list_targets(o, &l, NULL) < 0)
		l.n = 0;
	while (i < st->n_containers) {
		const struct sp_container *c = &st->containers[i];

		if (strcmp(c->id, o->id) == 0 || (o->cgroup && c->cgroup && strcmp(c->cgroup, o->cgroup) == 0) ||
		    pid_list_contains(&l, c->pid))
			sp_state_remove(st, c->id);
		else
			i++;
	}
}

static int run(const struct enable_opts *o, const struct sp_global_opts *g, struct pass_result *pr, sp_error_t *err)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	const char *state_dir = sp_state_dir(g->state_dir);
	struct sp_config cfg;
	struct proc_info rep = { 0 };
	bool native = use_native(o);
	int ret;

	ret = sp_config_load(sp_config_path(g->config), &cfg, err);
	if (ret < 0)
		return ret;
	/* Held throughout, so the policy decision and the record agree with
	 * what the hook sees; a pass over a thousand processes takes ~0.1 s. */
	lock = sp_state_open(state_dir, &st, err);
	if (lock < 0)
		return lock;
	sp_state_prune(&st, NULL);

	if (o->on) {
		struct sp_verdict v = sp_policy_decide(&st, cfg.domain_policy, o->domain, o->id);

		if (!v.allow) {
			sp_verdict_error(&v, o->domain, err);
			return sp_error_wrap(err, "%s", o->id);
		}
		ret = representative(o, &rep, err);
		if (ret < 0)
			return ret;
	}

	if (native) {
		ret = ksm_native_enable(o->cgroup, o->on, err);
		pr->native = true;
	} else {
		ret = inject_passes(o, pr, err);
	}
	if (ret < 0)
		return ret;

	if (o->on) {
		struct sp_container c = {
			.id = (char *)o->id, .domain = (char *)o->domain, .pid = rep.pid,
			.start_time = rep.start_time, .enabled = true,
			.backend = (char *)ksm_backend_name(native ? KSM_BACKEND_NATIVE : KSM_BACKEND_STOCK),
			.cgroup = o->cgroup, .since = time(NULL),
		};
		sp_error_t kerr = NULL;

		if (pr->changed + pr->already == 0 && !native)
			return sp_error_set(err, EPERM, "%s: no process could be enabled", o->id);
		ret = sp_state_add(&st, &c, err);
		if (ret < 0)
			return ret;
		if (ksmd_take(&st, &cfg, &kerr) < 0)
			fprintf(stderr, "samepage: warning: %s: %s\n", o->verb, sp_error_msg(kerr));
		sp_error_free(&kerr);
	} else {
		forget_entries(&st, o);
		if (sp_state_enabled_count(&st) == 0 && st.ksmd_managed) {
			ret = ksmd_release(&st, err);
			if (ret < 0) {
				sp_state_save(state_dir, &st, NULL);
				return ret;
			}
		}
	}
	return sp_state_save(state_dir, &st, err);
}

static int parse_opts(int argc, char **argv, struct enable_opts *o)
{
	static const struct option longopts[] = {
		{ "cgroup", required_argument, NULL, 'g' },
		{ "pid", required_argument, NULL, 'p' },
		{ "domain", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cgroup = NULL;
	long pid = 0;
	int c;

	while ((c = getopt_long(argc, argv, "+g:p:d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'g':
			cgroup = optarg;
			break;
		case 'p':
			if (parse_long(optarg, 1, INT_MAX, &pid) < 0) {
				sp_cli_error("%s: --pid: not a process id: `%s`", o->verb, optarg);
				return 2;
			}
			break;
		case 'd':
			o->domain = optarg;
			break;
		case 'h':
			enable_usage(stdout, o->verb);
			return 0;
		default:
			enable_usage(stderr, o->verb);
			return 2;
		}
	}
	if (optind < argc || (!cgroup) == (!pid)) {
		sp_cli_error("%s: give exactly one of --cgroup PATH and --pid PID", o->verb);
		enable_usage(stderr, o->verb);
		return 2;
	}
	if (cgroup) {
		o->cgroup = realpath(cgroup, NULL);
		if (!o->cgroup || !cgroup_path_valid(o->cgroup)) {
			sp_cli_error("%s: `%s` is not a cgroup directory", o->verb, cgroup);
			return 1;
		}
		snprintf(o->id, sizeof(o->id), "cgroup:%s", o->cgroup);
	} else {
		o->pid = (pid_t)pid;
		snprintf(o->id, sizeof(o->id), "pid:%d", o->pid);
	}
	if (!o->domain)
		o->domain = DEFAULT_DOMAIN;
	return -1;
}

static int report(const struct enable_opts *o, const struct pass_result *pr)
{
	printf("%s: KSM %s for %s", o->verb, o->on ? "on" : "off", o->id);
	if (o->on)
		printf(" (domain %s)", o->domain);
	if (pr->native) {
		printf(": wrote %d to %s/ksm.enable\n", o->on ? 1 : 0, o->cgroup);
		return 0;
	}
	printf(": %zu process%s changed, %zu already %s, %zu skipped, %zu failed, %zu pass%s\n", pr->changed,
	       pr->changed == 1 ? "" : "es", pr->already, o->on ? "on" : "off", pr->skipped, pr->failed, pr->passes,
	       pr->passes == 1 ? "" : "es");
	return pr->skipped || pr->failed ? 3 : 0;
}

int verb_enable(int argc, char **argv, const struct sp_global_opts *g)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct enable_opts o = { .verb = argv[0], .on = strcmp(argv[0], "disable") != 0 };
	struct pass_result pr = { 0 };
	int ret;

	ret = parse_opts(argc, argv, &o);
	if (ret < 0) {
		ret = run(&o, g, &pr, &err);
		if (ret < 0) {
			sp_cli_error("%s: %s", o.verb, sp_error_msg(err));
			ret = 1;
		} else {
			ret = report(&o, &pr);
		}
	}
	free(pr.seen);
	free(o.cgroup);
	return ret;
}
