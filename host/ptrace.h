/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Holding another process with ptrace: seize it, bring it to a stop, step it
 * from syscall stop to syscall stop, and let it go as it was.  The one path
 * for everything samepage does to a live process (the prctl injection in
 * inject.h, reading seccomp filters in seccomp.h).
 *
 * The safety rules live here, once:
 *  - the tracee is seized (no SIGSTOP of our own) and interrupted;
 *  - when a pidfd is given it is checked after the seize, so a recycled pid
 *    is never held past the check;
 *  - while its registers are its own, a signal it takes is delivered as
 *    usual; while they are not (tracee_step_syscall), signals are held and
 *    re-sent after the detach, and a fault the detour causes stops the work;
 *  - tracee_release() brings a running tracee back to a stop, undoes what
 *    was changed (signal mask, the caller's registers), detaches, re-sends
 *    held signals, and collects the exit of a tracee that died meanwhile.
 *
 * Messages name only the step ("ptrace seize", "wait for interrupt stop:
 * process exited"); callers add which process and why with sp_error_wrap.
 */
#ifndef SP_PTRACE_H
#define SP_PTRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"

#define TRACEE_HELD_MAX 64

struct tracee {
	pid_t pid;
	bool attached;         /* seized by us, must be released */
	bool stopped;          /* in a ptrace stop, so it can be inspected/detached */
	bool gone;             /* exited or was killed while we held it */
	bool mask_changed;     /* signal mask differs from saved_mask */
	uint64_t saved_mask;   /* the kernel's sigset_t: 64 signals */
	int held[TRACEE_HELD_MAX]; /* signals suppressed at signal-delivery-stops */
	int n_held;
};

/* Seize pid (PTRACE_O_TRACESYSGOOD) into *t.  With pidfd >= 0 the process
 * is checked alive before (cheap) and after the seize (the check that
 * counts: while the pidfd's process exists, the pid is its own).  -ESRCH
 * when it exited.  Call tracee_release() whatever this returns. */
int tracee_seize(struct tracee *t, pid_t pid, int pidfd, sp_error_t *err);

/* Interrupt the seized, running tracee and wait for the interrupt stop.
 * Signals it takes on the way are delivered (its registers are its own). */
int tracee_interrupt(struct tracee *t, sp_error_t *err);

/* Block every blockable signal in the stopped tracee for a detour (the old
 * mask is put back by tracee_restore_mask or tracee_release), so those that
 * arrive meanwhile stay pending with their siginfo. */
int tracee_block_signals(struct tracee *t, sp_error_t *err);
int tracee_restore_mask(struct tracee *t, sp_error_t *err);

/* From a stop, let the tracee run to its next syscall-entry or -exit stop;
 * which ("entry", "exit") names the step in messages.  Signals met on the
 * way are held; -EFAULT when the tracee faulted, -ESRCH when it died. */
int tracee_step_syscall(struct tracee *t, const char *which, sp_error_t *err);

/* Leave the tracee as we found it (see the top of this file).  undo, when
 * not NULL, runs at the stop before the detach to put back the caller's own
 * changes (registers). */
void tracee_release(struct tracee *t, void (*undo)(struct tracee *t, void *arg), void *arg);

#endif
