/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Seize, stop, step and release a tracee; see ptrace.h for the rules.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/kernel-abi.h"
#include "host/ptrace.h"

/* sigtimedwait slices: a SIGCHLD that never comes (a caller that ignores
 * SIGCHLD gets no stop notifications) costs at most this much latency. */
#define WAIT_SLICE_NS 5000000ULL

enum stop_kind {
	STOP_EVENT,   /* PTRACE_EVENT_STOP: our interrupt, or a group-stop */
	STOP_SYSCALL, /* syscall entry or exit (SIGTRAP | 0x80) */
	STOP_SIGNAL,  /* signal-delivery-stop */
	STOP_OTHER,
};

uint64_t ptrace_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int ptrace_wait_until(pid_t pid, int *status, uint64_t deadline_ns, bool *foreign_chld)
{
	sigset_t chld;
	siginfo_t si;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		pid_t r = waitpid(pid, status, __WALL | WNOHANG);
		uint64_t now, left;
		struct timespec ts;

		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		now = ptrace_now_ns();
		if (now >= deadline_ns)
			return -ETIMEDOUT;
		/* SIGCHLD is blocked, so one sent between waitpid and here stays
		 * pending and ends this wait at once. */
		left = deadline_ns - now;
		if (left > WAIT_SLICE_NS)
			left = WAIT_SLICE_NS;
		ts.tv_sec = (time_t)(left / 1000000000ULL);
		ts.tv_nsec = (long)(left % 1000000000ULL);
		if (sigtimedwait(&chld, &si, &ts) == SIGCHLD && si.si_pid != pid && foreign_chld)
			*foreign_chld = true;
	}
}

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

/* Wait for the next stop until deadline_ns.  -ESRCH when the tracee exited
 * or was killed, -ETIMEDOUT. */
static int tracee_wait(struct tracee *t, uint64_t deadline_ns, enum stop_kind *kind, int *sig)
{
	int status, r;

	r = ptrace_wait_until(t->pid, &status, deadline_ns, &t->foreign_chld);
	if (r < 0)
		return r;
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

		r = tracee_wait(t, t->deadline_ns, &kind, &sig);
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

/* A pidfd polls readable once its process has exited (a zombie counts).
 * Unlike pidfd_send_signal(0) this needs no CAP_KILL. */
static bool pidfd_gone(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return pidfd >= 0 && poll(&p, 1, 0) != 0;
}

/* Block SIGCHLD (for ptrace_wait_until) and the polite termination signals
 * while we hold a tracee; tracee_release puts our mask back. */
static void tracer_mask_signals(struct tracee *t)
{
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	if (sigprocmask(SIG_BLOCK, &block, &t->tracer_mask) == 0)
		t->tracer_masked = true;
}

int tracee_seize(struct tracee *t, pid_t pid, const struct tracee_opts *opts, sp_error_t *err)
{
	struct tracee_opts o = opts ? *opts : (struct tracee_opts) { .pidfd = -1 };
	long options = PTRACE_O_TRACESYSGOOD | (o.exit_kill ? PTRACE_O_EXITKILL : 0);

	*t = (struct tracee) { .pid = pid, .pidfd = o.pidfd };
	if (pid <= 0)
		return sp_error_set(err, EINVAL, "invalid pid");
	t->deadline_ns = ptrace_now_ns() + (uint64_t)(o.timeout_ms ? o.timeout_ms : TRACEE_TIMEOUT_MS_DEFAULT) * 1000000ULL;

	/* Cheap first look, so a pid that is obviously someone else's by now is
	 * not even seized; the check after the seize is the one that counts. */
	if (pidfd_gone(o.pidfd))
		return sp_error_set(err, ESRCH, "check pidfd: process exited");

	tracer_mask_signals(t);
	if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)options) < 0)
		return sp_error_set(err, errno, "ptrace seize");
	t->attached = true;

	/* Checked after the seize, so the answer holds for the task we hold:
	 * while the pidfd's process exists its pid is its own; once it is
	 * gone, the pid we seized may already be someone else's. */
	if (pidfd_gone(o.pidfd))
		return sp_error_set(err, ESRCH, "check pidfd: process exited, pid may be reused");
	return 0;
}

static int wait_error(int r, const char *what, const struct tracee *t, sp_error_t *err)
{
	if (r == -ESRCH)
		return sp_error_set(err, ESRCH, "wait for %s: process exited", what);
	if (r == -EFAULT)
		return sp_error_set(err, EFAULT, "wait for %s: tracee faulted", what);
	if (r == -ETIMEDOUT)
		return sp_error_setx(err, ETIMEDOUT, "wait for %s: not reached within the deadline (state %s); "
				     "given up", what, t->stopped ? "stopped" : "running or blocked in the kernel");
	return sp_error_set(err, -r, "wait for %s", what);
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
	return r < 0 ? wait_error(r, "interrupt stop", t, err) : 0;
}

int tracee_step_syscall(struct tracee *t, const char *which, sp_error_t *err)
{
	char what[32];
	int r;

	if (ptrace(PTRACE_SYSCALL, t->pid, NULL, NULL) < 0)
		return sp_error_set(err, errno, "ptrace syscall (%s)", which);
	t->stopped = false;
	r = tracee_wait_for(t, PTRACE_SYSCALL, STOP_SYSCALL, false);
	if (r < 0) {
		snprintf(what, sizeof(what), "syscall %s", which);
		return wait_error(r, what, t, err);
	}
	return 0;
}

/* Bring a running tracee to a stop within the grace period; false when it
 * cannot be stopped (or died). */
static bool tracee_stop_for_release(struct tracee *t)
{
	uint64_t deadline = ptrace_now_ns() + TRACEE_RELEASE_GRACE_MS * 1000000ULL;
	enum stop_kind kind;
	int sig;

	(void)ptrace(PTRACE_INTERRUPT, t->pid, NULL, NULL);
	if (tracee_wait(t, deadline, &kind, &sig) < 0)
		return false;
	if (kind == STOP_SIGNAL)
		tracee_hold_signal(t, sig);
	return true;
}

/* Whatever state the work ended in: bring the tracee to a stop if it is
 * running, undo our changes, detach, and re-send the signals it did not
 * get.  Any stop will do for the undo: at a syscall-entry stop restored
 * registers make the kernel skip the syscall, at the others they are what
 * the tracee resumes with.  A detach that fails because the tracee left its
 * stop (it was killed) is followed by collecting its exit, which we owe as
 * tracer: its parent could not reap it before.  A tracee that cannot be
 * stopped stays attached: the kernel detaches it when we exit (or kills it,
 * with exit_kill). */
void tracee_release(struct tracee *t, void (*undo)(struct tracee *t, void *arg), void *arg)
{
	if (t->attached) {
		for (int tries = 0; tries < 3 && !t->gone; tries++) {
			if (!t->stopped && !tracee_stop_for_release(t)) {
				t->left_attached = !t->gone;
				break;
			}
			if (undo)
				undo(t, arg);
			if (ptrace(PTRACE_DETACH, t->pid, NULL, NULL) == 0)
				break;
			t->stopped = false;
		}
		t->attached = false;
		for (int i = 0; i < t->n_held && !t->gone && !t->left_attached; i++)
			(void)syscall(SYS_tgkill, t->pid, t->pid, t->held[i]);
	}
	if (t->tracer_masked) {
		/* A SIGCHLD our waits took that was about one of the caller's
		 * own children is raised again for it. */
		if (t->foreign_chld)
			(void)raise(SIGCHLD);
		(void)sigprocmask(SIG_SETMASK, &t->tracer_mask, NULL);
		t->tracer_masked = false;
	}
}
