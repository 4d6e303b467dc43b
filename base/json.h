/* SPDX-License-Identifier: GPL-2.0-or-later */
/* JSON documents samepage reads: one value, nothing after it. */
#ifndef SP_JSON_H
#define SP_JSON_H

#include <stddef.h>
#include <json-c/json.h>
#include "base/cleanup.h"
#include "base/error.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

/* Parse len bytes of buf as exactly one JSON value (white space around it
 * is fine; a second value or other trailing data is an error).  Errors read
 * "<what>: not valid JSON: <reason>". */
int sp_json_parse(const char *buf, size_t len, const char *what, json_object **out, sp_error_t *err);

#endif
