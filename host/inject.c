/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ptrace syscall injection, arch-neutral half (the other is arch/<arch>.c).
 *
 * The tracee is seized and interrupted; at the interrupt stop it is somewhere
 * on its way back to user space (inside the kernel's signal handling), with
 * its user registers saved.  We point it at a syscall instruction with the
 * prctl's number and arguments, let it run exactly that syscall (entry and
 * exit stops), put the saved registers back with the syscall-restart
 * processing the detour made the kernel skip, and detach.
 *
 * No signal handler may run on the doctored registers.  The tracee's signal
 * mask is set to block everything for the detour (PTRACE_SETSIGMASK), so
 * signals that arrive meanwhile stay pending, with their siginfo, and are
 * delivered as soon as it is detached.  What cannot be blocked (SIGSTOP, a
 * fault) and reaches a signal-delivery-stop then is suppressed and re-sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/inject.h"
#include "host/arch/arch.h"
#include "base/cleanup.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* The vDSO is a few pages; anything much larger is not what we think it is. */
#define VDSO_MAX (1024 * 1024)
/* Longest /proc/<pid>/maps line prefix we need to see (addresses, perms). */
#define MAPS_LINE_MAX 512
#define HELD_MAX 64
#define RESTART_ATTEMPTS 32

struct tracee {
	pid_t pid;
	bool stopped;          /* in a ptrace stop, so it can be inspected/detached */
	bool gone;             /* exited or was killed while we held it */
	bool regs_changed;     /* registers differ from saved */
	bool restart_block;    /* the kernel switched our syscall to restart_syscall */
	bool mask_changed;     /* signal mask differs from saved_mask */
	uint64_t saved_mask;   /* the kernel's sigset_t: 64 signals */
	struct arch_regs saved;
	int held[HELD_MAX];    /* signals suppressed at signal-delivery-stops */
	int n_held;
};

enum stop_kind {
	STOP_EVENT,   /* PTRACE_EVENT_STOP: our interrupt, or a group-stop */
	STOP_SYSCALL, /* syscall entry or exit (SIGTRAP | 0x80) */
	STOP_SIGNAL,  /* signal-delivery-stop */
	STOP_OTHER,
};

static void tracee_hold_signal(struct tracee *t, int sig)
{
	/* A full list coalesces like pending standard signals do. */
	if (t->n_held == HELD_MAX) {
		for (int i = 0; i < t->n_held; i++)
			if (t->held[i] == sig)
				return;
		t->held[HELD_MAX - 1] = sig;
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

static int tracee_resume(struct tracee *t, int request)
{
	if (ptrace(request, t->pid, NULL, NULL) < 0)
		return -errno;
	t->stopped = false;
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

static int tracee_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	_cleanup_close_ int fd = -EBADF;
	char path[sizeof("/proc/%d/mem") + 3 * sizeof(int)];
	ssize_t n;

	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;

	/* /proc/<pid>/mem reads what process_vm_readv may refuse (it uses
	 * FOLL_FORCE, as a debugger would). */
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, len, (off_t)addr);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

struct maps_scan {
	const uint64_t *hints;
	size_t n_hints;
	bool hint_exec[2];     /* hint lies in an executable mapping */
	uint64_t vdso_start, vdso_end;
};

static void maps_scan_line(struct maps_scan *s, const char *line)
{
	uint64_t start, end;
	char perms[5];
	size_t len = strlen(line);

	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s", &start, &end, perms) != 3)
		return;
	if (perms[2] == 'x') {
		for (size_t i = 0; i < s->n_hints; i++)
			if (s->hints[i] >= start && s->hints[i] + arch_syscall_insn.len <= end)
				s->hint_exec[i] = true;
	}
	if (perms[2] == 'x' && len >= 6 && strcmp(line + len - 6, "[vdso]") == 0) {
		s->vdso_start = start;
		s->vdso_end = end;
	}
}

/* One pass over /proc/<pid>/maps: which hints are executable, where the
 * vDSO is. */
static int maps_scan(pid_t pid, struct maps_scan *s)
{
	_cleanup_fclose_ FILE *f = NULL;
	char path[sizeof("/proc/%d/maps") + 3 * sizeof(int)];
	char line[MAPS_LINE_MAX];

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;

	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);

		if (len > 0 && line[len - 1] == '\n') {
			line[len - 1] = '\0';
		} else if (!feof(f)) {
			/* Only a long path is cut here: skip the rest of it.  The
			 * prefix still names addresses and permissions. */
			int c;

			while ((c = fgetc(f)) != EOF && c != '\n')
				;
		}
		maps_scan_line(s, line);
	}
	if (ferror(f))
		return -EIO;
	return 0;
}

