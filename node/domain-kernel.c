/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "cgroupfs/native-domain.h"
#include "node/domain-kernel.h"

uint64_t sp_kdomain_lookup(const struct sp_state *st, const char *domain)
{
	size_t i;

	for (i = 0; i < st->n_kdomains; i++)
		if (strcmp(st->kdomains[i].domain, domain) == 0)
			return st->kdomains[i].id;
	return 0;
}

int sp_kdomain_id(struct sp_state *st, const char *domain, uint64_t *id, sp_error_t *err)
{
	uint64_t next;

	*id = sp_kdomain_lookup(st, domain);
	if (*id)
		return 0;
	next = st->kdomain_next < SP_KDOMAIN_FIRST ? SP_KDOMAIN_FIRST : st->kdomain_next;
	if (next >= SP_KDOMAIN_LIMIT)
		return sp_error_setx(err, ENOSPC, "no kernel domain id left for domain `%s`", domain);
	if (sp_state_kdomain_add(st, domain, next) < 0)
		return sp_error_set(err, ENOMEM, "kernel domain of `%s`", domain);
	*id = next;
	return 0;
}

int sp_policy_effective(const struct sp_config *cfg, bool available, const char *cgroup,
			enum sp_domain_policy *policy, sp_error_t *err)
{
	if (!cfg->domain_policy_set) {
		*policy = available ? SP_POLICY_KERNEL : cfg->domain_policy;
		return 0;
	}
	*policy = cfg->domain_policy;
	if (*policy == SP_POLICY_KERNEL && !available)
		return sp_error_setx(err, EPERM,
				     "domain_policy kernel: the kernel has no ksm.domain for `%s` (needs the native "
				     "backend with kernel domains)",
				     cgroup ? cgroup : "this workload");
	return 0;
}

int sp_kdomain_deny_unmanaged(const struct sp_config *cfg, const char *cgroup, sp_error_t *err)
{
	int ret;

	if (!cfg->deny_unmanaged)
		return 0;
	if (cgroup && ksm_cgroup_within(cgroup, cfg->deny_unmanaged))
		return sp_error_setx(err, EPERM,
				     "deny_unmanaged `%s` holds the workload's cgroup `%s`: an ancestor's deny wins, "
				     "so it could never merge; name the parent of the workloads samepage does not manage",
				     cfg->deny_unmanaged, cgroup);
	ret = ksm_domain_deny(cfg->deny_unmanaged, err);
	return ret < 0 ? sp_error_wrap(err, "deny_unmanaged") : 0;
}

int sp_kdomain_release(const struct sp_state *st, const struct sp_container *c, sp_error_t *err)
{
	size_t i;

	if (!c->kdomain || !c->cgroup)
		return 0;
	for (i = 0; i < st->n_containers; i++) {
		const struct sp_container *o = &st->containers[i];

		if (o != c && o->cgroup && o->kdomain && strcmp(o->cgroup, c->cgroup) == 0)
			return 0;
	}
	return ksm_domain_reset(c->cgroup, c->kdomain, err);
}

size_t sp_kdomain_mismatches(const struct sp_state *st, size_t *checked, char **desc)
{
	size_t len = 0, i, bad = 0;
	FILE *f = open_memstream(desc, &len);

	*checked = 0;
	for (i = 0; i < st->n_containers; i++) {
		const struct sp_container *c = &st->containers[i];
		struct ksm_domain_state d;

		if (!c->enabled || !c->kdomain || !c->cgroup || ksm_domain_effective(c->cgroup, &d, NULL) < 0)
			continue;
		(*checked)++;
		if (!d.deny && d.id == c->kdomain)
			continue;
		if (f && bad++)
			fputs(", ", f);
		if (f && d.deny)
			fprintf(f, "%s (recorded %llu, effective deny)", c->id, (unsigned long long)c->kdomain);
		else if (f)
			fprintf(f, "%s (recorded %llu, effective %llu)", c->id, (unsigned long long)c->kdomain,
				(unsigned long long)d.id);
	}
	if (!f || fclose(f) != 0 || !bad) {
		free(*desc);
		*desc = NULL;
	}
	return bad;
}

int sp_kdomain_deny_status(const struct sp_config *cfg, sp_error_t *err)
{
	_cleanup_free_ char *value = NULL;
	int ret;

	if (!cfg->deny_unmanaged)
		return 0;
	ret = ksm_domain_read(cfg->deny_unmanaged, &value, err);
	if (ret < 0)
		return sp_error_wrap(err, "deny_unmanaged");
	if (strcmp(value, "deny") != 0)
		return sp_error_setx(err, EPERM, "deny_unmanaged `%s` holds `%s`, not deny", cfg->deny_unmanaged, value);
	return 1;
}
