/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Security-domain policy.  KSM merges identical pages of every process it
 * sees, and a merged page leaks through copy-on-write timing, so only
 * workloads that trust each other may share it:
 *   exclusive  one domain at a time has KSM on the node; another domain is
 *              refused until the owner's last container is gone;
 *   shared     every workload on the node trusts every other one;
 *   kernel     every domain at once, each in its own kernel domain (the
 *              native backend's ksm.domain, node/domain-kernel.h); the
 *              default where the kernel has it.
 * Domains are compared as whole strings in their full form (`k8s/team-a`,
 * `k8s/team-a/web`, `group/ci`, `local/default`): a sub-domain is a domain
 * of its own.  What a domain is and where it comes from: node/domain.h.
 */
#ifndef SP_POLICY_H
#define SP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include "node/config.h"
#include "node/domain.h"
#include "base/error.h"
#include "node/state.h"

struct sp_verdict {
	bool allow;
	const char *owner;   /* domain that owns KSM on the node, when refused */
	size_t owner_count;  /* its enabled containers */
};

/* May container id of domain have KSM, given the enabled containers in st? */
struct sp_verdict sp_policy_decide(const struct sp_state *st, enum sp_domain_policy policy, const char *domain,
				   const char *id);

/* The error for a refused verdict: "domain `b` refused: domain `a` owns KSM
 * on this node (2 containers, domain_policy exclusive)".  Returns -EPERM,
 * and so does every sp_error_wrap() of it. */
int sp_verdict_error(const struct sp_verdict *v, const char *domain, sp_error_t *err);

/* The domain owning KSM on the node under exclusive policy, or NULL. */
const char *sp_policy_owner(const struct sp_state *st);

#endif
