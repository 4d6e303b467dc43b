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
 * No signal handler may run on the doctored registers, and the tracee's
 * signal mask is never touched: while it is traced every signal it gets
 * first stops it in a signal-delivery-stop, where host/ptrace.c holds it
 * (suppresses it) and re-sends it after the detach.  So a tracer killed at
 * any instant leaves the mask as it was.  What a killed tracer can leave
 * is our registers (between setting them and putting them back, a few
 * hundred microseconds): the hook seizes a container's init with
 * exit_kill, so the init dies with us and the container fails cleanly;
 * `samepage enable` cannot kill an arbitrary process and keeps that window
 * as short as it can (docs/hardening.md).  Every wait has a deadline
 * (inject_opts.timeout_ms).  Seizing, stopping, stepping and releasing are
 * host/ptrace.c's; this file adds the registers and the syscall
 * instruction.
 *
 * Messages name the failed step only; the one public entry adds "inject
 * prctl into pid N" in front.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "host/inject.h"
#include "host/arch/arch.h"
#include "base/cleanup.h"
#include "base/kernel-abi.h"
#include "host/ptrace.h"

/* The vDSO is a few pages; anything much larger is not what we think it is. */
#define VDSO_MAX (1024 * 1024)
/* Longest /proc/<pid>/maps line prefix we need to see (addresses, perms). */
#define MAPS_LINE_MAX 512
#define RESTART_ATTEMPTS 32

/* The tracee as the injection holds it: the ptrace part, plus the
 * registers the detour changes. */
struct injection {
	struct tracee t;
	bool regs_changed;     /* registers differ from saved */
	bool restart_block;    /* the kernel switched our syscall to restart_syscall */
	struct arch_regs saved;
};

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
static int find_syscall_insn(pid_t pid, const struct arch_regs *regs, uint64_t *addr, sp_error_t *err)
{
	uint64_t hints[2];
	struct maps_scan s = { .hints = hints };
	int r;

	s.n_hints = arch_syscall_insn_hints(regs, hints);
	r = maps_scan(pid, &s);
	if (r < 0)
		return sp_error_set(err, -r, "read /proc/%d/maps", (int)pid);

	for (size_t i = 0; i < s.n_hints; i++) {
		if (s.hint_exec[i] && tracee_has_insn_at(pid, hints[i])) {
			*addr = hints[i];
			return 0;
		}
	}

	if (s.vdso_end == 0)
		return sp_error_set(err, ENOENT, "find a syscall instruction: "
				    "not stopped after one and no executable [vdso] mapping");
	r = vdso_find_insn(pid, s.vdso_start, s.vdso_end, addr);
	if (r < 0)
		return sp_error_set(err, -r, "find a syscall instruction in [vdso] %#" PRIx64 "-%#" PRIx64,
				    s.vdso_start, s.vdso_end);
	return 0;
}

static int get_regs(pid_t pid, struct arch_regs *regs, const char *when, sp_error_t *err)
{
	int r = arch_regs_get(pid, regs);

	if (r == -ENOEXEC)
		return sp_error_set(err, ENOEXEC, "get registers %s: not a native 64-bit process", when);
	if (r < 0)
		return sp_error_set(err, -r, "get registers %s", when);
	return 0;
}

