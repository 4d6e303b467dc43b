/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Admission: where a workload is enabled and forgotten.  The hook admits a
 * container's init at createRuntime and forgets it at poststop; `samepage
 * enable`/`disable` admit and forget a running cgroup or pid.  Each is one
 * load-modify-save of the node state under its lock:
 *
 *   admit   check the domain, load the config; under the lock (taken with
 *           the config's lock_timeout_ms): load (recovering a broken
 *           state), prune, decide the domain policy, identify the process
 *           (a container's init through its pidfd: pid 1 of a pid
 *           namespace below ours), record an *intent*, save, unlock;
 *           switch KSM on through the backend (node/backend.h chooses it)
 *           without the lock; under the lock again: confirm the entry (or
 *           turn it into a refusal), take ksmd (node/ksmd.h), save.  A
 *           process killed between the two leaves an intent that prune
 *           resolves from what the target really has (node/state.h);
 *   forget  lock and load, switch KSM off (a running cgroup or pid; a
 *           stopped container has nothing left to switch), drop its
 *           entries (a stopped container: only those whose process is
 *           gone, so a live container reusing the id keeps its entry),
 *           prune, put ksmd back when it was the last, save.
 *
 * A container refused (by the policy, or because KSM could not be turned
 * on) is recorded with the reason, so `samepage status` can say why it runs
 * without KSM; a refused `enable` is answered at the terminal and leaves no
 * entry.
 */
#ifndef SP_ADMIT_H
#define SP_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "base/error.h"
#include "node/backend.h"

struct sp_workload {
	enum ksm_scope scope;
	const char *id;         /* container: its OCI id; else NULL (see sp_workload_name) */
	pid_t pid;              /* container: its init; process: that process */
	pid_t runtime_pid;      /* container: the runtime process that ran the hook */
	const char *cgroup;     /* cgroup: the canonical path of the directory */
	const char *domain;     /* full form (node/domain.h); NULL: SP_DEFAULT_DOMAIN */
};

/* Config file and state directory (sp_config_path(), sp_state_dir()). */
struct sp_node_paths {
	const char *config;
	const char *state_dir;
};

struct sp_admission {
	const char *domain;       /* the domain admitted (the request's, or the default) */
	bool again;               /* the container was enabled already (a runtime that runs both
				   * createRuntime and prestart calls the hook twice) */
	bool refused;             /* by the domain policy; the error says why */
	struct ksm_switched sw;   /* backend, and for a running workload what each pass did */
	char *ksmd_warning;       /* ksmd could not be taken; the workload is enabled all the same */
	char *state_warning;      /* the state was recovered, or the record could not be confirmed */
};

void sp_admission_free(struct sp_admission *a);

/* "cgroup:<path>" or "pid:<pid>" for a running workload, the id for a
 * container: the workload's id in the node state.  malloc'd; NULL on ENOMEM. */
char *sp_workload_name(const struct sp_workload *w);

/* Admit w.  The domain is derived by the caller (sp_domain_derive() for a
 * container, sp_domain_from_option() for --domain, node/domain.h), which
 * names where a bad value came from; admit checks its form again.
 * Returns 0 when KSM is on for it; -EPERM when the domain policy
 * refused it (a->refused; the error keeps -EPERM through every wrap);
 * another negative errno when it could not be enabled.  Errors do not name
 * the workload: the caller does (once). */
int sp_admit(const struct sp_node_paths *paths, const struct sp_workload *w, struct sp_admission *a,
	     sp_error_t *err);

/* Forget w: switch KSM off for a running cgroup or pid, drop what the state
 * says about it (a running workload: its own entry, entries of the same
 * cgroup, and containers whose recorded process is one of its processes),
 * and put ksmd back when no enabled workload is left. */
int sp_forget(const struct sp_node_paths *paths, const struct sp_workload *w, struct sp_admission *a,
	      sp_error_t *err);

#endif
