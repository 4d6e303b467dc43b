/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage-hook: the OCI hook.  Runs at createRuntime or prestart (the
 * container's init exists, is in its namespaces and cgroups, and has not yet
 * exec'd the entrypoint) and at poststop.  Reads the OCI state on stdin.
 *
 * Every container start pays for this program, so the path for a container
 * that does not ask for KSM is: read stdin, parse, look at one annotation,
 * exit.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "node/config.h"
#include "base/fileio.h"
#include "node/policy.h"
#include "node/state.h"
#include "oci/oci.h"
#include "node/backend.h"
#include "node/ksmd.h"
#include "host/proc.h"

enum hook_stage {
	STAGE_CREATE,   /* createRuntime or prestart */
	STAGE_POSTSTOP,
};

struct hook_opts {
	enum hook_stage stage;
	const char *stage_name;
	const char *config;
	const char *state_dir;
};

/* Runtimes differ in what they do with a hook's stderr (runc shows it only
 * when the hook fails, crun discards it unless run.oci.hooks.stderr is set),
 * so problems also go to syslog. */
static void report(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int priority, const char *fmt, ...)
{
	va_list ap;

	fputs("samepage-hook: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);

	openlog("samepage-hook", LOG_PID, LOG_DAEMON);
	va_start(ap, fmt);
	vsyslog(priority, fmt, ap);
	va_end(ap);
	closelog();
}

static void usage(FILE *f)
{
	fputs("Usage: samepage-hook [OPTION]... STAGE\n"
	      "OCI hook that turns on KSM memory deduplication for containers annotated\n"
	      "samepage.io/merge=true.  Reads the OCI state JSON on stdin.\n"
	      "\n"
	      "Stages:\n"
	      "  createRuntime, prestart   enable KSM for the container's init process\n"
	      "  poststop                  forget the container; restore ksmd when it was the last\n"
	      "\n"
	      "Annotations:\n"
	      "  samepage.io/merge=true|false     ask for KSM (default false)\n"
	      "  samepage.io/domain=NAME          security domain (default: the Kubernetes namespace, else `default`)\n"
	      "  samepage.io/required=true|false  fail the container when KSM cannot be enabled\n"
	      "\n"
	      "Options:\n"
	      "  -c, --config FILE     config file (env SAMEPAGE_CONFIG, default " SP_DEFAULT_CONFIG ")\n"
	      "  -s, --state-dir DIR   node state (env SAMEPAGE_STATE_DIR, default " SP_DEFAULT_STATE_DIR ")\n"
	      "  -h, --help            show this help\n"
	      "  -V, --version         show the version\n"
	      "\n"
	      "Example (config.json of a runc bundle):\n"
	      "  \"hooks\": {\"createRuntime\": [{\"path\": \"/usr/libexec/samepage/samepage-hook\",\n"
	      "              \"args\": [\"samepage-hook\", \"createRuntime\"]}], ...}\n",
	      f);
}

static int parse_args(int argc, char **argv, struct hook_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "+c:s:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 's':
			o->state_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("samepage-hook %s\n", SAMEPAGE_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "samepage-hook: %s\n", optind >= argc ? "missing STAGE" : "too many arguments");
		usage(stderr);
		return -EINVAL;
	}
	o->stage_name = argv[optind];
	if (strcmp(o->stage_name, "createRuntime") == 0 || strcmp(o->stage_name, "prestart") == 0) {
		o->stage = STAGE_CREATE;
	} else if (strcmp(o->stage_name, "poststop") == 0) {
		o->stage = STAGE_POSTSTOP;
	} else {
		fprintf(stderr,
			"samepage-hook: unsupported stage `%s` (want createRuntime, prestart or poststop)\n",
			o->stage_name);
		return -EINVAL;
	}
	o->config = sp_config_path(o->config);
	o->state_dir = sp_state_dir(o->state_dir);
	return 0;
}

/* Record a refused container so `samepage status` can say why. */
static void record_refusal(struct sp_state *st, const struct oci_state *oci, const struct sp_request *req,
			   unsigned long long start_time, const char *reason)
{
	struct proc_info pi;

	/* The entry lives as long as the process: prune compares start times. */
	if (start_time == 0 && proc_info_read(oci->pid, &pi, NULL) == 0)
		start_time = pi.start_time;

	struct sp_container c = {
		.id = oci->id, .domain = (char *)req->domain, .pid = oci->pid, .start_time = start_time,
		.enabled = false, .reason = (char *)reason, .since = time(NULL),
	};

	sp_state_add(st, &c, NULL);
}

static int hook_create(const struct hook_opts *o, const struct oci_state *oci, const struct sp_request *req,
		       sp_error_t *err)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	struct sp_config cfg;
	struct ksm_enabled en = { 0 };
	struct sp_verdict v;
	struct sp_container *existing;
	int ret;

	ret = sp_config_load(o->config, &cfg, err);
	if (ret < 0)
		return ret;
	lock = sp_state_open(o->state_dir, &st, err);
	if (lock < 0)
		return lock;
	sp_state_prune(&st, NULL);

	/* Runtimes that run both createRuntime and prestart call us twice. */
	existing = sp_state_find(&st, oci->id);
	if (existing && existing->enabled && existing->pid == oci->pid)
		return 0;

	v = sp_policy_decide(&st, cfg.domain_policy, req->domain, oci->id);
	if (!v.allow) {
		ret = sp_verdict_error(&v, req->domain, err);
		record_refusal(&st, oci, req, 0, sp_error_msg(*err));
		sp_state_save(o->state_dir, &st, NULL);
		return ret;
	}

	ret = ksm_container_init_enable(oci->pid, getppid(), true, &en, err);
	if (ret < 0) {
		record_refusal(&st, oci, req, en.start_time, sp_error_msg(*err));
		sp_state_save(o->state_dir, &st, NULL);
		free(en.cgroup);
		return ret;
	}

	struct sp_container c = {
		.id = oci->id, .domain = (char *)req->domain, .pid = oci->pid, .start_time = en.start_time,
		.enabled = true, .backend = (char *)ksm_backend_name(en.backend), .cgroup = en.cgroup,
		.since = time(NULL),
	};
	ret = sp_state_add(&st, &c, err);
	free(en.cgroup);
	if (ret < 0)
		return ret;

	/* ksmd not running is not the container's failure: it is enabled,
	 * and whoever runs ksmd decides when pages merge. */
	sp_error_t kerr = NULL;
	if (ksmd_take(&st, &cfg, &kerr) < 0)
		report(LOG_WARNING, "warning: container %s: %s", oci->id, sp_error_msg(kerr));
	sp_error_free(&kerr);

	return sp_state_save(o->state_dir, &st, err);
}

