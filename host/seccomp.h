/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Would a process's seccomp filters let a syscall through?  Before samepage
 * injects prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) into a running process it
 * reads the process's filters (PTRACE_SECCOMP_GET_FILTER) and runs them
 * here, in a small classic-BPF interpreter over struct seccomp_data, the way
 * the kernel would at the syscall's entry.
 *
 * The kernel runs every filter of the thread and acts on the result with the
 * highest precedence (KILL_PROCESS > KILL_THREAD > TRAP > ERRNO > USER_NOTIF
 * > TRACE > LOG > ALLOW; unknown actions kill).  The call counts as allowed
 * only when that result is ALLOW or LOG: LOG runs the syscall and writes an
 * audit record.  Everything else is refused:
 *   KILL_*, TRAP    the injected call would kill the process or raise SIGSYS
 *                   in it;
 *   ERRNO           harmless, but the prctl would not happen;
 *   TRACE           with samepage as the tracer (no PTRACE_O_TRACESECCOMP)
 *                   the kernel fails the call with ENOSYS; with another
 *                   tracer we could not have attached;
 *   USER_NOTIF      a supervisor process would be asked to act on a call
 *                   its workload never made.
 * A filter that looks at seccomp_data.instruction_pointer is refused too:
 * the injected call runs at an instruction the filter's author did not
 * expect.
 */
#ifndef SP_SECCOMP_H
#define SP_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>
#include "base/error.h"

/* The syscall to evaluate: seccomp_data without the instruction pointer. */
struct seccomp_call {
	uint32_t arch; /* AUDIT_ARCH_* */
	int nr;
	uint64_t args[6];
};

/* Run one classic BPF program the way seccomp does.  *ret is the filter's
 * return value; *reads_ip is set when the program loaded any byte of the
 * instruction pointer.  -EINVAL for a program the kernel would not have
 * accepted (bad opcode, jump out of range, misaligned load, no return). */
int seccomp_bpf_run(const struct sock_filter *prog, size_t len, const struct seccomp_call *call, uint32_t *ret,
		    bool *reads_ip);

/* The kernel's precedence: returns whichever of a and b wins. */
uint32_t seccomp_action_combine(uint32_t a, uint32_t b);

/* ALLOW or LOG. */
bool seccomp_action_allows(uint32_t ret);

/* "allow", "log", "errno 1", "kill_process", ... into buf. */
const char *seccomp_action_describe(uint32_t ret, char *buf, size_t size);

/* A thread's filters, most recently installed first (index 0 as ptrace
 * numbers them). */
struct seccomp_filters {
	struct sock_filter **progs;
	size_t *lens;
	size_t n;
};

/* Read pid's filters.  pid must be ptrace-attached by us and in a
 * ptrace-stop; needs CAP_SYS_ADMIN. */
int seccomp_filters_get(pid_t pid, struct seccomp_filters *f, sp_error_t *err);
void seccomp_filters_free(struct seccomp_filters *f);

/* Seize pid, interrupt it, read its filters and detach (a signal caught on
 * the way is handed back): for a process we are not attached to. */
int seccomp_filters_read(pid_t pid, struct seccomp_filters *f, sp_error_t *err);

/* Combined action of all filters for call.  *reads_ip as above. */
int seccomp_filters_eval(const struct seccomp_filters *f, const struct seccomp_call *call, uint32_t *action,
			 bool *reads_ip, sp_error_t *err);

/* The audit arch and PR_SET_MEMORY_MERGE's syscall number (prctl) as the
 * injection runs it on this build's architecture. */
int seccomp_native_prctl(uint32_t *arch, int *nr);

/* The audit arch of pid's executable from its ELF header (class, machine,
 * byte order), or -ENOEXEC when unknown. */
int seccomp_proc_arch(pid_t pid, uint32_t *arch, sp_error_t *err);

/* Seccomp mode from /proc/<pid>/status: 0 off, 1 strict, 2 filter. */
int seccomp_proc_mode(pid_t pid, sp_error_t *err);

/*
 * Would prctl(PR_SET_MEMORY_MERGE, on, 0, 0, 0) injected into pid run?
 * Reads the mode first; only a process in filter mode is attached, held at
 * an interrupt stop for PTRACE_SECCOMP_GET_FILTER and released the way
 * host/ptrace.h releases every tracee.
 * Returns 1 when allowed, 0 when not with *why (malloc'd) saying why, or a
 * negative errno (-ESRCH when the process went away).
 */
int seccomp_check_prctl_merge(pid_t pid, bool on, char **why, sp_error_t *err);

#endif
