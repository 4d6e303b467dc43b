/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Make another process run prctl(PR_SET_MEMORY_MERGE, on, 0, 0, 0) by ptrace
 * syscall injection.  Works on a tracee that is blocked in a syscall or
 * running in user space: the tracee is seized and interrupted, the syscall
 * runs at a `syscall` instruction (the one the tracee is stopped after, or one
 * in its vDSO), the registers are restored so an interrupted syscall is
 * re-issued (restart_syscall where the kernel would use it).  The tracee's
 * signal mask is never changed: signals that arrive during the detour are
 * held by the tracer at their delivery stop and re-sent after the detach
 * (host/ptrace.h).  Every wait has a deadline.  Only the thread pid is
 * stopped; the other threads of the process keep running.
 *
 * The caller decides whether the pid may be touched: this module does not
 * check who the process is.  The pidfd pins the identity of the process; the
 * pid is needed for ptrace itself.
 *
 * The architecture-specific part (registers, syscall instruction, syscall
 * numbers, restart codes) lives in host/arch/<arch>.c behind
 * host/arch/arch.h.
 */
#ifndef SP_INJECT_H
#define SP_INJECT_H

#include <stdbool.h>
#include <sys/types.h>
#include "base/error.h"

struct inject_result {
	long retval;          /* prctl's return value in the tracee (0 or -errno) */
	int signals_held;     /* unblockable signals taken during injection and re-sent */
	bool restarted;       /* the tracee's interrupted syscall was set up to restart */
};

struct inject_opts {
	unsigned int timeout_ms; /* 0: TRACEE_TIMEOUT_MS_DEFAULT (host/ptrace.h) */
	bool exit_kill;          /* the tracee dies if we die holding it (a container's init) */
};

/* Run prctl(PR_SET_MEMORY_MERGE, on ? 1 : 0, 0, 0, 0) inside pid.  pidfd must
 * refer to the same process (from pidfd_open); it is checked to be alive
 * after the seize so a recycled pid is never touched.  Returns 0 when the
 * prctl ran and returned 0 in the tracee; -errno (with a message naming the
 * pid and the step) otherwise; when the prctl itself failed in the tracee the
 * return is its -errno and result->retval holds it.  Blocks until the tracee
 * reaches a ptrace stop, at most the timeout: one that cannot be stopped (a
 * vfork parent waiting for its child) ends it with -ETIMEDOUT.  The default
 * opts: the default timeout, no exit_kill. */
int inject_prctl_memory_merge(int pidfd, pid_t pid, bool on, struct inject_result *result, sp_error_t *err);
int inject_prctl_memory_merge_opts(int pidfd, pid_t pid, bool on, const struct inject_opts *opts,
				   struct inject_result *result, sp_error_t *err);

#endif
