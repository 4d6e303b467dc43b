/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The OCI runtime spec as samepage sees it: the state a runtime passes to a
 * hook on stdin, and samepage's annotations in it.  Nothing here knows about
 * the kernel.
 */
#ifndef SP_OCI_H
#define SP_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "base/annotation.h"
#include "base/error.h"

/* The hook refuses a state larger than this. */
#define OCI_STATE_MAX (1024 * 1024)

#define SP_ANNOTATION_MERGE "samepage.io/merge"
#define SP_ANNOTATION_REQUIRED "samepage.io/required"

struct oci_state {
	char *oci_version;
	char *id;
	char *status;
	char *bundle;
	pid_t pid;            /* 0 when the state has none (poststop) */
	struct sp_annotation *annotations;
	size_t n_annotations;
};

/* Parse the state JSON (len bytes, need not be NUL-terminated).  Requires
 * an `id`; `pid` must be a non-negative integer when present.  When
 * need_pid is true, a missing or zero pid is an error too.  Errors name the
 * field. */
int oci_state_parse(const char *buf, size_t len, bool need_pid, struct oci_state *st, sp_error_t *err);
void oci_state_free(struct oci_state *st);

/* The longest container id accepted.  The OCI runtime spec sets no limit;
 * runc and crun keep a directory named after the id, so no id they accept
 * is longer than NAME_MAX (255 bytes), and CRI ids are 64 hex digits. */
#define OCI_ID_MAX 255

/* An id the hook can record and print: 1 to OCI_ID_MAX bytes, no control
 * character (C0 or DEL).  Errors show the id escaped. */
int oci_id_check(const char *id, sp_error_t *err);

/* A copy of s for a log line: control characters and backslashes as \xNN,
 * at most max bytes of s, "..." when cut.  malloc'd; NULL on ENOMEM. */
char *oci_printable(const char *s, size_t max);

/* The create stages run on a container the runtime is creating: `status`
 * "creating" (createRuntime) or "created" (prestart, crun).  Anything else
 * (missing, "running", "stopped") is an error naming the status. */
int oci_state_check_creating(const struct oci_state *st, sp_error_t *err);

/* The container asked for KSM: samepage.io/merge is exactly "true".  A
 * container that did not ask is never refused by the hook. */
bool oci_asks_merge(const struct oci_state *st);

/* Value of an annotation, or NULL. */
const char *oci_state_annotation(const struct oci_state *st, const char *key);

/* What a container asks of samepage. */
struct sp_request {
	bool merge;
	bool required;
};

/* Read samepage's annotations.  Errors name the annotation and its value,
 * e.g. "annotation `samepage.io/merge`: invalid value `yes` (want true or false)".
 * The security domain is not read here: node/domain.h derives it from the
 * annotations and the node's config. */
int oci_request_from_state(const struct oci_state *st, struct sp_request *req, sp_error_t *err);

/* "true"/"false" → 1/0; anything else -EINVAL. */
int oci_parse_bool(const char *value, bool *out);

#endif
