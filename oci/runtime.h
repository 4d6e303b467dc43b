/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Containers as an OCI runtime records them in its state root: runc's
 * <root>/<id>/state.json (its config's labels carry the annotations as
 * "key=value", plus "bundle=PATH"), crun's <root>/<id>/status with a copy of
 * the bundle's config.json beside it.  Each becomes the oci_state a hook
 * would have been given, so oci_request_from_state() derives its domain the
 * way the hook does.
 */
#ifndef SP_OCI_RUNTIME_H
#define SP_OCI_RUNTIME_H

#include <stddef.h>
#include "base/error.h"
#include "oci/oci.h"

/* Where runc and crun keep their state when run as root without --root. */
#define OCI_RUNTIME_ROOTS { "/run/runc", "/run/crun" }

/* A runtime's state file is bounded by this (runc's holds the whole config). */
#define OCI_RUNTIME_STATE_MAX (16 * 1024 * 1024)

/*
 * Append the containers under root to *out (*n entries).  A missing root is
 * no container; an entry that vanishes or is not a container directory is
 * skipped; an unreadable or malformed state file is an error naming it.
 */
int oci_runtime_list(const char *root, struct oci_state **out, size_t *n, sp_error_t *err);

void oci_runtime_list_free(struct oci_state *list, size_t n);

#endif
