/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The architecture-specific half of ptrace syscall injection; inject.c is the
 * arch-neutral half.  One implementation per architecture lives in
 * host/arch/<arch>.c and the Makefile links the one matching the target.
 *
 * What differs per architecture: the register layout (NT_PRSTATUS and, on
 * aarch64, the separate NT_ARM_SYSTEM_CALL slot), which registers carry the
 * syscall number, arguments and return value, the syscall instruction, the
 * syscall numbers, and where the kernel does its syscall-restart processing
 * relative to the ptrace stop.
 *
 * Restart processing, the part that is easy to get wrong:
 *  - x86_64 decides after the stop (in arch_do_signal_or_restart(), from
 *    orig_rax and rax), so the injector disables it with orig_rax = -1 and
 *    redoes it itself when restoring (arch_regs_prepare_resume()).
 *  - aarch64 rewinds pc to the svc and puts orig_x0 back into x0 *before* the
 *    stop, so the saved registers already describe the restart; only the
 *    switch to restart_syscall for -ERESTART_RESTARTBLOCK happens after the
 *    stop, keyed on pc still being the svc.  The injector therefore prefers
 *    the svc at pc, and when the kernel rewrites the syscall number to
 *    restart_syscall on the way there, it notices it at the syscall-entry
 *    stop, puts prctl back (arch_set_entry_syscall_nr()) and restores
 *    restart_syscall afterwards.
 */
#ifndef SP_ARCH_H
#define SP_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Kernel-internal returns of an interrupted syscall (include/linux/errno.h),
 * the same on every architecture.  User space never sees them; a tracer sees
 * them in the registers at a signal stop or a syscall-exit stop. */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* A tracee's user registers.  The storage is sized for the largest supported
 * layout; each arch/<arch>.c checks at compile time that its own fits. */
struct arch_regs {
	uint64_t prstatus[48];
	int64_t syscallno; /* aarch64's NT_ARM_SYSTEM_CALL; unused on x86_64 */
};

/* The native syscall instruction: its bytes, length and the alignment an
 * instance must have to be executable as such. */
struct arch_syscall_insn {
	unsigned char bytes[4];
	size_t len;
	size_t align;
};

extern const struct arch_syscall_insn arch_syscall_insn;
extern const long arch_nr_prctl;
extern const long arch_nr_restart_syscall;

/* Read/write the registers of a tracee in a ptrace stop.  -ENOEXEC when the
 * tracee runs a non-native ABI (a 32-bit process), other -errno from ptrace. */
int arch_regs_get(pid_t pid, struct arch_regs *regs);
int arch_regs_set(pid_t pid, const struct arch_regs *regs);

uint64_t arch_regs_ip(const struct arch_regs *regs);

/* The syscall a tracee is entering, read at a syscall-entry stop. */
long arch_regs_syscall_nr(const struct arch_regs *regs);

/* The return value, read at a syscall-exit stop. */
long arch_regs_retval(const struct arch_regs *regs);

/* Addresses, best first, where the tracee's own syscall instruction most
 * likely is (the one it is stopped after or at).  The caller checks the
 * bytes and that the address is executable.  Returns how many (<= 2). */
size_t arch_syscall_insn_hints(const struct arch_regs *regs, uint64_t hints[2]);

/* Point regs at the syscall instruction at insn_addr with syscall nr and
 * args, and keep the kernel from applying restart logic to them. */
void arch_regs_setup_syscall(struct arch_regs *regs, uint64_t insn_addr, long nr, const unsigned long args[5]);

/* At a syscall-entry stop, make the tracee run syscall nr instead of the one
 * in regs; regs is updated to match. */
int arch_set_entry_syscall_nr(pid_t pid, struct arch_regs *regs, long nr);

/* Turn the registers saved at the interrupt stop into the ones to resume
 * with after the injected syscall: do the syscall-restart processing the
 * detour made the kernel skip.  kernel_chose_restart_syscall: the kernel
 * switched the injected syscall to restart_syscall at entry (aarch64's
 * -ERESTART_RESTARTBLOCK).  Returns true when an interrupted syscall is set
 * up to be re-issued. */
bool arch_regs_prepare_resume(struct arch_regs *regs, bool kernel_chose_restart_syscall);

#endif
