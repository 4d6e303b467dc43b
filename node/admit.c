/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "node/admit.h"
#include "node/config.h"
#include "node/ksmd.h"
#include "node/policy.h"
#include "node/state.h"
#include "node/unattributed.h"
#include "host/proc.h"

void sp_admission_free(struct sp_admission *a)
{
	ksm_switched_free(&a->sw);
	free(a->ksmd_warning);
	a->ksmd_warning = NULL;
}

char *sp_workload_name(const struct sp_workload *w)
{
	char *name = NULL;

	switch (w->scope) {
	case KSM_SCOPE_CONTAINER_INIT:
		return strdup(w->id);
	case KSM_SCOPE_CGROUP:
		if (asprintf(&name, "cgroup:%s", w->cgroup) < 0)
			return NULL;
		return name;
	case KSM_SCOPE_PROCESS:
		if (asprintf(&name, "pid:%d", (int)w->pid) < 0)
			return NULL;
		return name;
	}
	return NULL;
}

static const char *workload_domain(const struct sp_workload *w)
{
	return w->domain ? w->domain : SP_DEFAULT_DOMAIN;
}

static struct ksm_target workload_target(const struct sp_workload *w)
{
	return (struct ksm_target){ .cgroup = w->scope == KSM_SCOPE_CGROUP ? w->cgroup : NULL, .pid = w->pid };
}

/* The oldest process stands for a running workload in the state: when it
 * is gone, the entry is pruned like a stopped container's. */
static int representative(const struct sp_workload *w, struct proc_info *rep, sp_error_t *err)
{
	_cleanup_(pid_list_free) struct pid_list l = { 0 };
	struct ksm_target t = workload_target(w);
	bool found = false;
	size_t i;
	int ret;

	ret = ksm_target_pids(&t, &l, err);
	if (ret < 0)
		return ret;
	for (i = 0; i < l.n; i++) {
		struct proc_info pi;

		if (proc_info_read(l.pids[i], &pi, NULL) < 0 || pi.state == 'Z')
			continue;
		if (!found || pi.start_time < rep->start_time)
			*rep = pi;
		found = true;
	}
	if (!found)
		return sp_error_setx(err, ESRCH, "no running process");
	return 0;
}

/* A container's init, confirmed to be the runtime's child first. */
static int switch_on_container(const struct sp_workload *w, struct sp_container *rec, struct sp_admission *a,
			       sp_error_t *err)
{
	struct ksm_enabled en;
	int ret;

	ret = ksm_container_init_enable(w->pid, w->runtime_pid, true, &en, err);
	rec->start_time = en.start_time;
	a->sw.backend = en.backend;
	rec->cgroup = en.cgroup;
	return ret;
}

static int switch_on_running(const struct sp_workload *w, struct sp_container *rec, struct sp_admission *a,
			     sp_error_t *err)
{
	struct ksm_target t = workload_target(w);
	struct proc_info rep = { 0 };
	int ret;

	ret = representative(w, &rep, err);
	if (ret < 0)
		return ret;
	ret = ksm_target_switch(&t, true, &a->sw, err);
	if (ret < 0)
		return ret;
	if (a->sw.backend == KSM_BACKEND_STOCK && a->sw.changed + a->sw.already == 0)
		return sp_error_set(err, EPERM, "no process could be enabled");
	rec->pid = rep.pid;
	rec->start_time = rep.start_time;
	if (w->cgroup) {
		rec->cgroup = strdup(w->cgroup);
		if (!rec->cgroup)
			return sp_error_set(err, ENOMEM, "cgroup path");
	}
	return 0;
}

/* Switch KSM on; rec gets what the state records (rec->cgroup malloc'd,
 * also on failure). */
static int switch_on(const struct sp_workload *w, struct sp_container *rec, struct sp_admission *a,
		     sp_error_t *err)
{
	int ret;

	rec->pid = w->pid;
	if (w->scope == KSM_SCOPE_CONTAINER_INIT)
		ret = switch_on_container(w, rec, a, err);
	else
		ret = switch_on_running(w, rec, a, err);
	rec->backend = (char *)ksm_backend_name(a->sw.backend);
	return ret;
}

/* A refused container is recorded so `samepage status` can say why; the
 * entry lives as long as the process (prune compares start times). */
static int refuse(const struct sp_node_paths *paths, struct sp_state *st, const struct sp_workload *w,
		  struct sp_container *rec, int ret, sp_error_t *err)
{
	struct proc_info pi;

