/* SPDX-License-Identifier: GPL-2.0-or-later */
/* x86_64 half of syscall injection; see arch.h. */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "host/arch/arch.h"

_Static_assert(sizeof(struct user_regs_struct) <= sizeof(((struct arch_regs *)0)->prstatus),
	       "struct arch_regs too small for x86_64 registers");

const struct arch_syscall_insn arch_syscall_insn = {
	.bytes = { 0x0f, 0x05 }, /* syscall */
	.len = 2,
	.align = 1,
};
const long arch_nr_prctl = 157;
const long arch_nr_restart_syscall = 219;

static struct user_regs_struct *native(struct arch_regs *regs)
{
	return (struct user_regs_struct *)regs->prstatus;
}

static const struct user_regs_struct *native_const(const struct arch_regs *regs)
{
	return (const struct user_regs_struct *)regs->prstatus;
}

int arch_regs_get(pid_t pid, struct arch_regs *regs)
{
	struct iovec iov = { .iov_base = regs->prstatus, .iov_len = sizeof(struct user_regs_struct) };

	memset(regs, 0, sizeof(*regs));
	if (ptrace(PTRACE_GETREGSET, pid, (void *)NT_PRSTATUS, &iov) < 0)
		return -errno;
	/* A 32-bit tracee has the smaller i386 layout and another syscall
	 * table; injecting the 64-bit numbers into it would be wrong. */
	if (iov.iov_len != sizeof(struct user_regs_struct))
		return -ENOEXEC;
	regs->syscallno = -1;
	return 0;
}

int arch_regs_set(pid_t pid, const struct arch_regs *regs)
{
	struct iovec iov = { .iov_base = (void *)regs->prstatus, .iov_len = sizeof(struct user_regs_struct) };

	if (ptrace(PTRACE_SETREGSET, pid, (void *)NT_PRSTATUS, &iov) < 0)
		return -errno;
	return 0;
}

uint64_t arch_regs_ip(const struct arch_regs *regs)
{
	return native_const(regs)->rip;
}

long arch_regs_syscall_nr(const struct arch_regs *regs)
{
	return (long)native_const(regs)->orig_rax;
}

long arch_regs_retval(const struct arch_regs *regs)
{
	return (long)native_const(regs)->rax;
}

size_t arch_syscall_insn_hints(const struct arch_regs *regs, uint64_t hints[2])
{
	/* After a syscall, rip is just past its 2-byte instruction. */
	hints[0] = native_const(regs)->rip - 2;
	return 1;
}

void arch_regs_setup_syscall(struct arch_regs *regs, uint64_t insn_addr, long nr, const unsigned long args[5])
{
	struct user_regs_struct *r = native(regs);

	r->rip = insn_addr;
	r->rax = (unsigned long long)nr;
	r->rdi = args[0];
	r->rsi = args[1];
	r->rdx = args[2];
	r->r10 = args[3];
	r->r8 = args[4];
	/* orig_rax == -1 tells arch_do_signal_or_restart() that the tracee did
	 * not come from a syscall, so it leaves rip and rax alone when the
	 * tracee leaves the stop. */
	r->orig_rax = (unsigned long long)-1;
}

int arch_set_entry_syscall_nr(pid_t pid, struct arch_regs *regs, long nr)
{
	/* At entry the kernel dispatches on orig_rax. */
	native(regs)->orig_rax = (unsigned long long)nr;
	return arch_regs_set(pid, regs);
}

bool arch_regs_prepare_resume(struct arch_regs *regs, bool kernel_chose_restart_syscall)
{
	struct user_regs_struct *r = native(regs);
	bool restarted = false;

	/* Cannot happen here: orig_rax == -1 keeps the kernel out of it. */
	(void)kernel_chose_restart_syscall;

	if ((long long)r->orig_rax != -1) {
		switch ((long long)r->rax) {
		case -ERESTARTSYS:
		case -ERESTARTNOINTR:
		case -ERESTARTNOHAND:
			/* What the kernel would have done had there been no
			 * signal handler to run: re-issue the same syscall. */
			r->rax = r->orig_rax;
			r->rip -= 2;
			restarted = true;
			break;
		case -ERESTART_RESTARTBLOCK:
			/* Sleeps continue with the remaining time. */
			r->rax = (unsigned long long)arch_nr_restart_syscall;
			r->rip -= 2;
			restarted = true;
			break;
		}
	}
	/* The tracee resumes in user space, not in a syscall: a signal that
	 * arrives before it gets there must not trigger restart logic on these
	 * registers a second time. */
	r->orig_rax = (unsigned long long)-1;
	return restarted;
}
