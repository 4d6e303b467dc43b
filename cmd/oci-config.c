/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage oci-config [OPTION]... [CONFIG_JSON | BUNDLE]: wire samepage-hook into an
 * OCI bundle's config.json for runtimes used without a manager (plain runc
 * or crun), where no hooks.d directory is read.
 *
 * The edit is idempotent: every hook entry whose program is samepage-hook is
 * dropped from the stages samepage uses, then one createRuntime and one
 * poststop entry are appended.  Running it twice gives the same file, and a
 * changed --hook or --state-dir replaces the old entries instead of adding
 * a second hook.  Everything else in the file is kept as it was.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "base/fileio.h"
#include "oci/bundle.h"
#include "node/hookpath.h"
#include "cmd/verbs.h"

struct oci_config_opts {
	struct oci_bundle_hook hook;
	const char *file;
	bool to_stdout;
	bool remove;
	bool seccomp;          /* also deny self-opt-in (linux.seccomp) */
	bool no_hook;          /* leave the hooks alone (only with --seccomp) */
	bool profile;          /* the file is a seccomp profile, not a config.json */
};

static void oci_config_usage(FILE *f)
{
	fputs("Usage: samepage oci-config [OPTION]... [CONFIG_JSON | BUNDLE]\n"
	      "Add samepage-hook (createRuntime and poststop) to an OCI bundle's config.json,\n"
	      "for runc or crun used without podman, CRI-O or containerd.  Idempotent: old\n"
	      "samepage-hook entries are replaced.  CONFIG_JSON defaults to ./config.json;\n"
	      "a BUNDLE directory means its config.json; `-` reads stdin and writes stdout.\n"
	      "The file is rewritten atomically.\n"
	      "\n"
	      "Options:\n"
	      "      --hook PATH        the hook binary (default: samepage-hook installed beside\n"
	      "                         this samepage, else " SP_HOOK_DEFAULT_PATH ")\n"
	      "      --state-dir DIR    state dir the hook uses (default: the hook's own default)\n"
	      "      --config FILE      config file the hook reads (default: the hook's own default)\n"
	      "      --timeout SECS     runtime's timeout for each hook run (default: none)\n"
	      "      --stdout           print the result instead of rewriting the file\n"
	      "      --remove           remove samepage-hook from the file instead\n"
	      "      --seccomp          also deny self-opt-in in linux.seccomp: prctl(PR_SET_MEMORY_MERGE, !0),\n"
	      "                         madvise(MADV_MERGEABLE) and io_uring_setup get EPERM (docs/seccomp.md)\n"
	      "      --no-hook          with --seccomp: leave the hooks alone (a container that must not merge)\n"
	      "      --seccomp-profile  the file is a seccomp profile (podman/CRI-O seccomp.json, a\n"
	      "                         Kubernetes Localhost profile): merge the denies into it\n"
	      "  -h, --help             show this help\n"
	      "\n"
	      "Then annotate the container: \"annotations\": {\"samepage.io/merge\": \"true\"}.\n"
	      "\n"
	      "Examples:\n"
	      "  runc spec && samepage oci-config config.json\n"
	      "  samepage oci-config --state-dir /run/samepage-test --stdout mybundle/config.json\n"
	      "  samepage oci-config --remove mybundle\n"
	      "  samepage oci-config --seccomp --no-hook other-tenant-bundle\n"
	      "  samepage oci-config --seccomp-profile --stdout /usr/share/containers/seccomp.json > /etc/samepage/seccomp.json\n",
	      f);
}

static int edit_config(const struct oci_config_opts *o, sp_error_t *err)
{
	_cleanup_free_ char *in = NULL, *out = NULL;
	const char *what = strcmp(o->file, "-") == 0 ? "stdin" : o->file;
	size_t len;
	int ret;

	ret = oci_bundle_read(o->file, &in, &len, err);
	if (ret < 0)
		return ret;
	if (o->profile) {
		ret = oci_seccomp_profile_edit(in, len, what, &out, err);
	} else if (o->no_hook) {
		ret = oci_bundle_edit_seccomp(in, len, what, &out, err);
	} else {
		ret = oci_bundle_edit(in, len, what, o->remove ? NULL : &o->hook, &out, err);
		if (ret == 0 && o->seccomp) {
			_cleanup_free_ char *hooked = TAKE_PTR(out);

			ret = oci_bundle_edit_seccomp(hooked, strlen(hooked), what, &out, err);
		}
	}
	if (ret < 0)
		return ret;
	if (strcmp(o->file, "-") == 0 || o->to_stdout) {
		if (fputs(out, stdout) == EOF || fflush(stdout) != 0)
			return sp_error_set(err, errno, "write stdout");
		return 0;
	}
	return oci_bundle_write(o->file, out, err);
}

