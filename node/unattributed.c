/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "host/ksm.h"
#include "host/proc.h"
#include "cgroupfs/figures.h"
#include "node/unattributed.h"

void sp_unattributed_free(struct sp_unattributed *u)
{
	size_t i;

	for (i = 0; i < u->n; i++) {
		free(u->procs[i].cgroup);
		free(u->procs[i].container);
	}
	free(u->procs);
	memset(u, 0, sizeof(*u));
}

int sp_unattributed_attribute(struct ksm_scan *scan, const struct pid_list *attributed, int64_t node_before,
			      int64_t node_after, struct sp_unattributed *u)
{
	size_t i;

	memset(u, 0, sizeof(*u));
	u->procs = calloc(scan->n ? scan->n : 1, sizeof(*u->procs));
	if (!u->procs)
		return -ENOMEM;
	for (i = 0; i < scan->n; i++) {
		const struct ksm_scan_proc *p = &scan->procs[i];

		if (pid_list_contains(attributed, p->pid)) {
			u->attributed_pages += p->merging_pages > 0 ? p->merging_pages : 0;
			continue;
		}
		u->procs[u->n++].p = *p;
	}
	ksm_scan_free(scan);
	if (node_before < 0 || node_after < 0) {
		u->node_pages = u->pages = -1;
		return 0;
	}
	u->node_pages = node_before < node_after ? node_before : node_after;
	u->pages = u->node_pages > u->attributed_pages ? u->node_pages - u->attributed_pages : 0;
	return 0;
}

/* pages_shared + pages_sharing: every PTE that maps a KSM page. */
static int64_t node_merged_pages(void)
{
	uint64_t shared, sharing;

	if (ksm_knob_read_u64("pages_shared", &shared, NULL) < 0 ||
	    ksm_knob_read_u64("pages_sharing", &sharing, NULL) < 0)
		return -1;
	return (int64_t)(shared + sharing);
}

static bool entry_alive(const struct sp_container *c)
{
	struct proc_info pi;

	if (c->pid <= 0)
		return false;
	if (c->start_time)
		return proc_alive(c->pid, c->start_time);
	return proc_info_read(c->pid, &pi, NULL) == 0 && pi.state != 'Z';
}

/* The processes of one enabled entry, as status reads them. */
static void entry_pids(const struct sp_container *c, struct pid_list *l)
{
	_cleanup_free_ char *cg = NULL;

	if (c->cgroup) {
		cgroup_procs_read(c->cgroup, true, l, NULL);
		return;
	}
	if (sp_state_is_pid_entry(c)) {
		sp_lineage_pids(c, l, NULL); /* what it enabled, also after it exited */
		return;
	}
	if (cgroup_of_pid(c->pid, &cg, NULL) == 0)
		cgroup_procs_read(cg, true, l, NULL);
	/* The recorded process itself, whatever its cgroup holds. */
	pid_list_add(l, c->pid);
}

static int attributed_pids(const struct sp_state *st, struct pid_list *l)
{
	size_t i;

	for (i = 0; st && i < st->n_containers; i++) {
		const struct sp_container *c = &st->containers[i];

		if (c->enabled && (sp_state_is_pid_entry(c) || entry_alive(c)))
			entry_pids(c, l);
	}
	pid_list_sort_unique(l);
	return 0;
}

