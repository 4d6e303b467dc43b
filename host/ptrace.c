/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Seize, stop, step and release a tracee; see ptrace.h for the rules.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/kernel-abi.h"
#include "host/ptrace.h"

enum stop_kind {
	STOP_EVENT,   /* PTRACE_EVENT_STOP: our interrupt, or a group-stop */
	STOP_SYSCALL, /* syscall entry or exit (SIGTRAP | 0x80) */
	STOP_SIGNAL,  /* signal-delivery-stop */
	STOP_OTHER,
};

static void tracee_hold_signal(struct tracee *t, int sig)
{
	/* A full list coalesces like pending standard signals do. */
	if (t->n_held == TRACEE_HELD_MAX) {
		for (int i = 0; i < t->n_held; i++)
			if (t->held[i] == sig)
				return;
		t->held[TRACEE_HELD_MAX - 1] = sig;
		return;
	}
	t->held[t->n_held++] = sig;
}

/* Wait for the next stop.  -ESRCH when the tracee exited or was killed. */
static int tracee_wait(struct tracee *t, enum stop_kind *kind, int *sig)
{
	int status;

	for (;;) {
		if (waitpid(t->pid, &status, __WALL) >= 0)
			break;
		if (errno != EINTR)
			return -errno;
	}
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		t->gone = true;
		t->stopped = false;
		return -ESRCH;
	}
	if (!WIFSTOPPED(status))
		return -ECHILD;

	t->stopped = true;
	*sig = WSTOPSIG(status);
	switch ((unsigned int)status >> 16) {
	case 0:
		*kind = *sig == (SIGTRAP | 0x80) ? STOP_SYSCALL : STOP_SIGNAL;
		break;
	case PTRACE_EVENT_STOP:
		*kind = STOP_EVENT;
		break;
	default:
		*kind = STOP_OTHER;
		break;
	}
	return 0;
}

/* A fault caused by our detour (the syscall instruction was not executable
 * after all): suppressing it would make the tracee fault again forever, and
 * re-sending it would kill it for something it did not do. */
static bool tracee_signal_is_fault(struct tracee *t, int sig)
{
	siginfo_t si;

	if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE)
		return false;
	if (ptrace(PTRACE_GETSIGINFO, t->pid, NULL, &si) < 0)
		return false;
	return si.si_code > 0; /* raised by the kernel, not sent by someone */
}

/* Wait for a stop of kind want; any other stop is resumed with request
 * (PTRACE_CONT or PTRACE_SYSCALL).  At a signal-delivery-stop the signal is
 * delivered as usual while the registers are still the tracee's own
 * (deliver), else held and suppressed.  Group-stops are resumed too: the
 * kernel puts the tracee back into its group-stop when we detach. */
static int tracee_wait_for(struct tracee *t, int request, enum stop_kind want, bool deliver)
{
	for (;;) {
		enum stop_kind kind;
		int sig, r;

		r = tracee_wait(t, &kind, &sig);
		if (r < 0)
			return r;
		if (kind == want)
			return 0;
		if (kind == STOP_SIGNAL && !deliver) {
			if (tracee_signal_is_fault(t, sig))
				return -EFAULT;
			tracee_hold_signal(t, sig);
		}
		if (ptrace(request, t->pid, NULL, (void *)(long)(kind == STOP_SIGNAL && deliver ? sig : 0)) < 0)
			return -errno;
		t->stopped = false;
	}
}

static bool pidfd_gone(int pidfd)
{
	return pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0;
}

int tracee_seize(struct tracee *t, pid_t pid, int pidfd, sp_error_t *err)
{
	*t = (struct tracee) { .pid = pid };
	if (pid <= 0)
		return sp_error_set(err, EINVAL, "invalid pid");

	/* Cheap first look, so a pid that is obviously someone else's by now is
	 * not even seized; the check after the seize is the one that counts. */
	if (pidfd_gone(pidfd))
		return sp_error_set(err, errno, "check pidfd: process exited");

	if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)(long)PTRACE_O_TRACESYSGOOD) < 0)
		return sp_error_set(err, errno, "ptrace seize");
	t->attached = true;

	/* Checked after the seize, so the answer holds for the task we hold:
	 * while the pidfd's process exists its pid is its own; once it is
	 * gone, the pid we seized may already be someone else's. */
	if (pidfd_gone(pidfd))
		return sp_error_set(err, errno, "check pidfd: process exited, pid may be reused");
	return 0;
}