/* From a stop, run syscall nr once at insn; ends at its exit stop. */
static int syscall_once(struct injection *in, uint64_t insn, long nr, const unsigned long args[5], long *retval,
			sp_error_t *err)
{
	struct arch_regs regs = in->saved;
	pid_t pid = in->t.pid;
	long entry_nr;
	int r;

	arch_regs_setup_syscall(&regs, insn, nr, args);
	in->regs_changed = true;
	r = arch_regs_set(pid, &regs);
	if (r < 0)
		return sp_error_set(err, -r, "set registers for the syscall");

	r = tracee_step_syscall(&in->t, "entry", err);
	if (r < 0)
		return r;
	r = get_regs(pid, &regs, "at syscall entry", err);
	if (r < 0)
		return r;
	if (arch_regs_ip(&regs) != insn + arch_syscall_insn.len)
		return sp_error_set(err, EPROTO, "syscall entry at %#" PRIx64 " instead of after %#" PRIx64,
				    arch_regs_ip(&regs), insn);
	entry_nr = arch_regs_syscall_nr(&regs);
	if (entry_nr == arch_nr_restart_syscall && nr != arch_nr_restart_syscall) {
		in->restart_block = true;
		r = arch_set_entry_syscall_nr(pid, &regs, nr);
		if (r < 0)
			return sp_error_set(err, -r, "set syscall number at entry");
	} else if (entry_nr != nr) {
		return sp_error_set(err, EPROTO, "tracee entered syscall %ld instead of %ld", entry_nr, nr);
	}

	r = tracee_step_syscall(&in->t, "exit", err);
	if (r < 0)
		return r;
	r = get_regs(pid, &regs, "at syscall exit", err);
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
static int run_syscall(struct injection *in, long nr, const unsigned long args[5], long *retval, bool *restarted,
		       sp_error_t *err)
{
	struct arch_regs regs;
	uint64_t insn = 0;
	int r, attempt;

	r = tracee_interrupt(&in->t, err);
	if (r < 0)
		return r;
	r = get_regs(in->t.pid, &in->saved, "at interrupt stop", err);
	if (r < 0)
		return r;
	r = find_syscall_insn(in->t.pid, &in->saved, &insn, err);
	if (r < 0)
		return r;

	/* A signal arriving during the syscall makes a long one give up with
	 * a restart code (prctl(PR_SET_MEMORY_MERGE, 0) unmerging pages does),
	 * which the kernel would turn into a re-issue after the signal.  We
	 * re-issue it ourselves: the signal's delivery stop comes first and
	 * host/ptrace.c holds it, then our registers (orig_rax -1 on x86_64)
	 * leave the kernel no restart to do. */
	for (attempt = 0; attempt < RESTART_ATTEMPTS; attempt++) {
		r = syscall_once(in, insn, nr, args, retval, err);
		if (r < 0)
			return r;
		if (!is_restart_code(*retval))
			break;
	}
	if (attempt == RESTART_ATTEMPTS)
		return sp_error_set(err, EINTR, "syscall interrupted %d times in a row", RESTART_ATTEMPTS);

	regs = in->saved;
	*restarted = arch_regs_prepare_resume(&regs, in->restart_block);
	r = arch_regs_set(in->t.pid, &regs);
	if (r < 0)
		return sp_error_set(err, -r, "restore registers");
	in->regs_changed = false;
	return 0;
}

/* tracee_release's undo step: put the saved registers back if ours are
 * still in place. */
static void undo_regs(struct tracee *t, void *arg)
{
	struct injection *in = arg;
	struct arch_regs regs = in->saved;

	if (!in->regs_changed)
		return;
	arch_regs_prepare_resume(&regs, in->restart_block);
	/* Retried once: leaving our registers in place would send the
	 * tracee off to the syscall instruction with prctl's arguments. */
	if (arch_regs_set(t->pid, &regs) == 0 || arch_regs_set(t->pid, &regs) == 0)
		in->regs_changed = false;
}

static int inject_prctl(int pidfd, pid_t pid, bool on, const struct inject_opts *opts, struct inject_result *result,
			sp_error_t *err)
{
	struct tracee_opts to = { .pidfd = pidfd, .timeout_ms = opts->timeout_ms, .exit_kill = opts->exit_kill };
	struct injection in = { 0 };
	const unsigned long args[5] = { PR_SET_MEMORY_MERGE, on ? 1 : 0, 0, 0, 0 };
	long retval = 0;
	bool restarted = false;
	int r;

	r = tracee_seize(&in.t, pid, &to, err);
	if (r == 0)
		r = run_syscall(&in, arch_nr_prctl, args, &retval, &restarted, err);
	tracee_release(&in.t, undo_regs, &in);
	if (r < 0 && in.t.left_attached)
		sp_error_wrap(err, "%s; it stays attached until this process exits%s",
			      in.regs_changed ? "its registers could not be put back" : "nothing was changed in it",
			      opts->exit_kill ? ", which kills it" : "");

	if (result) {
		result->retval = retval;
		result->signals_held = in.t.n_held;
		result->restarted = restarted;
	}
	if (r < 0)
		return r;
	if (retval < 0)
		return sp_error_set(err, (int)-retval, "prctl(PR_SET_MEMORY_MERGE, %d)", on ? 1 : 0);
	return 0;
}

int inject_prctl_memory_merge(int pidfd, pid_t pid, bool on, struct inject_result *result, sp_error_t *err)
{
	static const struct inject_opts defaults = { 0 };

	return inject_prctl_memory_merge_opts(pidfd, pid, on, &defaults, result, err);
}

int inject_prctl_memory_merge_opts(int pidfd, pid_t pid, bool on, const struct inject_opts *opts,
				   struct inject_result *result, sp_error_t *err)
{
	int r;

	if (result)
		*result = (struct inject_result) { 0 };
	r = inject_prctl(pidfd, pid, on, opts, result, err);
	if (r < 0)
		sp_error_wrap(err, "inject prctl into pid %d", (int)pid);
	return r;
}