char *sp_container_from_cgroup(const char *cgroup)
{
	static const char *const prefixes[] = { "cri-containerd-", "crio-", "docker-", "libpod-" };
	const char *base = strrchr(cgroup, '/');
	size_t len, i;

	base = base ? base + 1 : cgroup;
	if (strncmp(base, "crio-conmon-", 12) == 0 || strncmp(base, "libpod-conmon-", 14) == 0)
		return NULL;
	for (i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (strncmp(base, prefixes[i], strlen(prefixes[i])) == 0) {
			base += strlen(prefixes[i]);
			break;
		}
	len = strlen(base);
	if (len >= 6 && strcmp(base + len - 6, ".scope") == 0)
		len -= 6;
	return len ? strndup(base, len) : NULL;
}

static const struct sp_container *entry_of_cgroup(const struct sp_state *st, const char *cgroup)
{
	size_t i;

	for (i = 0; st && i < st->n_containers; i++)
		if (st->containers[i].cgroup && strcmp(st->containers[i].cgroup, cgroup) == 0)
			return &st->containers[i];
	return NULL;
}

/* Cgroup and container of an unattributed process (best effort: it may be
 * gone by now). */
static void name_proc(const struct sp_state *st, struct sp_unattributed_proc *up)
{
	const struct sp_container *c;
	bool same = true;

	if (cgroup_of_pid(up->p.pid, &up->cgroup, NULL) < 0) {
		up->cgroup = NULL;
		return;
	}
	c = entry_of_cgroup(st, up->cgroup);
	if (c)
		up->container = strdup(c->id);
	else if (proc_same_pidns(up->p.pid, &same, NULL) == 0 && !same)
		up->container = sp_container_from_cgroup(up->cgroup);
}

int sp_unattributed_collect(const struct sp_state *st, bool deep, struct sp_unattributed *u, sp_error_t *err)
{
	_cleanup_(pid_list_free) struct pid_list attributed = { 0 };
	struct ksm_scan scan;
	int64_t before, after;
	size_t i;
	int ret;

	memset(u, 0, sizeof(*u));
	before = node_merged_pages();
	attributed_pids(st, &attributed);
	ret = ksm_scan_node(deep ? KSM_SCAN_SMAPS : 0, &scan, err);
	if (ret < 0)
		return sp_error_wrap(err, "unattributed KSM memory");
	after = node_merged_pages();
	if (sp_unattributed_attribute(&scan, &attributed, before, after, u) < 0)
		return sp_error_set(err, ENOMEM, "unattributed KSM memory");
	for (i = 0; i < u->n; i++)
		name_proc(st, &u->procs[i]);
	return 0;
}

static void describe_one(FILE *f, const struct sp_unattributed_proc *up)
{
	fprintf(f, "pid %d (%s, %s", (int)up->p.pid, up->p.comm[0] ? up->p.comm : "?",
		ksm_scan_proc_evidence(&up->p));
	fprintf(f, ", cgroup %s", up->cgroup ? up->cgroup : "-");
	if (up->container)
		fprintf(f, ", container %s", up->container);
	fputc(')', f);
}

char *sp_unattributed_describe(const struct sp_unattributed *u, size_t max)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (i = 0; i < u->n && i < max; i++) {
		if (i)
			fputs(", ", f);
		describe_one(f, &u->procs[i]);
	}
	if (u->n > max)
		fprintf(f, " and %zu more", u->n - max);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool would_start_ksmd(const struct sp_config *cfg)
{
	uint64_t run;

	return cfg->manage_ksmd && ksm_knob_read_u64("run", &run, NULL) == 0 && run == 0;
}

int sp_unattributed_gate(const struct sp_state *st, const struct sp_config *cfg, const char *domain,
			 sp_error_t *err)
{
	_cleanup_(sp_unattributed_free) struct sp_unattributed u = { 0 };
	_cleanup_free_ char *who = NULL;
	bool new_domain;
	int ret;

	if (cfg->domain_policy != SP_POLICY_EXCLUSIVE || cfg->unattributed != SP_UNATTRIBUTED_REFUSE)
		return 0;
	new_domain = !sp_state_domain_enabled(st, domain);
	if (!new_domain && !would_start_ksmd(cfg))
		return 0;
	ret = sp_unattributed_collect(st, false, &u, err);
	if (ret < 0)
		return ret;
	if (u.n == 0)
		return 0;
	who = sp_unattributed_describe(&u, 8);
	return sp_error_setx(err, EPERM,
			    "domain `%s` refused: %zu process%s outside samepage's record can merge (%s): %s "
			    "under domain_policy exclusive (set `\"unattributed\": \"warn\"` to admit it anyway)",
			    domain, u.n, u.n == 1 ? "" : "es", who ? who : "out of memory",
			    new_domain ? "no new domain is admitted" : "ksmd is not turned on");
}
