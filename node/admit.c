/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "node/admit.h"
#include "node/config.h"
#include "node/domain-kernel.h"
#include "cgroupfs/native.h"
#include "cgroupfs/native-domain.h"
#include "node/ksmd.h"
#include "node/policy.h"
#include "node/state.h"
#include "node/unattributed.h"
#include "host/pidfd.h"
#include "host/proc.h"

void sp_admission_free(struct sp_admission *a)
{
	ksm_switched_free(&a->sw);
	free(a->ksmd_warning);
	a->ksmd_warning = NULL;
	free(a->state_warning);
	a->state_warning = NULL;
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

/* The oldest process stands for a running workload in an `enable` entry of
 * a single process; a cgroup's entry lives as long as any process of the
 * cgroup has KSM (sp_state_prune). */
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

/* Which process the entry is about, before anything is recorded: a
 * container's init checked through its pidfd (pid 1 of a pid namespace
 * below ours), or a running workload's oldest process. */
static int identify(const struct sp_workload *w, struct sp_container *rec, sp_error_t *err)
{
	struct proc_info rep = { 0 };
	int ret;

	if (w->scope == KSM_SCOPE_CONTAINER_INIT)
		return pidfd_check_ns_init(w->pid, &rec->start_time, err);
	ret = representative(w, &rep, err);
	if (ret < 0)
		return ret;
	rec->pid = rep.pid;
	rec->start_time = rep.start_time;
	/* One process: the entry is what it forks, too (node/state.h). */
	if (w->scope == KSM_SCOPE_PROCESS)
		return sp_lineage_start(rec, err);
	return 0;
}

/* The kernel domain first (domain policy kernel): ksm.domain of the
 * workload's own cgroup, then ksm.enable (node/domain-kernel.h). */
static int assign_kdomain(const struct sp_workload *w, const struct sp_container *rec, sp_error_t *err)
{
	_cleanup_free_ char *cg = NULL;
	int ret = 0;

	if (w->scope == KSM_SCOPE_CGROUP)
		cg = strdup(w->cgroup);
	else
		ret = ksm_native_cgroup_of_pid(w->pid, &cg, err);
	if (ret == 0 && !cg)
		ret = sp_error_set(err, ENOMEM, "cgroup");
	if (ret == 0)
		ret = ksm_domain_assign(cg, rec->kdomain, w->scope == KSM_SCOPE_CGROUP ? 0 : w->pid, err);
	return ret < 0 ? sp_error_wrap(err, "kernel domain %llu", (unsigned long long)rec->kdomain) : 0;
}

/* A container's init, confirmed to be the runtime's child first. */
static int switch_on_container(const struct sp_workload *w, struct sp_container *rec, struct sp_admission *a,
			       sp_error_t *err)
{
	struct ksm_enabled en = { 0 };
	int ret;

	if (rec->kdomain) {
		ret = assign_kdomain(w, rec, err);
		if (ret < 0) {
			a->sw.backend = KSM_BACKEND_NATIVE;
			return ret;
		}
	}
	ret = ksm_container_init_enable(w->pid, w->runtime_pid, true, &en, err);
	a->sw.backend = en.backend;
	rec->cgroup = en.cgroup;
	if (ret == 0 && en.start_time != rec->start_time)
		return sp_error_setx(err, ESRCH, "pid %d is another process than the one recorded", (int)w->pid);
	return ret;
}

static int switch_on_running(const struct sp_workload *w, struct sp_container *rec, struct sp_admission *a,
			     sp_error_t *err)
{
	struct ksm_target t = workload_target(w);
	int ret;

	if (rec->kdomain) {
		ret = assign_kdomain(w, rec, err);
		if (ret < 0)
			return ret;
	}
	ret = ksm_target_switch(&t, true, &a->sw, err);
	if (ret < 0)
		return ret;
	if (a->sw.backend == KSM_BACKEND_STOCK && a->sw.changed + a->sw.already == 0)
		return sp_error_set(err, EPERM, "no process could be enabled");
	if (w->cgroup) {
		rec->cgroup = strdup(w->cgroup);
		if (!rec->cgroup)
			return sp_error_set(err, ENOMEM, "cgroup path");
	}
	return 0;
}

/* Switch KSM on, without the state lock; rec gets what the state records
 * (rec->cgroup malloc'd, also on failure). */
static int switch_on(const struct sp_workload *w, struct sp_container *rec, struct sp_admission *a,
		     sp_error_t *err)
{
	int ret;

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

	if (w->scope != KSM_SCOPE_CONTAINER_INIT) {
		sp_state_save(paths->state_dir, st, NULL); /* what prune refreshed (lineages) */
		return ret;
	}
	if (rec->start_time == 0 && proc_info_read(w->pid, &pi, NULL) == 0)
		rec->start_time = pi.start_time;
	rec->enabled = false;
	rec->intent = false;
	rec->reason = (char *)sp_error_msg(*err);
	rec->cgroup = NULL;
	rec->backend = NULL;
	rec->since = time(NULL);
	sp_state_add(st, rec, NULL);
	sp_state_save(paths->state_dir, st, NULL);
	return ret;
}

/* ksmd not running is not the workload's failure: it is enabled, and
 * whoever runs ksmd decides when pages merge. */
static int save_state(struct sp_state *st, void *state_dir, sp_error_t *err)
{
	return sp_state_save(state_dir, st, err);
}

static void take_ksmd(const struct sp_node_paths *paths, struct sp_state *st, const struct sp_config *cfg,
		      struct sp_admission *a)
{
	_cleanup_error_ sp_error_t kerr = NULL;

	if (ksmd_take_logged(st, cfg, save_state, (void *)paths->state_dir, &kerr) < 0)
		a->ksmd_warning = strdup(sp_error_msg(kerr));
}

/* Lock (bounded by the config) and load; a recovered state is the
 * caller's warning, not a failure. */
static int open_state(const struct sp_node_paths *paths, const struct sp_config *cfg, struct sp_state *st,
		      struct sp_admission *a, sp_error_t *err)
{
	int lock = sp_state_open_timed(paths->state_dir, cfg->lock_timeout_ms, st, err);

	if (lock >= 0 && st->recovered_now && st->recovered && !a->state_warning)
		a->state_warning = strdup(st->recovered);
	return lock;
}

/* This init (id and pid; prune checked its start time) is enabled. */
static bool enabled_init(const struct sp_state *st, const char *id, pid_t pid)
{
	size_t i;

	for (i = 0; i < st->n_containers; i++) {
		const struct sp_container *c = &st->containers[i];

		if (c->enabled && !c->intent && c->pid == pid && strcmp(c->id, id) == 0)
			return true;
	}
	return false;
}

/* The policy in force for w (node/domain-kernel.h) and, under `kernel`,
 * its domain's kernel id in rec (allocated in st) and deny_unmanaged
 * kept. */
static int kernel_plan(const struct sp_config *cfg, const struct sp_workload *w, struct sp_state *st,
		       struct sp_container *rec, enum sp_domain_policy *policy, sp_error_t *err)
{
	_cleanup_free_ char *cg = NULL;
	bool available = false;
	int ret;

	if (ksm_backend_choose(w->scope, w->cgroup) == KSM_BACKEND_NATIVE) {
		if (w->scope == KSM_SCOPE_CGROUP)
			cg = strdup(w->cgroup);
		else if (ksm_native_cgroup_of_pid(w->pid, &cg, NULL) < 0)
			cg = NULL;
		available = cg && ksm_domain_available_at(cg);
	}
	ret = sp_policy_effective(cfg, available, cg, policy, err);
	if (ret < 0 || *policy != SP_POLICY_KERNEL)
		return ret;
	ret = sp_kdomain_deny_unmanaged(cfg, cg, err);
	if (ret == 0)
		ret = sp_kdomain_id(st, rec->domain, &rec->kdomain, err);
	return ret;
}

/* Under the lock: is it enabled already (a runtime that runs both
 * createRuntime and prestart), does the policy allow it, then record the
 * intent so that a hook killed while injecting leaves a trace prune can
 * resolve.  Returns 1 when there is nothing to switch. */
static int record_intent(const struct sp_node_paths *paths, const struct sp_config *cfg,
			 const struct sp_workload *w, struct sp_container *rec, struct sp_admission *a,
			 sp_error_t *err)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	enum sp_domain_policy policy;
	struct proc_info self;
	struct sp_verdict v;
	int ret;

	lock = open_state(paths, cfg, &st, a, err);
	if (lock < 0)
		return lock;
	sp_state_prune(&st, NULL);
	if (w->scope == KSM_SCOPE_CONTAINER_INIT && enabled_init(&st, rec->id, w->pid)) {
		a->again = true;
		return 1;
	}
	ret = kernel_plan(cfg, w, &st, rec, &policy, err);
	if (ret < 0) {
		a->refused = ret == -EPERM;
		return refuse(paths, &st, w, rec, ret, err);
	}
	/* A container never counts as its own owner by id: a second container
	 * reusing an owner's id is judged like any other. */
	v = sp_policy_decide(&st, policy, a->domain, w->scope == KSM_SCOPE_CONTAINER_INIT ? "" : rec->id);
	if (!v.allow) {
		a->refused = true;
		return refuse(paths, &st, w, rec, sp_verdict_error(&v, a->domain, err), err);
	}
	ret = policy == SP_POLICY_KERNEL ? 0 : sp_unattributed_gate(&st, cfg, a->domain, err);
	if (ret < 0) {
		a->refused = ret == -EPERM;
		return refuse(paths, &st, w, rec, ret, err);
	}
	ret = identify(w, rec, err);
	if (ret < 0)
		return refuse(paths, &st, w, rec, ret, err);
	if (w->scope != KSM_SCOPE_CONTAINER_INIT)
		sp_state_remove(&st, rec->id); /* a workload enabled again: one entry */
	rec->intent = true;
	rec->owner_pid = getpid();
	rec->owner_start = proc_info_read(rec->owner_pid, &self, NULL) == 0 ? self.start_time : 0;
	rec->since = time(NULL);
	ret = sp_state_add(&st, rec, err);
	if (ret == 0)
		ret = sp_state_save(paths->state_dir, &st, err);
	return ret < 0 ? sp_error_wrap(err, "record intent") : 0;
}

