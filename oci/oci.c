/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "oci/oci.h"


static int dup_string_field(json_object *root, const char *key, bool required, char **out, sp_error_t *err)
{
	json_object *v;

	if (!json_object_object_get_ex(root, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return sp_error_set(err, 0, "OCI state: missing `%s`", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return sp_error_set(err, 0, "OCI state: `%s` is not a string", key);
	/* "a\u0000b" would be read as "a": what was checked and what is used
	 * would differ. */
	if ((size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v)))
		return sp_error_set(err, 0, "OCI state: `%s` holds a NUL character", key);
	*out = strdup(json_object_get_string(v));
	if (!*out)
		return sp_error_set(err, ENOMEM, "OCI state: `%s`", key);
	return 0;
}

static int parse_pid(json_object *root, bool need_pid, pid_t *pid, sp_error_t *err)
{
	json_object *v;
	int64_t n;

	*pid = 0;
	if (!json_object_object_get_ex(root, "pid", &v) || json_object_is_type(v, json_type_null)) {
		if (need_pid)
			return sp_error_set(err, 0, "OCI state: missing `pid`");
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return sp_error_set(err, 0, "OCI state: `pid` is not an integer: %s",
				    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	errno = 0;
	n = json_object_get_int64(v);
	if (errno == ERANGE || n < 0 || n > INT_MAX)
		return sp_error_set(err, 0, "OCI state: `pid` out of range: %s",
				    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	if (n == 0 && need_pid)
		return sp_error_set(err, 0, "OCI state: `pid` must be a positive integer, got 0");
	*pid = (pid_t)n;
	return 0;
}

static int parse_annotations(json_object *root, struct oci_state *st, sp_error_t *err)
{
	json_object *anns;

	if (!json_object_object_get_ex(root, "annotations", &anns) || json_object_is_type(anns, json_type_null))
		return 0;
	if (!json_object_is_type(anns, json_type_object))
		return sp_error_set(err, 0, "OCI state: `annotations` is not an object");

	st->annotations = calloc(json_object_object_length(anns) + 1, sizeof(*st->annotations));
	if (!st->annotations)
		return sp_error_set(err, ENOMEM, "OCI state: annotations");

	/* n_annotations counts what was filled in, so oci_state_free() frees
	 * it also when a later entry is bad. */
	json_object_object_foreach(anns, key, val) {
		struct sp_annotation *a = &st->annotations[st->n_annotations];

		if (!json_object_is_type(val, json_type_string))
			return sp_error_set(err, 0, "OCI state: annotation `%s` is not a string", key);
		a->key = strdup(key);
		/* The whole value, also past an embedded NUL, so that whoever
		 * judges it sees what an admission rule saw. */
		a->value_len = (size_t)json_object_get_string_len(val);
		a->value = malloc(a->value_len + 1);
		if (a->value) {
			memcpy(a->value, json_object_get_string(val), a->value_len);
			a->value[a->value_len] = '\0';
		}
		st->n_annotations++;
		if (!a->key || !a->value)
			return sp_error_set(err, ENOMEM, "OCI state: annotations");
	}
	return 0;
}

int oci_state_parse(const char *buf, size_t len, bool need_pid, struct oci_state *st, sp_error_t *err)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	int ret;

	memset(st, 0, sizeof(*st));
	if (len > OCI_STATE_MAX)
		return sp_error_set(err, EFBIG, "OCI state is larger than %d bytes", OCI_STATE_MAX);
	if (len == 0)
		return sp_error_set(err, 0, "OCI state: empty input (expected the state JSON on stdin)");

	ret = sp_json_parse(buf, len, "OCI state", &root, err);
	if (ret < 0)
		return ret;
	if (!json_object_is_type(root, json_type_object))
		return sp_error_set(err, 0, "OCI state: not a JSON object");

	ret = dup_string_field(root, "ociVersion", false, &st->oci_version, err);
	if (ret == 0)
		ret = dup_string_field(root, "id", true, &st->id, err);
	if (ret == 0)
		ret = dup_string_field(root, "status", false, &st->status, err);
	if (ret == 0)
		ret = dup_string_field(root, "bundle", false, &st->bundle, err);
	if (ret == 0)
		ret = parse_pid(root, need_pid, &st->pid, err);
	if (ret == 0)
		ret = parse_annotations(root, st, err);
	if (ret == 0 && st->id[0] == '\0')
		ret = sp_error_set(err, 0, "OCI state: `id` is empty");
	if (ret < 0)
		oci_state_free(st);
	return ret;
}

void oci_state_free(struct oci_state *st)
{
	size_t i;

	free(st->oci_version);
	free(st->id);
	free(st->status);
	free(st->bundle);
	for (i = 0; st->annotations && i < st->n_annotations; i++) {
		free(st->annotations[i].key);
		free(st->annotations[i].value);
	}
	free(st->annotations);
	memset(st, 0, sizeof(*st));
}

static const struct sp_annotation *find_annotation(const struct oci_state *st, const char *key)
{
	size_t i;

	for (i = 0; i < st->n_annotations; i++)
		if (strcmp(st->annotations[i].key, key) == 0)
			return &st->annotations[i];
	return NULL;
}

const char *oci_state_annotation(const struct oci_state *st, const char *key)
{
	const struct sp_annotation *a = find_annotation(st, key);

	return a ? a->value : NULL;
}

int oci_parse_bool(const char *value, bool *out)
{
	if (strcmp(value, "true") == 0)
		*out = true;
	else if (strcmp(value, "false") == 0)
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int request_bool(const struct oci_state *st, const char *key, bool *out, sp_error_t *err)
{
	const struct sp_annotation *a = find_annotation(st, key);

	*out = false;
	if (!a)
		return 0;
	if (strlen(a->value) != a->value_len)
		return sp_error_set(err, 0, "annotation `%s`: value contains a NUL byte", key);
	if (oci_parse_bool(a->value, out) < 0)
		return sp_error_set(err, 0, "annotation `%s`: invalid value `%.64s%s` (want true or false)",
				    key, a->value, strlen(a->value) > 64 ? "..." : "");
	return 0;
}

int oci_request_from_state(const struct oci_state *st, struct sp_request *req, sp_error_t *err)
{
	int ret;

	memset(req, 0, sizeof(*req));
	ret = request_bool(st, SP_ANNOTATION_MERGE, &req->merge, err);
	if (ret < 0)
		return ret;
	return request_bool(st, SP_ANNOTATION_REQUIRED, &req->required, err);
}

char *oci_printable(const char *s, size_t max)
{
	size_t i, n = strlen(s), cut = n > max ? max : n, len = 0;
	char *out = malloc(cut * 4 + 4);

	if (!out)
		return NULL;
	for (i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '\\')
			len += snprintf(out + len, 5, "\\x%02x", c);
		else
			out[len++] = (char)c;
	}
	if (cut < n)
		len += snprintf(out + len, 4, "...");
	out[len] = '\0';
	return out;
}

int oci_id_check(const char *id, sp_error_t *err)
{
	_cleanup_free_ char *shown = NULL;
	size_t i, n = strlen(id);

	for (i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
			break;
	if (n > 0 && n <= OCI_ID_MAX && i == n)
		return 0;
	shown = oci_printable(id, 64);
	if (n == 0)
		return sp_error_set(err, 0, "OCI state: `id` is empty");
	if (n > OCI_ID_MAX)
		return sp_error_set(err, 0, "OCI state: `id` `%s` is %zu bytes long (at most %d)", shown ? shown : "",
				    n, OCI_ID_MAX);
	return sp_error_set(err, 0, "OCI state: `id` `%s` holds a control character", shown ? shown : "");
}

int oci_state_check_creating(const struct oci_state *st, sp_error_t *err)
{
	_cleanup_free_ char *shown = NULL;

	if (st->status && (strcmp(st->status, "creating") == 0 || strcmp(st->status, "created") == 0))
		return 0;
	if (!st->status)
		return sp_error_set(err, 0, "OCI state: no `status` (want creating or created at this stage)");
	shown = oci_printable(st->status, 32);
	return sp_error_set(err, 0, "OCI state: `status` is `%s` (want creating or created at this stage)",
			    shown ? shown : "");
}

bool oci_asks_merge(const struct oci_state *st)
{
	const char *v = oci_state_annotation(st, SP_ANNOTATION_MERGE);

	return v && strcmp(v, "true") == 0;
}