static bool tracee_has_insn_at(pid_t pid, uint64_t addr)
{
	unsigned char buf[sizeof(arch_syscall_insn.bytes)];

	if (addr % arch_syscall_insn.align)
		return false;
	if (tracee_read(pid, addr, buf, arch_syscall_insn.len) < 0)
		return false;
	return memcmp(buf, arch_syscall_insn.bytes, arch_syscall_insn.len) == 0;
}

static int vdso_find_insn(pid_t pid, uint64_t start, uint64_t end, uint64_t *addr)
{
	_cleanup_free_ unsigned char *buf = NULL;
	size_t size, len = arch_syscall_insn.len;
	int r;

	if (end <= start || end - start > VDSO_MAX)
		return -ENOENT;
	size = (size_t)(end - start);
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	r = tracee_read(pid, start, buf, size);
	if (r < 0)
		return r;
	for (size_t off = 0; off + len <= size; off += arch_syscall_insn.align) {
		if (memcmp(buf + off, arch_syscall_insn.bytes, len) == 0) {
			*addr = start + off;
			return 0;
		}
	}
	return -ENOENT;
}

/* A syscall instruction the tracee can execute: its own (the one it just
 * used), else one in its vDSO.  Executing from the middle of some other
 * instruction is fine: only the syscall's bytes run before we take over. */
static int tracee_find_insn(struct tracee *t, const struct arch_regs *regs, uint64_t *addr, sp_error_t *err)
{
	uint64_t hints[2];
	struct maps_scan s = { .hints = hints };
	int r;

	s.n_hints = arch_syscall_insn_hints(regs, hints);
	r = maps_scan(t->pid, &s);
	if (r < 0)
		return sp_error_set(err, -r, "inject prctl into pid %d: read /proc/%d/maps", t->pid, t->pid);

	for (size_t i = 0; i < s.n_hints; i++) {
		if (s.hint_exec[i] && tracee_has_insn_at(t->pid, hints[i])) {
			*addr = hints[i];
			return 0;
		}
	}

	if (s.vdso_end == 0)
		return sp_error_set(err, ENOENT, "inject prctl into pid %d: find a syscall instruction: "
				    "not stopped after one and no executable [vdso] mapping", t->pid);
	r = vdso_find_insn(t->pid, s.vdso_start, s.vdso_end, addr);
	if (r < 0)
		return sp_error_set(err, -r, "inject prctl into pid %d: find a syscall instruction in [vdso] "
				    "%#" PRIx64 "-%#" PRIx64, t->pid, s.vdso_start, s.vdso_end);
	return 0;
}

static int tracee_get_regs(struct tracee *t, struct arch_regs *regs, const char *when, sp_error_t *err)
{
	int r = arch_regs_get(t->pid, regs);

	if (r == -ENOEXEC)
		return sp_error_set(err, ENOEXEC, "inject prctl into pid %d: get registers %s: "
				    "not a native 64-bit process", t->pid, when);
	if (r < 0)
		return sp_error_set(err, -r, "inject prctl into pid %d: get registers %s", t->pid, when);
	return 0;
}

/* Step the tracee from a stop to the next syscall stop. */
static int tracee_step_syscall(struct tracee *t, const char *which, sp_error_t *err)
{
	int r = tracee_resume(t, PTRACE_SYSCALL);

	if (r < 0)
		return sp_error_set(err, -r, "inject prctl into pid %d: ptrace syscall (%s)", t->pid, which);
	r = tracee_wait_for(t, PTRACE_SYSCALL, STOP_SYSCALL, false);
	if (r == -ESRCH)
		return sp_error_set(err, ESRCH, "inject prctl into pid %d: wait for syscall %s: process exited",
				    t->pid, which);
	if (r == -EFAULT)
		return sp_error_set(err, EFAULT, "inject prctl into pid %d: wait for syscall %s: tracee faulted",
				    t->pid, which);
	if (r < 0)
		return sp_error_set(err, -r, "inject prctl into pid %d: wait for syscall %s", t->pid, which);
	return 0;
}