	if (w->scope != KSM_SCOPE_CONTAINER_INIT)
		return ret;
	if (rec->start_time == 0 && proc_info_read(w->pid, &pi, NULL) == 0)
		rec->start_time = pi.start_time;
	rec->enabled = false;
	rec->reason = (char *)sp_error_msg(*err);
	free(rec->cgroup);
	rec->cgroup = NULL;
	rec->backend = NULL;
	sp_state_add(st, rec, NULL);
	sp_state_save(paths->state_dir, st, NULL);
	return ret;
}

/* ksmd not running is not the workload's failure: it is enabled, and
 * whoever runs ksmd decides when pages merge. */
static void take_ksmd(struct sp_state *st, const struct sp_config *cfg, struct sp_admission *a)
{
	_cleanup_error_ sp_error_t kerr = NULL;

	if (ksmd_take(st, cfg, &kerr) < 0)
		a->ksmd_warning = strdup(sp_error_msg(kerr));
}

int sp_admit(const struct sp_node_paths *paths, const struct sp_workload *w, struct sp_admission *a,
	     sp_error_t *err)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_free_ char *name = NULL;
	struct sp_container *existing;
	_cleanup_(sp_config_free) struct sp_config cfg = { 0 };
	struct sp_verdict v;
	int ret;

	memset(a, 0, sizeof(*a));
	a->domain = workload_domain(w);
	ret = sp_domain_check(a->domain, err);
	if (ret < 0)
		return ret;
	name = sp_workload_name(w);
	if (!name)
		return sp_error_set(err, ENOMEM, "workload name");
	ret = sp_config_load(paths->config, &cfg, err);
	if (ret < 0)
		return ret;
	lock = sp_state_open(paths->state_dir, &st, err);
	if (lock < 0)
		return lock;
	sp_state_prune(&st, NULL);

	existing = sp_state_find(&st, name);
	if (w->scope == KSM_SCOPE_CONTAINER_INIT && existing && existing->enabled && existing->pid == w->pid) {
		a->again = true;
		return 0;
	}

	struct sp_container rec = { .id = name, .domain = (char *)a->domain, .pid = w->pid, .enabled = true };

	v = sp_policy_decide(&st, cfg.domain_policy, a->domain, name);
	if (!v.allow) {
		a->refused = true;
		rec.since = time(NULL);
		return refuse(paths, &st, w, &rec, sp_verdict_error(&v, a->domain, err), err);
	}
	ret = sp_unattributed_gate(&st, &cfg, a->domain, err);
	if (ret < 0) {
		a->refused = ret == -EPERM;
		rec.since = time(NULL);
		return refuse(paths, &st, w, &rec, ret, err);
	}
	ret = switch_on(w, &rec, a, err);
	rec.since = time(NULL);
	if (ret < 0)
		return refuse(paths, &st, w, &rec, ret, err);
	ret = sp_state_add(&st, &rec, err);
	free(rec.cgroup);
	if (ret < 0)
		return ret;
	take_ksmd(&st, &cfg, a);
	return sp_state_save(paths->state_dir, &st, err);
}

/* State entries a running workload covers: its own, the same cgroup's, and
 * containers whose recorded process is one of its processes. */
static void forget_entries(struct sp_state *st, const struct sp_workload *w, const char *name)
{
	_cleanup_(pid_list_free) struct pid_list l = { 0 };
	struct ksm_target t = workload_target(w);
	size_t i = 0;

	if (ksm_target_pids(&t, &l, NULL) < 0)
		l.n = 0;
	while (i < st->n_containers) {
		const struct sp_container *c = &st->containers[i];

		if (strcmp(c->id, name) == 0 || (t.cgroup && c->cgroup && strcmp(c->cgroup, t.cgroup) == 0) ||
		    pid_list_contains(&l, c->pid))
			sp_state_remove(st, c->id);
		else
			i++;
	}
}

int sp_forget(const struct sp_node_paths *paths, const struct sp_workload *w, struct sp_admission *a,
	      sp_error_t *err)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_free_ char *name = NULL;
	int ret;

	memset(a, 0, sizeof(*a));
	name = sp_workload_name(w);
	if (!name)
		return sp_error_set(err, ENOMEM, "workload name");
	lock = sp_state_open(paths->state_dir, &st, err);
	if (lock < 0)
		return lock;
	sp_state_prune(&st, NULL);

	if (w->scope == KSM_SCOPE_CONTAINER_INIT) {
		sp_state_remove(&st, name);
	} else {
		struct ksm_target t = workload_target(w);

		ret = ksm_target_switch(&t, false, &a->sw, err);
		if (ret < 0)
			return ret;
		forget_entries(&st, w, name);
	}
	if (sp_state_enabled_count(&st) == 0 && st.ksmd_managed) {
		ret = ksmd_release(&st, err);
		if (ret < 0) {
			sp_state_save(paths->state_dir, &st, NULL);
			return ret;
		}
	}
	return sp_state_save(paths->state_dir, &st, err);
}