/* The runtime runs the hook from the bundle directory by absolute path
 * (runtime-spec), so relative paths would mean something else. */
static bool absolute_or_unset(const char *opt, const char *v)
{
	if (!v || v[0] == '/')
		return true;
	sp_cli_error("oci-config: %s must be an absolute path, got `%s`", opt, v);
	return false;
}

int verb_oci_config(int argc, char **argv, const struct sp_global_opts *g)
{
	enum { OPT_HOOK = 0x100, OPT_STATE_DIR, OPT_CONFIG, OPT_TIMEOUT, OPT_STDOUT, OPT_REMOVE, OPT_SECCOMP,
	       OPT_NO_HOOK, OPT_PROFILE };
	static const struct option longopts[] = {
		{ "hook", required_argument, NULL, OPT_HOOK },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "stdout", no_argument, NULL, OPT_STDOUT },
		{ "remove", no_argument, NULL, OPT_REMOVE },
		{ "seccomp", no_argument, NULL, OPT_SECCOMP },
		{ "no-hook", no_argument, NULL, OPT_NO_HOOK },
		{ "seccomp-profile", no_argument, NULL, OPT_PROFILE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct oci_config_opts o = {
		.hook = { .state_dir = g->state_dir, .config = g->config },
		.file = "config.json",
	};
	_cleanup_free_ char *hook = NULL, *bundle_config = NULL;
	_cleanup_error_ sp_error_t err = NULL;
	long l;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HOOK:
			o.hook.path = optarg;
			break;
		case OPT_STATE_DIR:
			o.hook.state_dir = optarg;
			break;
		case OPT_CONFIG:
			o.hook.config = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_long(optarg, 1, 3600, &l) < 0) {
				sp_cli_error("oci-config: --timeout: want 1-3600 seconds, got `%s`", optarg);
				return 2;
			}
			o.hook.timeout = (int)l;
			break;
		case OPT_STDOUT:
			o.to_stdout = true;
			break;
		case OPT_REMOVE:
			o.remove = true;
			break;
		case OPT_SECCOMP:
			o.seccomp = true;
			break;
		case OPT_NO_HOOK:
			o.no_hook = true;
			break;
		case OPT_PROFILE:
			o.profile = true;
			break;
		case 'h':
			oci_config_usage(stdout);
			return 0;
		default:
			oci_config_usage(stderr);
			return 2;
		}
	}
	if (argc - optind > 1) {
		sp_cli_error("oci-config: one CONFIG_JSON at most");
		return 2;
	}
	if ((o.no_hook && !o.seccomp) || (o.profile && (o.seccomp || o.remove)) || (o.no_hook && o.remove)) {
		sp_cli_error("oci-config: --no-hook goes with --seccomp; --seccomp-profile and --remove stand alone");
		return 2;
	}
	if (optind < argc)
		o.file = argv[optind];
	if (oci_bundle_config_path(o.file, &bundle_config, &err) < 0) {
		sp_cli_error("oci-config: %s", sp_error_msg(err));
		return 1;
	}
	o.file = bundle_config;
	if (!absolute_or_unset("--hook", o.hook.path) || !absolute_or_unset("--state-dir", o.hook.state_dir) ||
	    !absolute_or_unset("--config", o.hook.config))
		return 2;
	if (!o.hook.path) {
		/* Installed nowhere yet: the package's path, for a bundle
		 * written before the package is installed. */
		hook = sp_hook_find();
		o.hook.path = hook ? hook : SP_HOOK_DEFAULT_PATH;
	}
	if (edit_config(&o, &err) < 0) {
		sp_cli_error("oci-config: %s", sp_error_msg(err));
		return 1;
	}
	return 0;
}
