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
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "cgroupfs/native.h"
#include "node/admit.h"
#include "node/config.h"
#include "node/domain.h"
#include "node/confine-policy.h"
#include "node/policy.h"
#include "oci/bundle.h"
#include "oci/oci.h"

struct hook_opts {
	bool create;            /* createRuntime or prestart; else poststop */
	const char *stage_name;
	struct sp_node_paths paths;
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
	      "  samepage.io/domain=NAME          narrow the security domain: k8s/NAMESPACE/NAME under Kubernetes\n"
	      "                                   (namespace from namespace_annotation in samepage.conf),\n"
	      "                                   else local/NAME (default local/default)\n"
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
			o->paths.config = optarg;
			break;
		case 's':
			o->paths.state_dir = optarg;
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
	o->create = strcmp(o->stage_name, "createRuntime") == 0 || strcmp(o->stage_name, "prestart") == 0;
	if (!o->create && strcmp(o->stage_name, "poststop") != 0) {
		fprintf(stderr, "samepage-hook: unsupported stage `%s` (want createRuntime, prestart or poststop)\n",
			o->stage_name);
		return -EINVAL;
	}
	o->paths.config = sp_config_path(o->paths.config);
	o->paths.state_dir = sp_state_dir(o->paths.state_dir);
	return 0;
}

/* The container's domain, from its annotations and the node's config
 * (node/domain.h); *domain malloc'd.  *bad_input: an annotation value is
 * plainly wrong, which fails the container even when KSM was optional. */
static int container_domain(const struct hook_opts *o, const struct oci_state *oci, char **domain, bool *bad_input,
			    sp_error_t *err)
{
	_cleanup_(sp_config_free) struct sp_config cfg = { 0 };
	int ret;

	ret = sp_config_load(o->paths.config, &cfg, err);
	if (ret < 0)
		return ret;
	ret = sp_domain_derive(oci->annotations, oci->n_annotations, &cfg, domain, err);
	*bad_input = ret == -EINVAL;
	return ret;
}

/* The container's init, a child of the runtime process that runs us. */
static int run_stage(const struct hook_opts *o, const struct oci_state *oci, const char *shown_id, bool *bad_input,
		     sp_error_t *err)
{
	_cleanup_(sp_admission_free) struct sp_admission a = { 0 };
	_cleanup_free_ char *domain = NULL;
	struct sp_workload w = {
		.scope = KSM_SCOPE_CONTAINER_INIT, .id = oci->id, .pid = oci->pid, .runtime_pid = getppid(),
	};
	int ret;

	if (!o->create) {
		ret = sp_forget(&o->paths, &w, &a, err);
	} else {
		ret = container_domain(o, oci, &domain, bad_input, err);
		if (ret < 0)
			return ret;
		w.domain = domain;
		ret = sp_admit(&o->paths, &w, &a, err);
	}
	if (a.state_warning)
		report(LOG_WARNING, "warning: container %s: node state: %s", shown_id, a.state_warning);
	if (a.ksmd_warning)
		report(LOG_WARNING, "warning: container %s: %s", shown_id, a.ksmd_warning);
	return ret;
}

/* A container that did not ask for KSM is never refused, whatever its other
 * samepage.io annotations say or the node state holds: the containerd
 * wiring runs the hook for every container.  A malformed annotation is
 * worth a warning, nothing more. */
static int pass_unasked(const struct oci_state *oci, const char *shown_id)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct sp_request req;

	if (oci_request_from_state(oci, &req, &err) < 0)
		report(LOG_WARNING, "warning: container %s does not ask for KSM; ignored: %s", shown_id,
		       sp_error_msg(err));
	return 0;
}

/* What the hook checks of the state before it touches anything: an id it
 * can record and print, a container being created, and samepage.io/
 * annotations that are what the bundle's config.json says (crun cuts a
 * value at a NUL before the state is written: oci/bundle.h). */
static int check_target(const struct hook_opts *o, const struct oci_state *oci, sp_error_t *err)
{
	int ret = oci_id_check(oci->id, err);

	if (ret == 0 && o->create)
		ret = oci_state_check_creating(oci, err);
	if (ret == 0 && o->create)
		ret = oci_bundle_check_annotations(oci, err);
	return ret;
}

int main(int argc, char **argv)
{
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_free_ char *input = NULL, *shown_id = NULL;
	_cleanup_(oci_state_free) struct oci_state oci = { 0 };
	struct hook_opts o = { 0 };
	struct sp_request req;
	bool bad_input = false;
	size_t len = 0;
	int ret;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	/* Before any tenant input is read.  A failure warns: confinement
	 * must not refuse containers on a kernel without seccomp. */
	if (sp_confine_hook(o.create, o.create && ksm_native_available(), &err) < 0) {
		report(LOG_WARNING, "warning: %s: %s", o.stage_name, sp_error_msg(err));
		sp_error_free(&err);
	}

	ret = read_fd_bounded(STDIN_FILENO, OCI_STATE_MAX, "OCI state on stdin", &input, &len, &err);
	if (ret == 0)
		ret = oci_state_parse(input, len, o.create, &oci, &err);
	if (ret < 0) {
		report(LOG_ERR, "error: %s: %s", o.stage_name, sp_error_msg(err));
		return 1;
	}
	shown_id = oci_printable(oci.id, 128);
	if (!shown_id)
		return 1;
	if (!oci_asks_merge(&oci))
		return pass_unasked(&oci, shown_id);

	/* Plainly wrong input from a container that asked is an error; the
	 * domain is derived (and judged) only for one that asked, so the
	 * others do not pay for reading the config. */
	ret = check_target(&o, &oci, &err);
	if (ret == 0)
		ret = oci_request_from_state(&oci, &req, &err);
	if (ret < 0) {
		report(LOG_ERR, "error: container %s: %s", shown_id, sp_error_msg(err));
		return 1;
	}

	ret = run_stage(&o, &oci, shown_id, &bad_input, &err);
	if (bad_input) {
		report(LOG_ERR, "error: container %s: %s", shown_id, sp_error_msg(err));
		return 1;
	}
	if (ret < 0) {
		bool fatal = o.create && req.required;

		report(fatal ? LOG_ERR : LOG_WARNING, "%s: container %s: %s KSM: %s", fatal ? "error" : "warning",
		       shown_id, o.create ? "cannot enable" : "cannot release", sp_error_msg(err));
		return fatal ? 1 : 0;
	}
	return 0;
}
