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
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "base/fileio.h"
#include "cmd/verbs.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

/* A bundle's config.json is a few KiB; anything this large is not one. */
#define OCI_CONFIG_MAX (16 * 1024 * 1024)
#define HOOK_NAME "samepage-hook"
#define HOOK_DEFAULT_PATH "/usr/libexec/samepage/" HOOK_NAME

/* Stages samepage-hook may have been put in (prestart by hand on runtimes
 * without createRuntime); all are cleaned, createRuntime and poststop used. */
static const char *const hook_stages[] = { "prestart", "createRuntime", "poststop" };

struct oci_config_opts {
	const char *hook;
	const char *state_dir;
	const char *config;
	const char *file;
	int timeout;
	bool to_stdout;
	bool remove;
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
	      "                         this samepage, else " HOOK_DEFAULT_PATH ")\n"
	      "      --state-dir DIR    state dir the hook uses (default: the hook's own default)\n"
	      "      --config FILE      config file the hook reads (default: the hook's own default)\n"
	      "      --timeout SECS     runtime's timeout for each hook run (default: none)\n"
	      "      --stdout           print the result instead of rewriting the file\n"
	      "      --remove           remove samepage-hook from the file instead\n"
	      "  -h, --help             show this help\n"
	      "\n"
	      "Then annotate the container: \"annotations\": {\"samepage.io/merge\": \"true\"}.\n"
	      "\n"
	      "Examples:\n"
	      "  runc spec && samepage oci-config config.json\n"
	      "  samepage oci-config --state-dir /run/samepage-test --stdout mybundle/config.json\n"
	      "  samepage oci-config --remove mybundle\n",
	      f);
}

/* The hook next to our own installation: <prefix>/bin/samepage →
 * <prefix>/libexec/samepage/samepage-hook, or a build tree's
 * build/samepage → build/samepage-hook. */
static char *default_hook_path(void)
{
	char self[PATH_MAX], *slash;
	char *cand = NULL;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (asprintf(&cand, "%s/../libexec/samepage/" HOOK_NAME, self) >= 0) {
				char *real = realpath(cand, NULL);

				free(cand);
				if (real && access(real, X_OK) == 0)
					return real;
				free(real);
			}
			if (asprintf(&cand, "%s/" HOOK_NAME, self) >= 0) {
				if (access(cand, X_OK) == 0)
					return cand;
				free(cand);
			}
		}
	}
	return strdup(HOOK_DEFAULT_PATH);
}

static bool is_samepage_hook(json_object *entry)
{
	json_object *path;
	const char *p, *base;

	if (!json_object_object_get_ex(entry, "path", &path) || !json_object_is_type(path, json_type_string))
		return false;
	p = json_object_get_string(path);
	base = strrchr(p, '/');
	return strcmp(base ? base + 1 : p, HOOK_NAME) == 0;
}

/* The runtime spec's shape for what we touch: an object with an
 * `ociVersion`, `hooks` an object, each stage an array of objects with a
 * string `path`.  The rest is the runtime's to judge. */
static int validate(json_object *root, const char *what, sp_error_t *err)
{
	json_object *v, *hooks;
	size_t i, j;

	if (!json_object_is_type(root, json_type_object))
		return sp_error_set(err, 0, "%s: not a JSON object", what);
	if (!json_object_object_get_ex(root, "ociVersion", &v) || !json_object_is_type(v, json_type_string))
		return sp_error_set(err, 0, "%s: no `ociVersion` string: not an OCI runtime config", what);
	if (!json_object_object_get_ex(root, "hooks", &hooks))
		return 0;
	if (!json_object_is_type(hooks, json_type_object))
		return sp_error_set(err, 0, "%s: `hooks` must be an object", what);
	for (i = 0; i < ARRAY_SIZE(hook_stages); i++) {
		json_object *stage;

		if (!json_object_object_get_ex(hooks, hook_stages[i], &stage))
			continue;
		if (!json_object_is_type(stage, json_type_array))
			return sp_error_set(err, 0, "%s: `hooks.%s` must be an array", what, hook_stages[i]);
		for (j = 0; j < json_object_array_length(stage); j++) {
			json_object *e = json_object_array_get_idx(stage, j), *path;

			if (!json_object_is_type(e, json_type_object) || !json_object_object_get_ex(e, "path", &path) ||
			    !json_object_is_type(path, json_type_string))
				return sp_error_set(err, 0, "%s: `hooks.%s[%zu]` must be an object with a string `path`",
						    what, hook_stages[i], j);
		}
	}
	return 0;
}

static json_object *hook_entry(const struct oci_config_opts *o, const char *stage)
{
	json_object *e = json_object_new_object(), *args = json_object_new_array();

	json_object_array_add(args, json_object_new_string(HOOK_NAME));
	if (o->state_dir) {
		json_object_array_add(args, json_object_new_string("--state-dir"));
		json_object_array_add(args, json_object_new_string(o->state_dir));
	}
	if (o->config) {
		json_object_array_add(args, json_object_new_string("--config"));
		json_object_array_add(args, json_object_new_string(o->config));
	}
	json_object_array_add(args, json_object_new_string(stage));
	json_object_object_add(e, "path", json_object_new_string(o->hook));
	json_object_object_add(e, "args", args);
	if (o->timeout > 0)
		json_object_object_add(e, "timeout", json_object_new_int(o->timeout));
	return e;
}

/* Drop our entries from every stage; a stage left empty goes too, so that
 * --remove gives back the file as it was before we added ourselves. */
