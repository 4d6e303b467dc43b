/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage's domains as kernel domains (issue 12, cgroupfs/native-domain.h).
 * On the native backend with ksm.domain, domain_policy `kernel` (the
 * default there) admits every domain at once: each samepage domain
 * (`k8s/<ns>[/<sub>]`, `group/<g>`, `local/<name>`) gets a kernel domain
 * id, kept in the node state: allocated the first time the domain is
 * admitted, the same for every later container of it and across samepage
 * restarts, never handed to another domain while the node runs (ids only
 * grow).  Ids stay below 2^31: a `new` domain's id is its cgroup's id,
 * which on 64-bit kernels carries the kernfs generation in the upper 32
 * bits (at least 2^32), so the two never meet.
 *
 * The id is written to the container's own cgroup's ksm.domain before
 * ksm.enable=1 (never to a cgroup shared with other workloads: refused,
 * with the reason), and `inherit` is written back when the container goes
 * and no other entry uses that cgroup.
 */
#ifndef SP_DOMAIN_KERNEL_H
#define SP_DOMAIN_KERNEL_H

#include <stdbool.h>
#include <stdint.h>
#include "base/error.h"
#include "node/config.h"
#include "node/state.h"

#define SP_KDOMAIN_FIRST 1
#define SP_KDOMAIN_LIMIT (1ULL << 31)

/* The kernel domain id of domain: the recorded one, else a new one
 * recorded in st.  -ENOSPC when the ids ran out. */
int sp_kdomain_id(struct sp_state *st, const char *domain, uint64_t *id, sp_error_t *err);

/* The id recorded for domain, or 0. */
uint64_t sp_kdomain_lookup(const struct sp_state *st, const char *domain);

/* The policy in force for a workload: the config's when it names one,
 * else `kernel` where the workload's cgroup has ksm.domain (available),
 * else exclusive.  `kernel` named but not available: -EPERM, saying why. */
int sp_policy_effective(const struct sp_config *cfg, bool available, const char *cgroup,
			enum sp_domain_policy *policy, sp_error_t *err);

/* `deny_unmanaged`: keep ksm.domain=deny on that cgroup.  Refused when it
 * is the workload's cgroup or an ancestor of it (an ancestor's deny wins,
 * so the workload could never merge).  Nothing configured: 0. */
int sp_kdomain_deny_unmanaged(const struct sp_config *cfg, const char *cgroup, sp_error_t *err);

/* c is going: put `inherit` back on its cgroup's ksm.domain when c wrote
 * an id there and no other entry of st uses that cgroup. */
int sp_kdomain_release(const struct sp_state *st, const struct sp_container *c, sp_error_t *err);

/* Enabled entries of st whose cgroup's ksm.domain.effective is not the id
 * recorded for them: how many, and "c1 (recorded 3, effective 0), ..." in
 * *desc (malloc'd, NULL when none).  *checked: entries with an id. */
size_t sp_kdomain_mismatches(const struct sp_state *st, size_t *checked, char **desc);

/* Where deny for unmanaged workloads stands: 1 when `deny_unmanaged` is
 * set and holds deny, 0 when not configured, <0 (error set) when it is
 * configured but does not hold (or cannot be read). */
int sp_kdomain_deny_status(const struct sp_config *cfg, sp_error_t *err);

#endif
