/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel constants that the build host's headers may be too old to define
 * (Debian 12 ships the 6.1 UAPI headers; samepage runs on newer kernels and
 * builds against older glibcs).  One place for every fallback, each the
 * value from the kernel's UAPI header that introduced it; the system header
 * is included first, so a header that defines the name wins.
 *
 * Named kernel-abi.h, not after any system header, so `-I.` shadows nothing.
 */
#ifndef SP_KERNEL_ABI_H
#define SP_KERNEL_ABI_H

#include <elf.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <linux/magic.h>
#include <linux/seccomp.h>

/* prctl: whole-process KSM, Linux 6.4 (include/uapi/linux/prctl.h). */
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
#ifndef PR_GET_MEMORY_MERGE
#define PR_GET_MEMORY_MERGE 68
#endif

/* ptrace: read a tracee's classic-BPF seccomp filters, Linux 4.4. */
#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

/* seccomp filter return actions (include/uapi/linux/seccomp.h). */
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U /* Linux 4.14 */
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U /* Linux 4.14 */
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U /* Linux 5.0 */
#endif
#ifndef SECCOMP_RET_ACTION_FULL
#define SECCOMP_RET_ACTION_FULL 0xffff0000U /* Linux 4.14 */
#endif

/* pidfd_send_signal(2), Linux 5.1; the number is the same on every arch. */
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* statfs f_type of the cgroup filesystems and tmpfs (linux/magic.h). */
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

/* aarch64 regset with the syscall number (elf.h), Linux 4.19. */
#ifndef NT_ARM_SYSTEM_CALL
#define NT_ARM_SYSTEM_CALL 0x404
#endif

#endif
