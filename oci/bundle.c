/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "base/json.h"
#include "oci/bundle.h"
#include "oci/seccomp-profile.h"


/* Stages samepage-hook may have been put in (prestart by hand on runtimes
 * without createRuntime); all are cleaned, createRuntime and poststop used. */
static const char *const hook_stages[] = { "prestart", "createRuntime", "poststop" };

static bool is_samepage_hook(json_object *entry)
{
	json_object *path;
	const char *p, *base;

	if (!json_object_object_get_ex(entry, "path", &path) || !json_object_is_type(path, json_type_string))
		return false;
	p = json_object_get_string(path);
	base = strrchr(p, '/');
	return strcmp(base ? base + 1 : p, OCI_HOOK_PROGRAM) == 0;
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

static json_object *hook_entry(const struct oci_bundle_hook *o, const char *stage)
{
	json_object *e = json_object_new_object(), *args = json_object_new_array();

	json_object_array_add(args, json_object_new_string(OCI_HOOK_PROGRAM));
	if (o->state_dir) {
		json_object_array_add(args, json_object_new_string("--state-dir"));
		json_object_array_add(args, json_object_new_string(o->state_dir));
	}
	if (o->config) {
		json_object_array_add(args, json_object_new_string("--config"));
		json_object_array_add(args, json_object_new_string(o->config));
	}
	json_object_array_add(args, json_object_new_string(stage));
	json_object_object_add(e, "path", json_object_new_string(o->path));
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

static void add_samepage(json_object *hooks, const struct oci_bundle_hook *o)
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

int oci_bundle_config_path(const char *arg, char **path, sp_error_t *err)
{
	struct stat st;
	int r;

	if (strcmp(arg, "-") != 0 && stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
		r = asprintf(path, "%s/config.json", arg);
	else
		r = (*path = strdup(arg)) ? 0 : -1;
	if (r < 0)
		return sp_error_set(err, ENOMEM, "`%s`", arg);
	return 0;
}

int oci_bundle_read(const char *path, char **text, size_t *len, sp_error_t *err)
{
	if (strcmp(path, "-") == 0)
		return read_fd_bounded(STDIN_FILENO, OCI_CONFIG_MAX, "stdin", text, len, err);
	return read_file_bounded(AT_FDCWD, path, OCI_CONFIG_MAX, text, len, err);
}

static int parse_checked(const char *text, size_t len, const char *what, json_object **root, sp_error_t *err)
{
	if (strnlen(text, len) != len)
		return sp_error_set(err, 0, "%s: not valid JSON: contains a NUL byte", what);
	return sp_json_parse(text, len, what, root, err);
}

/* A config.json's text, parsed and checked (validate()). */
static int parse_config(const char *text, size_t len, const char *what, json_object **root, sp_error_t *err)
{
	int ret = parse_checked(text, len, what, root, err);

	return ret < 0 ? ret : validate(*root, what, err);
}

static int format(json_object *root, const char *what, char **out, sp_error_t *err)
{
	if (asprintf(out, "%s\n",
		     json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
								  JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		return sp_error_set(err, ENOMEM, "%s: format", what);
	return 0;
}

int oci_bundle_edit(const char *text, size_t len, const char *what, const struct oci_bundle_hook *hook, char **out,
		    sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	json_object *hooks;
	int ret;

	ret = parse_config(text, len, what, &root, err);
	if (ret < 0)
		return ret;

	if (!json_object_object_get_ex(root, "hooks", &hooks)) {
		hooks = json_object_new_object();
		json_object_object_add(root, "hooks", hooks);
	}
	remove_samepage(hooks);
	if (hook)
		add_samepage(hooks, hook);
	if (json_object_object_length(hooks) == 0)
		json_object_object_del(root, "hooks");

	return format(root, what, out, err);
}

int oci_bundle_edit_seccomp(const char *text, size_t len, const char *what, char **out, sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	json_object *linux_, *seccomp;
	int ret;

	ret = parse_config(text, len, what, &root, err);
	if (ret < 0)
		return ret;
	if (!json_object_object_get_ex(root, "linux", &linux_)) {
		linux_ = json_object_new_object();
		json_object_object_add(root, "linux", linux_);
	}
	if (!json_object_is_type(linux_, json_type_object))
		return sp_error_set(err, 0, "%s: `linux` must be an object", what);
	if (!json_object_object_get_ex(linux_, "seccomp", &seccomp) || !seccomp) {
		seccomp = oci_seccomp_fragment();
		if (!seccomp)
			return sp_error_set(err, ENOMEM, "%s", what);
		json_object_object_add(linux_, "seccomp", seccomp);
	} else {
		ret = oci_seccomp_deny_ksm(seccomp, what, err);
		if (ret < 0)
			return ret;
	}
	return format(root, what, out, err);
}

int oci_seccomp_profile_edit(const char *text, size_t len, const char *what, char **out, sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	int ret;

	ret = parse_checked(text, len, what, &root, err);
	if (ret < 0)
		return ret;
	ret = oci_seccomp_deny_ksm(root, what, err);
	if (ret < 0)
		return ret;
	return format(root, what, out, err);
}

int oci_bundle_write(const char *path, const char *text, sp_error_t *err)
{
	unsigned int mode = 0644;
	struct stat st;

	if (stat(path, &st) == 0)
		mode = st.st_mode & 07777;
	return write_file_atomic(path, text, strlen(text), mode, err);
}

#define SP_ANNOTATION_PREFIX "samepage.io/"

static bool is_samepage_key(const char *key)
{
	return strncmp(key, SP_ANNOTATION_PREFIX, strlen(SP_ANNOTATION_PREFIX)) == 0;
}

static const struct sp_annotation *state_annotation(const struct oci_state *st, const char *key)
{
	size_t i;

	for (i = 0; i < st->n_annotations; i++)
		if (strcmp(st->annotations[i].key, key) == 0)
			return &st->annotations[i];
	return NULL;
}

/* One samepage.io/ annotation of config.json against the state's. */
static int match_one(const char *key, json_object *val, const char *what, const struct oci_state *st,
		     sp_error_t *err)
{
	const struct sp_annotation *a = state_annotation(st, key);
	size_t len;

	if (!json_object_is_type(val, json_type_string))
		return sp_error_setx(err, EINVAL, "annotation `%s` in `%s` is not a string", key, what);
	len = (size_t)json_object_get_string_len(val);
	if (strnlen(json_object_get_string(val), len) != len)
		return sp_error_setx(err, EINVAL, "annotation `%s`: value contains a NUL byte (in `%s`)", key, what);
	if (!a)
		return sp_error_setx(err, EINVAL, "annotation `%s` is in `%s` but not in the runtime's state", key,
				    what);
	if (a->value_len != len || memcmp(a->value, json_object_get_string(val), len) != 0)
		return sp_error_setx(err, EINVAL, "annotation `%s`: the runtime's state differs from `%s`", key, what);
	return 0;
}

int oci_bundle_annotations_match(const char *text, size_t len, const char *what, const struct oci_state *st,
				 sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	json_object *anns = NULL;
	size_t i;
	int ret;

	ret = parse_checked(text, len, what, &root, err);
	if (ret < 0)
		return ret;
	if (!json_object_is_type(root, json_type_object))
		return sp_error_setx(err, EINVAL, "`%s` is not a JSON object", what);
	if (json_object_object_get_ex(root, "annotations", &anns) && !json_object_is_type(anns, json_type_null) &&
	    !json_object_is_type(anns, json_type_object))
		return sp_error_setx(err, EINVAL, "`%s`: `annotations` is not an object", what);
	if (anns && json_object_is_type(anns, json_type_object)) {
		json_object_object_foreach(anns, key, val) {
			if (!is_samepage_key(key))
				continue;
			ret = match_one(key, val, what, st, err);
			if (ret < 0)
				return ret;
		}
	}
	for (i = 0; i < st->n_annotations; i++) {
		const char *key = st->annotations[i].key;
		json_object *v;

		if (is_samepage_key(key) && !(anns && json_object_object_get_ex(anns, key, &v)))
			return sp_error_setx(err, EINVAL, "annotation `%s` is in the runtime's state but not in `%s`",
					    key, what);
	}
	return 0;
}

/* The bundle directory: no symlink, owned by root or us, writable by no
 * one else (whoever could swap config.json could show us another text). */
static int open_bundle_dir(const char *bundle, sp_error_t *err)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat sb;

	fd = open(bundle, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sp_error_set(err, errno, "open bundle `%s`", bundle);
	if (fstat(fd, &sb) < 0)
		return sp_error_set(err, errno, "stat bundle `%s`", bundle);
	if (sb.st_uid != 0 && sb.st_uid != geteuid())
		return sp_error_setx(err, EPERM, "bundle `%s` is owned by uid %u, not by root", bundle,
				    (unsigned int)sb.st_uid);
	if (sb.st_mode & (S_IWGRP | S_IWOTH))
		return sp_error_setx(err, EPERM, "bundle `%s` is writable by group or others (mode %04o)", bundle,
				    (unsigned int)(sb.st_mode & 07777));
	return TAKE_FD(fd);
}

int oci_bundle_check_annotations(const struct oci_state *st, sp_error_t *err)
{
	_cleanup_close_ int dfd = -EBADF, fd = -EBADF;
	_cleanup_free_ char *what = NULL, *text = NULL;
	struct stat sb;
	size_t len = 0;
	int ret;

	if (!st->bundle)
		return 0;
	dfd = open_bundle_dir(st->bundle, err);
	if (dfd < 0)
		return dfd;
	if (asprintf(&what, "%s/config.json", st->bundle) < 0)
		return sp_error_set(err, ENOMEM, "bundle `%s`", st->bundle);
	fd = openat(dfd, "config.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return sp_error_set(err, errno, "open `%s`", what);
	if (fstat(fd, &sb) < 0)
		return sp_error_set(err, errno, "stat `%s`", what);
	if (!S_ISREG(sb.st_mode))
		return sp_error_setx(err, EINVAL, "`%s` is not a regular file", what);
	ret = read_fd_bounded(fd, OCI_CONFIG_MAX, what, &text, &len, err);
	if (ret < 0)
		return ret;
	return oci_bundle_annotations_match(text, len, what, st, err);
}