/* Interrupt the running tracee and save its registers. */
static int tracee_interrupt(struct tracee *t, sp_error_t *err)
{
	int r;

	if (ptrace(PTRACE_INTERRUPT, t->pid, NULL, NULL) < 0)
		return sp_error_set(err, errno, "inject prctl into pid %d: ptrace interrupt", t->pid);
	/* Until the interrupt stop the tracee runs on its own registers, so
	 * a signal it takes meanwhile is simply delivered; the pending
	 * interrupt then stops it before the handler's first instruction. */
	r = tracee_wait_for(t, PTRACE_CONT, STOP_EVENT, true);
	if (r == -ESRCH)
		return sp_error_set(err, ESRCH, "inject prctl into pid %d: wait for interrupt stop: process exited",
				    t->pid);
	if (r < 0)
		return sp_error_set(err, -r, "inject prctl into pid %d: wait for interrupt stop", t->pid);
	return tracee_get_regs(t, &t->saved, "at interrupt stop", err);
}

/* GETSIGMASK reports the mask the tracee returns to user space with (the
 * saved one while ppoll/pselect/sigsuspend has a temporary mask installed);
 * SETSIGMASK drops the temporary one.  Restoring the reported mask after the
 * re-issued syscall is therefore exact: the syscall installs its temporary
 * mask again itself. */
static int tracee_block_signals(struct tracee *t, sp_error_t *err)
{
	uint64_t all = ~(uint64_t)0;

	if (ptrace(PTRACE_GETSIGMASK, t->pid, (void *)sizeof(t->saved_mask), &t->saved_mask) < 0)
		return sp_error_set(err, errno, "inject prctl into pid %d: get signal mask", t->pid);
	t->mask_changed = true;
	if (ptrace(PTRACE_SETSIGMASK, t->pid, (void *)sizeof(all), &all) < 0)
		return sp_error_set(err, errno, "inject prctl into pid %d: block signals", t->pid);
	return 0;
}

static int tracee_restore_mask(struct tracee *t)
{
	if (ptrace(PTRACE_SETSIGMASK, t->pid, (void *)sizeof(t->saved_mask), &t->saved_mask) < 0)
		return -errno;
	t->mask_changed = false;
	return 0;
}

/* From a stop, run syscall nr once at insn; ends at its exit stop. */
static int tracee_syscall_once(struct tracee *t, uint64_t insn, long nr, const unsigned long args[5],
			       long *retval, sp_error_t *err)
{
	struct arch_regs regs = t->saved;
	long entry_nr;
	int r;

	arch_regs_setup_syscall(&regs, insn, nr, args);
	t->regs_changed = true;
	r = arch_regs_set(t->pid, &regs);
	if (r < 0)
		return sp_error_set(err, -r, "inject prctl into pid %d: set registers for the syscall", t->pid);

	r = tracee_step_syscall(t, "entry", err);
	if (r < 0)
		return r;
	r = tracee_get_regs(t, &regs, "at syscall entry", err);
	if (r < 0)
		return r;
	if (arch_regs_ip(&regs) != insn + arch_syscall_insn.len)
		return sp_error_set(err, EPROTO, "inject prctl into pid %d: syscall entry at %#" PRIx64
				    " instead of after %#" PRIx64, t->pid, arch_regs_ip(&regs), insn);
	entry_nr = arch_regs_syscall_nr(&regs);
	if (entry_nr == arch_nr_restart_syscall && nr != arch_nr_restart_syscall) {
		t->restart_block = true;
		r = arch_set_entry_syscall_nr(t->pid, &regs, nr);
		if (r < 0)
			return sp_error_set(err, -r, "inject prctl into pid %d: set syscall number at entry", t->pid);
	} else if (entry_nr != nr) {
		return sp_error_set(err, EPROTO, "inject prctl into pid %d: tracee entered syscall %ld instead of %ld",
				    t->pid, entry_nr, nr);
	}

	r = tracee_step_syscall(t, "exit", err);
	if (r < 0)
		return r;
	r = tracee_get_regs(t, &regs, "at syscall exit", err);
	if (r < 0)
		return r;
	*retval = arch_regs_retval(&regs);
	return 0;
}

static bool is_restart_code(long retval)
{
	return retval == -ERESTARTSYS || retval == -ERESTARTNOINTR || retval == -ERESTARTNOHAND ||
	       retval == -ERESTART_RESTARTBLOCK;
}

/* From a seized, running tracee to the executed syscall and the restored
 * registers.  *retval is the syscall's return value. */
