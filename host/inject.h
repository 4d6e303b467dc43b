/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Make another process run prctl(PR_SET_MEMORY_MERGE, on, 0, 0, 0) by ptrace
 * syscall injection.  Works on a tracee that is blocked in a syscall or
 * running in user space: the tracee is seized and interrupted, the syscall
 * runs at a `syscall` instruction (the one the tracee is stopped after, or one
 * in its vDSO), the registers are restored so an interrupted syscall is
 * re-issued (restart_syscall where the kernel would use it).  Signals are
 * blocked in the tracee for the detour, so those that arrive meanwhile stay
 * pending and are delivered right after the detach; the few that cannot be
 * blocked (SIGSTOP) are held and re-sent.  Only the thread pid is stopped;
 * the other threads of the process keep running.
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

/* Run prctl(PR_SET_MEMORY_MERGE, on ? 1 : 0, 0, 0, 0) inside pid.  pidfd must
 * refer to the same process (from pidfd_open); it is checked to be alive
 * after the seize so a recycled pid is never touched.  Returns 0 when the
 * prctl ran and returned 0 in the tracee; -errno (with a message naming the
 * pid and the step) otherwise; when the prctl itself failed in the tracee the
 * return is its -errno and result->retval holds it.  Blocks until the tracee
 * reaches a ptrace stop: one in uninterruptible sleep (a vfork parent waiting
 * for its child) is waited for. */
int inject_prctl_memory_merge(int pidfd, pid_t pid, bool on, struct inject_result *result, sp_error_t *err);

#endif