static void remove_samepage(json_object *hooks)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(hook_stages); i++) {
		json_object *stage;
		size_t j;

		if (!json_object_object_get_ex(hooks, hook_stages[i], &stage))
			continue;
		for (j = json_object_array_length(stage); j > 0; j--)
			if (is_samepage_hook(json_object_array_get_idx(stage, j - 1)))
				json_object_array_del_idx(stage, j - 1, 1);
		if (json_object_array_length(stage) == 0)
			json_object_object_del(hooks, hook_stages[i]);
	}
}

static void add_samepage(json_object *hooks, const struct oci_config_opts *o)
{
	static const char *const stages[] = { "createRuntime", "poststop" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(stages); i++) {
		json_object *stage;

		if (!json_object_object_get_ex(hooks, stages[i], &stage)) {
			stage = json_object_new_array();
			json_object_object_add(hooks, stages[i], stage);
		}
		json_object_array_add(stage, hook_entry(o, stages[i]));
	}
}

static int edit_config(const struct oci_config_opts *o, sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	_cleanup_free_ char *buf = NULL, *out = NULL;
	enum json_tokener_error jerr;
	json_object *hooks;
	bool from_stdin = strcmp(o->file, "-") == 0;
	const char *what = from_stdin ? "stdin" : o->file;
	unsigned int mode = 0644;
	struct stat st;
	size_t len;
	int ret;

	if (from_stdin)
		ret = read_fd_bounded(STDIN_FILENO, OCI_CONFIG_MAX, "stdin", &buf, &len, err);
	else
		ret = read_file_bounded(AT_FDCWD, o->file, OCI_CONFIG_MAX, &buf, &len, err);
	if (ret < 0)
		return ret;
	if (strlen(buf) != len)
		return sp_error_set(err, 0, "%s: not valid JSON: contains a NUL byte", what);
	root = json_tokener_parse_verbose(buf, &jerr);
	if (!root)
		return sp_error_set(err, 0, "%s: not valid JSON: %s", what, json_tokener_error_desc(jerr));
	ret = validate(root, what, err);
	if (ret < 0)
		return ret;

	if (!json_object_object_get_ex(root, "hooks", &hooks)) {
		hooks = json_object_new_object();
		json_object_object_add(root, "hooks", hooks);
	}
	remove_samepage(hooks);
	if (!o->remove)
		add_samepage(hooks, o);
	if (json_object_object_length(hooks) == 0)
		json_object_object_del(root, "hooks");

	if (asprintf(&out, "%s\n",
		     json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
								  JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		return sp_error_set(err, ENOMEM, "%s: format", what);
	if (from_stdin || o->to_stdout) {
		if (fputs(out, stdout) == EOF || fflush(stdout) != 0)
			return sp_error_set(err, errno, "write stdout");
		return 0;
	}
	if (stat(o->file, &st) == 0)
		mode = st.st_mode & 07777;
	return write_file_atomic(o->file, out, strlen(out), mode, err);
}

int verb_oci_config(int argc, char **argv, const struct sp_global_opts *g)
{
	enum { OPT_HOOK = 0x100, OPT_STATE_DIR, OPT_CONFIG, OPT_TIMEOUT, OPT_STDOUT, OPT_REMOVE };
	static const struct option longopts[] = {
		{ "hook", required_argument, NULL, OPT_HOOK },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "stdout", no_argument, NULL, OPT_STDOUT },
		{ "remove", no_argument, NULL, OPT_REMOVE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct oci_config_opts o = {
		.state_dir = g->state_dir,
		.config = g->config,
		.file = "config.json",
	};
	_cleanup_free_ char *hook = NULL, *bundle_config = NULL;
	sp_error_t err = NULL;
	struct stat st;
	long l;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_HOOK:
			o.hook = optarg;
			break;
		case OPT_STATE_DIR:
			o.state_dir = optarg;
			break;
		case OPT_CONFIG:
			o.config = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_long(optarg, 1, 3600, &l) < 0) {
				sp_cli_error("oci-config: --timeout: want 1-3600 seconds, got `%s`", optarg);
				return 2;
			}
			o.timeout = (int)l;
			break;
		case OPT_STDOUT:
			o.to_stdout = true;
			break;
		case OPT_REMOVE:
			o.remove = true;
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
	if (optind < argc)
		o.file = argv[optind];
	/* A bundle directory stands for its config.json. */
	if (strcmp(o.file, "-") != 0 && stat(o.file, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (asprintf(&bundle_config, "%s/config.json", o.file) < 0) {
			sp_cli_error("oci-config: out of memory");
			return 1;
		}
		o.file = bundle_config;
	}
	/* The runtime runs the hook from the bundle directory by absolute
	 * path (runtime-spec), so relative paths would mean something else. */
	if (o.hook && o.hook[0] != '/') {
		sp_cli_error("oci-config: --hook must be an absolute path, got `%s`", o.hook);
		return 2;
	}
	if (o.state_dir && o.state_dir[0] != '/') {
		sp_cli_error("oci-config: --state-dir must be an absolute path, got `%s`", o.state_dir);
		return 2;
	}
	if (o.config && o.config[0] != '/') {
		sp_cli_error("oci-config: --config must be an absolute path, got `%s`", o.config);
		return 2;
	}
	if (!o.hook) {
		hook = default_hook_path();
		if (!hook) {
			sp_cli_error("oci-config: out of memory");
			return 1;
		}
		o.hook = hook;
	}
	if (edit_config(&o, &err) < 0) {
		sp_cli_error("oci-config: %s", sp_error_msg(err));
		sp_error_free(&err);
		return 1;
	}
	return 0;
}