int tracee_interrupt(struct tracee *t, sp_error_t *err)
{
	int r;

	if (ptrace(PTRACE_INTERRUPT, t->pid, NULL, NULL) < 0)
		return sp_error_set(err, errno, "ptrace interrupt");
	/* Until the interrupt stop the tracee runs on its own registers, so
	 * a signal it takes meanwhile is simply delivered; the pending
	 * interrupt then stops it before the handler's first instruction. */
	r = tracee_wait_for(t, PTRACE_CONT, STOP_EVENT, true);
	if (r == -ESRCH)
		return sp_error_set(err, ESRCH, "wait for interrupt stop: process exited");
	if (r < 0)
		return sp_error_set(err, -r, "wait for interrupt stop");
	return 0;
}

/* GETSIGMASK reports the mask the tracee returns to user space with (the
 * saved one while ppoll/pselect/sigsuspend has a temporary mask installed);
 * SETSIGMASK drops the temporary one.  Restoring the reported mask after the
 * re-issued syscall is therefore exact: the syscall installs its temporary
 * mask again itself. */
int tracee_block_signals(struct tracee *t, sp_error_t *err)
{
	uint64_t all = ~(uint64_t)0;

	if (ptrace(PTRACE_GETSIGMASK, t->pid, (void *)sizeof(t->saved_mask), &t->saved_mask) < 0)
		return sp_error_set(err, errno, "get signal mask");
	t->mask_changed = true;
	if (ptrace(PTRACE_SETSIGMASK, t->pid, (void *)sizeof(all), &all) < 0)
		return sp_error_set(err, errno, "block signals");
	return 0;
}

int tracee_restore_mask(struct tracee *t, sp_error_t *err)
{
	if (ptrace(PTRACE_SETSIGMASK, t->pid, (void *)sizeof(t->saved_mask), &t->saved_mask) < 0)
		return sp_error_set(err, errno, "restore signal mask");
	t->mask_changed = false;
	return 0;
}

int tracee_step_syscall(struct tracee *t, const char *which, sp_error_t *err)
{
	int r;

	if (ptrace(PTRACE_SYSCALL, t->pid, NULL, NULL) < 0)
		return sp_error_set(err, errno, "ptrace syscall (%s)", which);
	t->stopped = false;
	r = tracee_wait_for(t, PTRACE_SYSCALL, STOP_SYSCALL, false);
	if (r == -ESRCH)
		return sp_error_set(err, ESRCH, "wait for syscall %s: process exited", which);
	if (r == -EFAULT)
		return sp_error_set(err, EFAULT, "wait for syscall %s: tracee faulted", which);
	if (r < 0)
		return sp_error_set(err, -r, "wait for syscall %s", which);
	return 0;
}

/* Whatever state the work ended in: bring the tracee to a stop if it is
 * running, undo our changes, detach, and re-send the signals it did not
 * get.  Any stop will do for the undo: at a syscall-entry stop restored
 * registers make the kernel skip the syscall, at the others they are what
 * the tracee resumes with.  A detach that fails because the tracee left its
 * stop (it was killed) is followed by collecting its exit, which we owe as
 * tracer: its parent could not reap it before. */
void tracee_release(struct tracee *t, void (*undo)(struct tracee *t, void *arg), void *arg)
{
	if (!t->attached)
		return;
	for (int tries = 0; tries < 3 && !t->gone; tries++) {
		if (!t->stopped) {
			enum stop_kind kind;
			int sig;

			(void)ptrace(PTRACE_INTERRUPT, t->pid, NULL, NULL);
			if (tracee_wait(t, &kind, &sig) < 0)
				break;
			if (kind == STOP_SIGNAL)
				tracee_hold_signal(t, sig);
		}
		if (undo)
			undo(t, arg);
		if (t->mask_changed)
			(void)tracee_restore_mask(t, NULL);
		if (ptrace(PTRACE_DETACH, t->pid, NULL, NULL) == 0)
			break;
		t->stopped = false;
	}
	t->attached = false;

	for (int i = 0; i < t->n_held && !t->gone; i++)
		(void)syscall(SYS_tgkill, t->pid, t->pid, t->held[i]);
}
