/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "base/json.h"
#include "oci/runtime.h"

static int read_json(int dirfd, const char *path, const char *what, json_object **out, sp_error_t *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int ret = read_file_bounded(dirfd, path, OCI_RUNTIME_STATE_MAX, &buf, &len, err);

	if (ret < 0)
		return ret;
	return sp_json_parse(buf, len, what, out, err);
}

/* runc: labels ["k=v", ..., "bundle=/path"] -> annotations and bundle. */
static void runc_labels(json_object *state, json_object *out)
{
	json_object *config, *labels, *ann = json_object_new_object();
	size_t i;

	json_object_object_add(out, "annotations", ann);
	if (!json_object_object_get_ex(state, "config", &config) ||
	    !json_object_object_get_ex(config, "labels", &labels) || !json_object_is_type(labels, json_type_array))
		return;
	for (i = 0; i < json_object_array_length(labels); i++) {
		const char *kv = json_object_get_string(json_object_array_get_idx(labels, i));
		const char *eq = kv ? strchr(kv, '=') : NULL;
		_cleanup_free_ char *key = eq ? strndup(kv, (size_t)(eq - kv)) : NULL;

		if (!key)
			continue;
		if (strcmp(key, "bundle") == 0)
			json_object_object_add(out, "bundle", json_object_new_string(eq + 1));
		else
			json_object_object_add(ann, key, json_object_new_string(eq + 1));
	}
}

static void copy_field(json_object *from, const char *key, json_object *to, const char *as)
{
	json_object *v;

	if (json_object_object_get_ex(from, key, &v))
		json_object_object_add(to, as, json_object_get(v));
}

/* The state of directory name under root as a hook's state JSON. */
static int entry_state(int rootfd, const char *name, json_object *out, sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *st = NULL, *config = NULL;
	_cleanup_free_ char *runc = NULL, *crun = NULL, *crun_config = NULL;
	int ret;

	if (asprintf(&runc, "%s/state.json", name) < 0 || asprintf(&crun, "%s/status", name) < 0 ||
	    asprintf(&crun_config, "%s/config.json", name) < 0)
		return sp_error_set(err, ENOMEM, "runtime state `%s`", name);
	json_object_object_add(out, "id", json_object_new_string(name));
	if (faccessat(rootfd, runc, F_OK, 0) == 0) {
		ret = read_json(rootfd, runc, runc, &st, err);
		if (ret < 0)
			return ret;
		copy_field(st, "init_process_pid", out, "pid");
		runc_labels(st, out);
		return 0;
	}
	ret = read_json(rootfd, crun, crun, &st, err);
	if (ret < 0)
		return ret;
	copy_field(st, "pid", out, "pid");
	copy_field(st, "bundle", out, "bundle");
	if (faccessat(rootfd, crun_config, F_OK, 0) == 0) {
		ret = read_json(rootfd, crun_config, crun_config, &config, err);
		if (ret < 0)
			return ret;
		copy_field(config, "annotations", out, "annotations");
	}
	return 0;
}

static int add_entry(int rootfd, const char *root, const char *name, struct oci_state **out, size_t *n,
		     sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	struct oci_state *grown;
	const char *text;
	int ret;

	if (!o)
		return sp_error_set(err, ENOMEM, "runtime state `%s/%s`", root, name);
	ret = entry_state(rootfd, name, o, err);
	if (ret == -ENOENT) { /* deleted while we looked, or not a container */
		sp_error_free(err);
		return 0;
	}
	if (ret < 0)
		return sp_error_wrap(err, "runtime state in `%s`", root);
	grown = realloc(*out, (*n + 1) * sizeof(**out));
	if (!grown)
		return sp_error_set(err, ENOMEM, "runtime state `%s/%s`", root, name);
	*out = grown;
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	ret = oci_state_parse(text, strlen(text), false, &grown[*n], err);
	if (ret < 0)
		return sp_error_wrap(err, "runtime state `%s/%s`", root, name);
	(*n)++;
	return 0;
}

int oci_runtime_list(const char *root, struct oci_state **out, size_t *n, sp_error_t *err)
{
	_cleanup_closedir_ DIR *d = opendir(root);
	struct dirent *de;
	int ret;

	if (!d)
		return errno == ENOENT ? 0 : sp_error_set(err, errno, "open runtime root `%s`", root);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		ret = add_entry(dirfd(d), root, de->d_name, out, n, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void oci_runtime_list_free(struct oci_state *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		oci_state_free(&list[i]);
	free(list);
}
