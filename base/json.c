/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>

#include "base/json.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free)

static bool is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

int sp_json_parse(const char *buf, size_t len, const char *what, json_object **out, sp_error_t *err)
{
	_cleanup_(json_tokener_freep) json_tokener *tok = NULL;
	_cleanup_(json_object_putp) json_object *root = NULL;
	enum json_tokener_error jerr;
	size_t k;

	if (len > INT_MAX)
		return sp_error_set(err, EFBIG, "%s: too large", what);
	tok = json_tokener_new();
	if (!tok)
		return sp_error_set(err, ENOMEM, "%s", what);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!root || jerr != json_tokener_success)
		return sp_error_set(err, 0, "%s: not valid JSON: %s", what,
				    json_tokener_error_desc(jerr == json_tokener_success ? json_tokener_continue : jerr));
	for (k = json_tokener_get_parse_end(tok); k < len; k++)
		if (!is_space(buf[k]))
			return sp_error_set(err, 0, "%s: not valid JSON: trailing data at byte %zu", what, k);
	*out = TAKE_PTR(root);
	return 0;
}