static int hook_poststop(const struct hook_opts *o, const struct oci_state *oci, sp_error_t *err)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	int ret;

	lock = sp_state_open(o->state_dir, &st, err);
	if (lock < 0)
		return lock;
	sp_state_remove(&st, oci->id);
	sp_state_prune(&st, NULL);
	if (sp_state_enabled_count(&st) == 0 && st.ksmd_managed) {
		ret = ksmd_release(&st, err);
		if (ret < 0) {
			sp_state_save(o->state_dir, &st, NULL);
			return ret;
		}
	}
	return sp_state_save(o->state_dir, &st, err);
}

int main(int argc, char **argv)
{
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_free_ char *input = NULL;
	struct hook_opts o = { 0 };
	struct oci_state oci;
	struct sp_request req;
	size_t len = 0;
	int ret;

	if (parse_args(argc, argv, &o) < 0)
		return 2;

	ret = read_fd_bounded(STDIN_FILENO, OCI_STATE_MAX, "OCI state on stdin", &input, &len, &err);
	if (ret == 0)
		ret = oci_state_parse(input, len, o.stage == STAGE_CREATE, &oci, &err);
	if (ret < 0) {
		report(LOG_ERR, "error: %s: %s", o.stage_name, sp_error_msg(err));
		return 1;
	}

	ret = oci_request_from_state(&oci, &req, &err);
	if (ret < 0) {
		report(LOG_ERR, "error: container %s: %s", oci.id, sp_error_msg(err));
		oci_state_free(&oci);
		return 1;
	}
	if (!req.merge) {
		oci_state_free(&oci);
		return 0;
	}

	if (o.stage == STAGE_CREATE)
		ret = hook_create(&o, &oci, &req, &err);
	else
		ret = hook_poststop(&o, &oci, &err);

	if (ret < 0) {
		bool fatal = o.stage == STAGE_CREATE && req.required;

		report(fatal ? LOG_ERR : LOG_WARNING, "%s: container %s: %s KSM: %s", fatal ? "error" : "warning",
		       oci.id, o.stage == STAGE_CREATE ? "cannot enable" : "cannot release", sp_error_msg(err));
		if (fatal) {
			oci_state_free(&oci);
			return 1;
		}
	}
	oci_state_free(&oci);
	return 0;
}