/* Under the lock again: the intent becomes what happened (found by id and
 * process; added again when a recovery lost it meanwhile).  A container
 * that could not be enabled is recorded as refused; a running workload's
 * failure is answered at the terminal and leaves no entry. */
static int confirm(const struct sp_node_paths *paths, const struct sp_config *cfg, const struct sp_workload *w,
		   struct sp_container *rec, int switched, struct sp_admission *a, sp_error_t *err)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_error_ sp_error_t lerr = NULL;
	int ret;

	lock = open_state(paths, cfg, &st, a, &lerr);
	if (lock < 0) {
		/* The intent stays; prune resolves it from the process. */
		if (switched == 0 && asprintf(&a->state_warning, "KSM is on, but its record could not be confirmed: %s",
					      sp_error_msg(lerr)) < 0)
			a->state_warning = NULL;
		return switched;
	}
	sp_state_remove_entry(&st, rec->id, rec->pid, rec->start_time);
	rec->intent = false;
	rec->owner_pid = 0;
	rec->owner_start = 0;
	rec->enabled = switched == 0;
	rec->reason = switched < 0 ? (char *)sp_error_msg(*err) : NULL;
	if (switched < 0) {
		rec->cgroup = NULL;
		if (w->scope == KSM_SCOPE_CONTAINER_INIT)
			sp_state_add(&st, rec, NULL);
		sp_state_save(paths->state_dir, &st, NULL);
		return switched;
	}
	ret = sp_state_add(&st, rec, err);
	if (ret < 0)
		return ret;
	take_ksmd(paths, &st, cfg, a);
	return sp_state_save(paths->state_dir, &st, err);
}

