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
 *  - the tracee's signal mask is never changed.  While its registers are its
 *    own, a signal it takes is delivered as usual; while they are not
 *    (tracee_step_syscall), a signal reaches us as a signal-delivery-stop and
 *    is held (suppressed) and re-sent after the detach, and a fault the
 *    detour causes stops the work.  A tracer killed at any instant therefore
 *    leaves the mask as it was (the kernel detaches a dead tracer's tracees);
 *    what it can leave behind is doctored registers, which exit_kill turns
 *    into the tracee's death (see docs/hardening.md);
 *  - every wait has a deadline (opts.timeout_ms from the seize): a tracee
 *    that does not reach the stop we wait for in time (a vfork parent, a
 *    killable wait for a seccomp supervisor) ends the work with -ETIMEDOUT;
 *  - while a tracee is held, the tracer blocks SIGCHLD (to wait for stops
 *    with sigtimedwait) and the signals that ask it to terminate (SIGINT,
 *    SIGTERM, SIGHUP, SIGQUIT), so a Ctrl-C or a runtime's SIGTERM takes
 *    effect after the release; only SIGKILL can cut a hold short;
 *  - tracee_release() brings a running tracee back to a stop, undoes what
 *    was changed (the caller's registers), detaches, re-sends held signals,
 *    and collects the exit of a tracee that died meanwhile.
 *
 * Messages name only the step ("ptrace seize", "wait for interrupt stop:
 * process exited"); callers add which process and why with sp_error_wrap.
 */
#ifndef SP_PTRACE_H
#define SP_PTRACE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"

#define TRACEE_HELD_MAX 64
/* A tracee that is not stopped after this long is given up (see above):
 * seizing, injecting and releasing a process take well under a millisecond
 * when it can be stopped at all. */
#define TRACEE_TIMEOUT_MS_DEFAULT 1000
/* How long tracee_release() waits to bring a tracee that ran past the
 * deadline back to a stop, to undo and detach. */
#define TRACEE_RELEASE_GRACE_MS 200

struct tracee_opts {
	int pidfd;              /* the process's pidfd, or -1 */
	unsigned int timeout_ms; /* 0: TRACEE_TIMEOUT_MS_DEFAULT */
	bool exit_kill;         /* PTRACE_O_EXITKILL: the tracee dies if we do */
};

struct tracee {
	pid_t pid;
	int pidfd;
	bool attached;         /* seized by us, must be released */
	bool stopped;          /* in a ptrace stop, so it can be inspected/detached */
	bool gone;             /* exited or was killed while we held it */
	bool left_attached;    /* release could not stop it: the kernel detaches it when we exit */
	bool tracer_masked;    /* tracer_mask holds our own mask to put back */
	bool foreign_chld;     /* a wait took a SIGCHLD about another child */
	uint64_t deadline_ns;  /* CLOCK_MONOTONIC */
	sigset_t tracer_mask;
	int held[TRACEE_HELD_MAX]; /* signals suppressed at signal-delivery-stops */
	int n_held;
};

/* Seize pid (PTRACE_O_TRACESYSGOOD) into *t; opts may be NULL (no pidfd,
 * default timeout, no exit_kill).  With a pidfd the process is checked
 * alive before (cheap) and after the seize (the check that counts: while
 * the pidfd's process exists, the pid is its own).  -ESRCH when it exited.
 * Call tracee_release() whatever this returns. */
int tracee_seize(struct tracee *t, pid_t pid, const struct tracee_opts *opts, sp_error_t *err);

/* Interrupt the seized, running tracee and wait for the interrupt stop.
 * Signals it takes on the way are delivered (its registers are its own).
 * -ETIMEDOUT when it does not stop before the deadline. */
int tracee_interrupt(struct tracee *t, sp_error_t *err);

/* From a stop, let the tracee run to its next syscall-entry or -exit stop;
 * which ("entry", "exit") names the step in messages.  Signals met on the
 * way are held; -EFAULT when the tracee faulted, -ESRCH when it died,
 * -ETIMEDOUT at the deadline. */
int tracee_step_syscall(struct tracee *t, const char *which, sp_error_t *err);

/* Leave the tracee as we found it (see the top of this file).  undo, when
 * not NULL, runs at the stop before the detach to put back the caller's own
 * changes (registers). */
void tracee_release(struct tracee *t, void (*undo)(struct tracee *t, void *arg), void *arg);

/* Wait for one ptrace stop of pid (waitpid(__WALL) status in *status) until
 * the CLOCK_MONOTONIC deadline_ns; SIGCHLD must be blocked in the calling
 * thread.  0, -ETIMEDOUT, or -errno of waitpid.  *foreign_chld (may be
 * NULL) is set when the wait consumed a SIGCHLD about another process.
 * Exposed for the tests. */
int ptrace_wait_until(pid_t pid, int *status, uint64_t deadline_ns, bool *foreign_chld);
uint64_t ptrace_now_ns(void);

#endif
