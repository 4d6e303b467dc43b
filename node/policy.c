/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <string.h>

#include "node/policy.h"

const char *sp_policy_owner(const struct sp_state *st)
{
	size_t i;

	for (i = 0; i < st->n_containers; i++)
		if (st->containers[i].enabled)
			return st->containers[i].domain;
	return NULL;
}

struct sp_verdict sp_policy_decide(const struct sp_state *st, enum sp_domain_policy policy, const char *domain,
				   const char *id)
{
	struct sp_verdict v = { .allow = true };
	size_t i;

	/* kernel: the kernel keeps domains apart (node/domain-kernel.h) */
	if (policy == SP_POLICY_SHARED || policy == SP_POLICY_KERNEL)
		return v;
	for (i = 0; i < st->n_containers; i++) {
		const struct sp_container *c = &st->containers[i];

		if (!c->enabled || strcmp(c->id, id) == 0 || strcmp(c->domain, domain) == 0)
			continue;
		v.allow = false;
		v.owner = c->domain;
		v.owner_count++;
	}
	return v;
}

int sp_verdict_error(const struct sp_verdict *v, const char *domain, sp_error_t *err)
{
	return sp_error_setx(err, EPERM,
			     "domain `%s` refused: domain `%s` owns KSM on this node (%zu container%s, domain_policy exclusive)",
			     domain, v->owner, v->owner_count, v->owner_count == 1 ? "" : "s");
}
