/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage enable|disable (--cgroup PATH | --pid PID) [--domain D]: switch
 * KSM for a workload that is already running.  Options and output only; the
 * admission layer (node/admit.h) does the work, the same one the hook uses
 * for a container, so the domain policy treats an enabled cgroup or pid
 * (recorded as `cgroup:<path>` or `pid:<pid>`) like a container.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "cgroupfs/cgroup.h"
#include "node/admit.h"
#include "node/config.h"
#include "node/domain.h"
#include "node/confine-policy.h"
#include "node/policy.h"
#include "cmd/verbs.h"

struct enable_opts {
	bool on;
	const char *verb;
	struct sp_workload w;
	char *cgroup;       /* canonical path, malloc'd */
	char *domain;       /* full form (node/domain.h), malloc'd */
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
		"  -d, --domain D      security domain local/D, or D when given in full form\n"
		"                      (k8s/NS[/NAME], group/G[/NAME]); default `" SP_DEFAULT_DOMAIN "`; enable only\n"
		"  -h, --help          show this help\n"
		"\nExamples:\n"
		"  samepage enable --cgroup /sys/fs/cgroup/pids/web-1 --domain team-a      # local/team-a\n"
		"  samepage enable --cgroup /sys/fs/cgroup/kubepods/pod1 --domain k8s/team-a\n"
		"  samepage disable --cgroup /sys/fs/cgroup/pids/web-1\n"
		"  samepage enable --pid 4121\n",
		verb, strcmp(verb, "enable") == 0 ? "on" : "off (and unmerge its pages)");
}

static int parse_target(struct enable_opts *o, const char *cgroup, long pid)
{
	if (cgroup) {
		o->cgroup = realpath(cgroup, NULL);
		if (!o->cgroup || !cgroup_path_valid(o->cgroup)) {
			sp_cli_error("%s: `%s` is not a cgroup directory", o->verb, cgroup);
			return 1;
		}
		o->w.scope = KSM_SCOPE_CGROUP;
		o->w.cgroup = o->cgroup;
	} else {
		o->w.scope = KSM_SCOPE_PROCESS;
		o->w.pid = (pid_t)pid;
	}
	return -1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_opts(int argc, char **argv, struct enable_opts *o)
{
	static const struct option longopts[] = {
		{ "cgroup", required_argument, NULL, 'g' },
		{ "pid", required_argument, NULL, 'p' },
		{ "domain", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_error_ sp_error_t err = NULL;
	const char *cgroup = NULL;
	long pid = 0;
	int c, ret;

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
			/* The admin names the domain: local/D, or any full form. */
			free(o->domain);
			ret = sp_domain_from_option(optarg, &o->domain, &err);
			if (ret < 0) {
				sp_cli_error("%s: --domain: %s", o->verb, sp_error_msg(err));
				return ret == -ENOMEM ? 1 : 2;
			}
			o->w.domain = o->domain;
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
	return parse_target(o, cgroup, pid);
}

static int report(const struct enable_opts *o, const char *name, const struct sp_admission *a)
{
	const struct ksm_switched *sw = &a->sw;
	size_t i;

	for (i = 0; i < sw->n_notes; i++)
		fprintf(stderr, "samepage: warning: %s: %s\n", o->verb, sw->notes[i]);
	if (a->ksmd_warning)
		fprintf(stderr, "samepage: warning: %s: %s\n", o->verb, a->ksmd_warning);
	if (a->state_warning)
		fprintf(stderr, "samepage: warning: %s: node state: %s\n", o->verb, a->state_warning);
	if (!name)
		return 1;
	printf("%s: KSM %s for %s", o->verb, o->on ? "on" : "off", name);
	if (o->on)
		printf(" (domain %s)", a->domain);
	if (sw->backend == KSM_BACKEND_NATIVE) {
		printf(": wrote %d to %s/ksm.enable\n", o->on ? 1 : 0, o->cgroup);
		return 0;
	}
	printf(": %zu process%s changed, %zu already %s, %zu skipped, %zu failed, %zu pass%s\n", sw->changed,
	       sw->changed == 1 ? "" : "es", sw->already, o->on ? "on" : "off", sw->skipped, sw->failed, sw->passes,
	       sw->passes == 1 ? "" : "es");
	return sw->skipped || sw->failed ? 3 : 0;
}

int verb_enable(int argc, char **argv, const struct sp_global_opts *g)
{
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_(sp_admission_free) struct sp_admission a = { 0 };
	_cleanup_free_ char *name = NULL;
	struct enable_opts o = { .verb = argv[0], .on = strcmp(argv[0], "disable") != 0 };
	struct sp_node_paths paths = { sp_config_path(g->config), sp_state_dir(g->state_dir) };
	int ret;

	ret = parse_opts(argc, argv, &o);
	if (ret >= 0)
		goto out;
	if (confine_apply(&sp_policy_enable, &err) < 0) {
		fprintf(stderr, "samepage: warning: %s: %s\n", o.verb, sp_error_msg(err));
		sp_error_free(&err);
	}
	name = sp_workload_name(&o.w);
	if (!name) {
		sp_cli_error("%s: out of memory", o.verb);
		ret = 1;
		goto out;
	}
	if (o.on)
		ret = sp_admit(&paths, &o.w, &a, &err);
	else
		ret = sp_forget(&paths, &o.w, &a, &err);
	if (ret < 0) {
		sp_error_wrap(&err, "%s", name);
		report(&o, NULL, &a);
		sp_cli_error("%s: %s", o.verb, sp_error_msg(err));
		ret = 1;
	} else {
		ret = report(&o, name, &a);
	}
out:
	free(o.cgroup);
	free(o.domain);
	return ret;
}
