/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one cgroup-level interface over the two backends:
 *   native  the `ksm` cgroup v2 controller of samepage's kernel patches:
 *           enabling is a write to the container's ksm.enable;
 *   stock   any kernel >= 6.7: the container's init runs
 *           prctl(PR_SET_MEMORY_MERGE) by ptrace injection before it execs
 *           the entrypoint, which inherits it.
 */
#ifndef SP_BACKEND_H
#define SP_BACKEND_H

#include <stdbool.h>
#include <sys/types.h>
#include "base/error.h"

enum ksm_backend {
	KSM_BACKEND_STOCK,
	KSM_BACKEND_NATIVE,
};

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

#endif
