/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * aarch64 half of syscall injection; see arch.h for the restart story.
 *
 * Not handled yet: any syscall discards the SVE-only part of the vector
 * state (Z beyond V, P, FFR).  A tracee interrupted in user space in the
 * middle of SVE code would lose it; saving NT_ARM_SVE around the detour
 * would fix that.  Tracees interrupted inside a syscall are unaffected.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <asm/ptrace.h>

#include "base/kernel-abi.h"
#include "host/arch/arch.h"

_Static_assert(sizeof(struct user_pt_regs) <= sizeof(((struct arch_regs *)0)->prstatus),
	       "struct arch_regs too small for aarch64 registers");

const struct arch_syscall_insn arch_syscall_insn = {
	.bytes = { 0x01, 0x00, 0x00, 0xd4 }, /* svc #0, little endian */
	.len = 4,
	.align = 4,
};
const long arch_nr_prctl = 167;
const long arch_nr_restart_syscall = 128;

static struct user_pt_regs *native(struct arch_regs *regs)
{
	return (struct user_pt_regs *)regs->prstatus;
}

static const struct user_pt_regs *native_const(const struct arch_regs *regs)
{
	return (const struct user_pt_regs *)regs->prstatus;
}

static int syscallno_get(pid_t pid, int64_t *out)
{
	int nr = -1;
	struct iovec iov = { .iov_base = &nr, .iov_len = sizeof(nr) };

	if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_ARM_SYSTEM_CALL, &iov) < 0)
		return -errno;
	*out = nr;
	return 0;
}

static int syscallno_set(pid_t pid, int64_t value)
{
	int nr = (int)value;
	struct iovec iov = { .iov_base = &nr, .iov_len = sizeof(nr) };

	if (ptrace(PTRACE_SETREGSET, pid, (void *)NT_ARM_SYSTEM_CALL, &iov) < 0)
		return -errno;
	return 0;
}

int arch_regs_get(pid_t pid, struct arch_regs *regs)
{
	struct iovec iov = { .iov_base = regs->prstatus, .iov_len = sizeof(struct user_pt_regs) };

	memset(regs, 0, sizeof(*regs));
	if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) < 0)
		return -errno;
	/* A 32-bit (AArch32) tracee has the compat layout and syscall table. */
	if (iov.iov_len != sizeof(struct user_pt_regs))
		return -ENOEXEC;
	return syscallno_get(pid, &regs->syscallno);
}

int arch_regs_set(pid_t pid, const struct arch_regs *regs)
{
	struct iovec iov = { .iov_base = (void *)regs->prstatus, .iov_len = sizeof(struct user_pt_regs) };

	if (ptrace(PTRACE_SETREGSET, pid, (void *)NT_PRSTATUS, &iov) < 0)
		return -errno;
	return syscallno_set(pid, regs->syscallno);
}

uint64_t arch_regs_ip(const struct arch_regs *regs)
{
	return native_const(regs)->pc;
}

long arch_regs_syscall_nr(const struct arch_regs *regs)
{
	/* At entry x8 is what the svc was issued with. */
	return (long)native_const(regs)->regs[8];
}

long arch_regs_retval(const struct arch_regs *regs)
{
	return (long)native_const(regs)->regs[0];
}

size_t arch_syscall_insn_hints(const struct arch_regs *regs, uint64_t hints[2])
{
	/* The kernel has already rewound pc to the svc when the syscall is to
	 * be restarted; otherwise the svc is the instruction before pc. */
	hints[0] = native_const(regs)->pc;
	hints[1] = native_const(regs)->pc - 4;
	return 2;
}

void arch_regs_setup_syscall(struct arch_regs *regs, uint64_t insn_addr, long nr, const unsigned long args[5])
{
	struct user_pt_regs *r = native(regs);

	r->pc = insn_addr;
	r->regs[8] = (uint64_t)nr;
	for (size_t i = 0; i < 5; i++)
		r->regs[i] = args[i];
	regs->syscallno = -1;
}

int arch_set_entry_syscall_nr(pid_t pid, struct arch_regs *regs, long nr)
{
	/* The kernel read x8 into its syscallno slot before the entry stop;
	 * only NT_ARM_SYSTEM_CALL changes what it dispatches. */
	native(regs)->regs[8] = (uint64_t)nr;
	regs->syscallno = nr;
	return arch_regs_set(pid, regs);
}

bool arch_regs_prepare_resume(struct arch_regs *regs, bool kernel_chose_restart_syscall)
{
	/* pc and x0 were already set up for a restart by the kernel before the
	 * stop (and orig_x0, which only the kernel has, is back in x0), so the
	 * saved registers re-issue a restartable syscall by themselves.  The
	 * exception is the switch to restart_syscall, which the kernel made to
	 * the injected syscall instead; carry it over. */
	if (kernel_chose_restart_syscall)
		native(regs)->regs[8] = (uint64_t)arch_nr_restart_syscall;
	/* Not in a syscall any more: no restart logic on the way out. */
	regs->syscallno = -1;
	return kernel_chose_restart_syscall;
}