static int tracee_run_syscall(struct tracee *t, long nr, const unsigned long args[5], long *retval,
			      bool *restarted, sp_error_t *err)
{
	struct arch_regs regs;
	uint64_t insn = 0;
	int r, attempt;

	r = tracee_interrupt(t, err);
	if (r < 0)
		return r;
	r = tracee_block_signals(t, err);
	if (r < 0)
		return r;
	r = tracee_find_insn(t, &t->saved, &insn, err);
	if (r < 0)
		return r;

	/* A pending signal that cannot be blocked (SIGSTOP) makes a long
	 * syscall give up with a restart code (prctl(PR_SET_MEMORY_MERGE, 0)
	 * unmerging pages does), which the kernel would turn into a re-issue
	 * after the signal.  We re-issue it ourselves, holding the signal. */
	for (attempt = 0; attempt < RESTART_ATTEMPTS; attempt++) {
		r = tracee_syscall_once(t, insn, nr, args, retval, err);
		if (r < 0)
			return r;
		if (!is_restart_code(*retval))
			break;
	}
	if (attempt == RESTART_ATTEMPTS)
		return sp_error_set(err, EINTR, "inject prctl into pid %d: syscall interrupted %d times in a row",
				    t->pid, RESTART_ATTEMPTS);

	regs = t->saved;
	*restarted = arch_regs_prepare_resume(&regs, t->restart_block);
	r = arch_regs_set(t->pid, &regs);
	if (r < 0)
		return sp_error_set(err, -r, "inject prctl into pid %d: restore registers", t->pid);
	t->regs_changed = false;
	r = tracee_restore_mask(t);
	if (r < 0)
		return sp_error_set(err, -r, "inject prctl into pid %d: restore signal mask", t->pid);
	return 0;
}

/* Put registers and signal mask back where they are still ours.  Any stop
 * will do: at a syscall-entry stop the restored registers make the kernel
 * skip the syscall, at the others they are what the tracee resumes with. */
static void tracee_undo(struct tracee *t)
{
	if (t->regs_changed) {
		struct arch_regs regs = t->saved;

		arch_regs_prepare_resume(&regs, t->restart_block);
		/* Retried once: leaving our registers in place would send the
		 * tracee off to the syscall instruction with prctl's arguments. */
		if (arch_regs_set(t->pid, &regs) == 0 || arch_regs_set(t->pid, &regs) == 0)
			t->regs_changed = false;
	}
	if (t->mask_changed)
		(void)tracee_restore_mask(t);
}

/* Leave the tracee as we found it, whatever state the injection ended in:
 * bring it to a stop if it is running, undo our changes, detach, and re-send
 * the signals it did not get.  A detach that fails because the tracee left
 * its stop (it was killed) is followed by collecting its exit, which we owe
 * as tracer: its parent could not reap it before. */
static void tracee_release(struct tracee *t)
{
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
		tracee_undo(t);
		if (ptrace(PTRACE_DETACH, t->pid, NULL, NULL) == 0)
			break;
		t->stopped = false;
	}

	for (int i = 0; i < t->n_held && !t->gone; i++)
		(void)syscall(SYS_tgkill, t->pid, t->pid, t->held[i]);
}

int inject_prctl_memory_merge(int pidfd, pid_t pid, bool on, struct inject_result *result, sp_error_t *err)
{
	struct tracee t = { .pid = pid };
	const unsigned long args[5] = { PR_SET_MEMORY_MERGE, on ? 1 : 0, 0, 0, 0 };
	long retval = 0;
	bool restarted = false;
	int r;

	if (result)
		*result = (struct inject_result) { 0 };
	if (pid <= 0)
		return sp_error_set(err, EINVAL, "inject prctl into pid %d: invalid pid", (int)pid);

	/* Cheap first look, so a pid that is obviously someone else's by now is
	 * not even seized; the check after the seize is the one that counts. */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		return sp_error_set(err, errno, "inject prctl into pid %d: check pidfd: process exited", (int)pid);

	if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)(long)PTRACE_O_TRACESYSGOOD) < 0)
		return sp_error_set(err, errno, "inject prctl into pid %d: ptrace seize", (int)pid);

	/* Checked after the seize, so the answer holds for the task we hold:
	 * while the pidfd's process exists its pid is its own; once it is
	 * gone, the pid we seized may already be someone else's. */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		r = sp_error_set(err, errno, "inject prctl into pid %d: check pidfd: process exited, pid may be reused",
				 (int)pid);
	else
		r = tracee_run_syscall(&t, arch_nr_prctl, args, &retval, &restarted, err);

	tracee_release(&t);

	if (result) {
		result->retval = retval;
		result->signals_held = t.n_held;
		result->restarted = restarted;
	}
	if (r < 0)
		return r;
	if (retval < 0)
		return sp_error_set(err, (int)-retval, "inject prctl into pid %d: prctl(PR_SET_MEMORY_MERGE, %d)",
				    (int)pid, on ? 1 : 0);
	return 0;
}