int sp_admit(const struct sp_node_paths *paths, const struct sp_workload *w, struct sp_admission *a,
	     sp_error_t *err)
{
	_cleanup_free_ char *name = NULL, *cgroup = NULL;
	_cleanup_(sp_config_free) struct sp_config cfg = { 0 };
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

	struct sp_container rec = { .id = name, .domain = (char *)a->domain, .pid = w->pid, .enabled = true };

	ret = record_intent(paths, &cfg, w, &rec, a, err);
	if (ret != 0) {
		free(rec.members);
		return ret > 0 ? 0 : ret;
	}
	ret = switch_on(w, &rec, a, err);
	cgroup = rec.cgroup; /* freed here, whatever confirm does with rec */
	ret = confirm(paths, &cfg, w, &rec, ret, a, err);
	free(rec.members);
	return ret;
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
		    pid_list_contains(&l, c->pid)) {
			sp_kdomain_release(st, c, NULL);
			sp_state_remove(st, c->id);
		}
		else
			i++;
	}
}

/* A stopped container: its entries whose process is gone (and, when the
 * runtime still told us its pid, only that process's).  Another container
 * that reuses the id and runs keeps its entry. */
static void forget_stopped(struct sp_state *st, const char *id, pid_t pid)
{
	size_t i = 0;

	while (i < st->n_containers) {
		const struct sp_container *c = &st->containers[i];

		if (strcmp(c->id, id) == 0 && (pid <= 0 || c->pid == pid) &&
		    !sp_probe_proc.alive(c->pid, c->start_time)) {
			sp_kdomain_release(st, c, NULL); /* the runtime may have kept its cgroup */
			sp_state_remove_entry(st, c->id, c->pid, c->start_time);
		}
		else
			i++;
	}
}

int sp_forget(const struct sp_node_paths *paths, const struct sp_workload *w, struct sp_admission *a,
	      sp_error_t *err)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_(sp_config_free) struct sp_config cfg = { 0 };
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_free_ char *name = NULL;
	int ret;

	memset(a, 0, sizeof(*a));
	name = sp_workload_name(w);
	if (!name)
		return sp_error_set(err, ENOMEM, "workload name");
	ret = sp_config_load(paths->config, &cfg, err);
	if (ret < 0)
		return ret;
	lock = open_state(paths, &cfg, &st, a, err);
	if (lock < 0)
		return lock;
	sp_state_prune(&st, NULL);

	if (w->scope == KSM_SCOPE_CONTAINER_INIT) {
		forget_stopped(&st, name, w->pid);
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
