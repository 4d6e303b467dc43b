/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel security domains of the `ksm` controller (issue 12): a cgroup's
 * ksm.domain is `inherit` (the parent's domain; the root is the global
 * domain 0), `new`, `deny` (no KSM in the subtree; an ancestor's deny
 * wins) or a decimal id >= 1 that only CAP_SYS_ADMIN in the initial user
 * namespace may write; ksm.domain.effective says the id in force, or
 * `deny`.  Pages of different domains never merge.  samepage writes a
 * numeric id to each container's own cgroup before ksm.enable=1, and
 * `inherit` back when the container goes.
 *
 * A domain id is written only to a cgroup that is one workload's own: not
 * the cgroup2 root, not a cgroup that holds (or is an ancestor of) the
 * caller's own cgroup, and, for a container, no process below it outside
 * the container's pid namespace.  Anything else would put other workloads
 * into the container's domain; it is refused with the reason.
 */
#ifndef SP_NATIVE_DOMAIN_H
#define SP_NATIVE_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"

#define KSM_DOMAIN_FILE "ksm.domain"
#define KSM_DOMAIN_EFFECTIVE_FILE "ksm.domain.effective"

/* The effective domain read from ksm.domain.effective. */
struct ksm_domain_state {
	bool deny;
	uint64_t id;            /* when !deny; 0 is the global domain */
};

/* Path a is b or lies below it (by components; "/" holds everything). */
bool ksm_cgroup_within(const char *a, const char *b);

/* Parse "deny" or a decimal id (a trailing newline allowed). */
int ksm_domain_parse_effective(const char *text, const char *what, struct ksm_domain_state *d, sp_error_t *err);

/* Whether the kernel has domains for path: the controller is enabled down
 * to path's parent (ksm_native_prepare) and path has a ksm.domain file. */
bool ksm_domain_available_at(const char *path);

/* Whether any cgroup the controller is enabled in has ksm.domain: the
 * first child of the cgroup2 root with ksm files.  For reports. */
bool ksm_domain_available(void);

/* path/ksm.domain as written (own setting), malloc'd, newline cut. */
int ksm_domain_read(const char *path, char **value, sp_error_t *err);

/* path/ksm.domain.effective. */
int ksm_domain_effective(const char *path, struct ksm_domain_state *d, sp_error_t *err);

/* Refuse (-EPERM, the reason named) a cgroup that is not one workload's
 * own (see above).  init > 0: every process below path must share init's
 * pid namespace. */
int ksm_domain_check_private(const char *path, pid_t init, sp_error_t *err);

/* Check path (ksm_domain_check_private), make its ksm files appear, write
 * id to its ksm.domain. */
int ksm_domain_assign(const char *path, uint64_t id, pid_t init, sp_error_t *err);

/* Put `inherit` back on path when its ksm.domain is still id (someone
 * else's later setting stays).  A cgroup already gone is done (0). */
int ksm_domain_reset(const char *path, uint64_t id, sp_error_t *err);

/* Write `deny` to path/ksm.domain unless it is there already.  Returns 1
 * when it wrote, 0 when it was there. */
int ksm_domain_deny(const char *path, sp_error_t *err);

#endif
