/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one place that chooses how KSM is switched for a workload, and the
 * two ways of doing it:
 *   native  the `ksm` cgroup v2 controller of samepage's kernel patches:
 *           one write to the workload's ksm.enable; the kernel covers every
 *           process of the cgroup, also the ones that join later;
 *   stock   any kernel >= 6.7: prctl(PR_SET_MEMORY_MERGE) injected by
 *           ptrace.  A container's init gets it before it execs the
 *           entrypoint, which inherits it; a running cgroup gets it process
 *           by process, pass after pass until a pass finds nothing left to
 *           do (children forked meanwhile inherit it from an enabled parent,
 *           processes that joined from outside are caught by the next pass).
 */
#ifndef SP_BACKEND_H
#define SP_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "base/error.h"
#include "cgroupfs/cgroup.h"

enum ksm_backend {
	KSM_BACKEND_STOCK,
	KSM_BACKEND_NATIVE,
};

/* What is switched: a container's init at createRuntime, every process of
 * a cgroup directory and its descendant cgroups, or one running process
 * (its threads share its mm; children it forks later inherit KSM). */
enum ksm_scope {
	KSM_SCOPE_CONTAINER_INIT,
	KSM_SCOPE_CGROUP,
	KSM_SCOPE_PROCESS,
};

/*
 * The backend for a scope: native where the kernel has the ksm controller
 * and the scope is a whole cgroup (a container's, found from its init; or
 * cgroup, which must then lie in the cgroup2 hierarchy); stock otherwise.
 */
enum ksm_backend ksm_backend_choose(enum ksm_scope scope, const char *cgroup);

/* The node's backend: what a container gets (for the status report). */
enum ksm_backend ksm_backend_detect(void);
const char *ksm_backend_name(enum ksm_backend b);

struct ksm_enabled {
	enum ksm_backend backend;
	unsigned long long start_time; /* of the init process */
	char *cgroup;                  /* native: the cgroup written; malloc'd */
};

/*
 * Switch KSM on (or off) for the container whose init is pid, a child of
 * runtime_pid (the runtime process that ran the hook).  The identity of the
 * process is confirmed first (proc_confirm_container_init) on every backend;
 * nothing is touched when it is not confirmed.
 */
int ksm_container_init_enable(pid_t pid, pid_t runtime_pid, bool on, struct ksm_enabled *out, sp_error_t *err);

/* A running workload: a cgroup directory (and its descendants), or else
 * one process. */
struct ksm_target {
	const char *cgroup;
	pid_t pid;
};

/* Its live processes, sorted. */
int ksm_target_pids(const struct ksm_target *t, struct pid_list *l, sp_error_t *err);

struct ksm_switched {
	enum ksm_backend backend;
	/* stock: processes changed, found already so, skipped (their seccomp
	 * filter would not allow the prctl), failed; passes made */
	size_t changed, already, skipped, failed, passes;
	/* one line per skipped or failed process: "skipped pid 12 (sh): why" */
	char **notes;
	size_t n_notes;
};

void ksm_switched_free(struct ksm_switched *s);

/* Switch KSM on or off for a running workload.  A process skipped or
 * failed is counted and noted, not an error; giving up after too many
 * passes (a workload that spawns faster than we inject) is. */
int ksm_target_switch(const struct ksm_target *t, bool on, struct ksm_switched *out, sp_error_t *err);

#endif
