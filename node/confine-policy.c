/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The per-program confinement tables; see confine-policy.h.
 *
 * Capabilities.  Files samepage writes (ksmd's knobs, the state dir, a
 * cgroup's ksm.enable) are root's own, so uid 0 writes them without
 * CAP_DAC_OVERRIDE.  Holding another process needs CAP_SYS_PTRACE; the
 * signals a tracee took during an injection are re-sent with tgkill, which
 * for a tracee of another uid (a container with a user namespace, any
 * process for `enable`) needs CAP_KILL; reading a process's seccomp filters
 * (PTRACE_SECCOMP_GET_FILTER, `enable` only) needs CAP_SYS_ADMIN.  Liveness
 * is tested by poll() on a pidfd, which needs nothing.
 */
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "node/confine-policy.h"

#define ANY(n) { n, -1, 0 }
#define ARG(n, a, v) { n, a, v }
#define END { NULL, -1, 0 }

/* What every samepage program does: files, memory, time, signals of its
 * own, stdio and syslog (a unix datagram socket). */
static const struct confine_syscall base_calls[] = {
	ANY("read"), ANY("write"), ANY("readv"), ANY("writev"), ANY("pread64"), ANY("pwrite64"),
	ANY("open"), ANY("openat"), ANY("close"), ANY("lseek"), ANY("fcntl"), ANY("dup"), ANY("dup2"),
	ANY("dup3"), ANY("fstat"), ANY("stat"), ANY("lstat"), ANY("newfstatat"), ANY("statx"),
	ANY("statfs"), ANY("fstatfs"), ANY("readlink"), ANY("readlinkat"), ANY("getdents64"),
	ANY("access"), ANY("faccessat"), ANY("faccessat2"), ANY("mkdir"), ANY("mkdirat"),
	ANY("rename"), ANY("renameat"), ANY("renameat2"), ANY("unlink"), ANY("unlinkat"), ANY("link"),
	ANY("linkat"), ANY("fchmod"), ANY("fchmodat"), ANY("fsync"), ANY("fdatasync"), ANY("ftruncate"),
	ANY("flock"), ANY("umask"), ANY("getcwd"), ANY("pidfd_open"),
	ARG("ioctl", 1, TCGETS), ARG("ioctl", 1, TIOCGWINSZ),
	ANY("brk"), ANY("mmap"), ANY("munmap"), ANY("mremap"), ANY("mprotect"), ANY("madvise"),
	ANY("getpid"), ANY("getppid"), ANY("gettid"), ANY("getuid"), ANY("geteuid"), ANY("getgid"),
	ANY("getegid"), ANY("uname"), ANY("getrandom"), ANY("prlimit64"), ANY("getrlimit"),
	ANY("sched_getaffinity"), ANY("sched_yield"), ANY("sysinfo"),
	ANY("clock_gettime"), ANY("gettimeofday"), ANY("time"), ANY("nanosleep"), ANY("clock_nanosleep"),
	ANY("poll"), ANY("ppoll"), ANY("futex"),
	ANY("rt_sigprocmask"), ANY("rt_sigaction"), ANY("rt_sigreturn"), ANY("rt_sigtimedwait"),
	ANY("sigaltstack"), ANY("restart_syscall"), ANY("exit"), ANY("exit_group"),
	ARG("socket", 0, AF_UNIX), ANY("connect"), ANY("sendto"), ANY("sendmsg"),
	END,
};

/* Holding a process: seize, step, read its memory and registers, wait for
 * its stops, re-send the signals it took (tgkill; raise() on ourselves). */
static const struct confine_syscall ptrace_calls[] = {
	ANY("ptrace"), ANY("process_vm_readv"), ANY("wait4"), ANY("waitid"),
	ANY("tgkill"), ANY("kill"),
	END,
};

/* `samepage governor`: watches the state dir and its signals, renices ksmd. */
static const struct confine_syscall governor_calls[] = {
	ANY("inotify_init1"), ANY("inotify_add_watch"), ANY("signalfd4"),
	ANY("getpriority"), ANY("setpriority"),
	END,
};

static const int caps_ptrace[] = { CAP_SYS_PTRACE, CAP_KILL };
/* Writing a numeric id to a cgroup's ksm.domain (kernel domains of the
 * patched kernel) needs CAP_SYS_ADMIN in the initial user namespace. */
static const int caps_ptrace_domain[] = { CAP_SYS_PTRACE, CAP_KILL, CAP_SYS_ADMIN };
static const int caps_enable[] = { CAP_SYS_PTRACE, CAP_KILL, CAP_SYS_ADMIN };
/* Raising ksmd's priority while boosting (governor.boost_nice below ksmd's
 * nice of 5) is setpriority on a kernel thread: CAP_SYS_NICE. */
static const int caps_governor[] = { CAP_SYS_NICE };

static const struct confine_syscall *const lists_ptrace[] = { base_calls, ptrace_calls };
static const struct confine_syscall *const lists_base[] = { base_calls };
static const struct confine_syscall *const lists_governor[] = { base_calls, governor_calls };

/* The same lists exported as BPF at build time (node/gen/confine-bpf-gen.c
 * writes them into build/gen/confine-bpf.c, linked into the programs).
 * Weak: the generator itself and the unit tests link without them, and a
 * NULL program means "build the filter with libseccomp". */
extern const struct confine_bpf sp_bpf_hook_create __attribute__((weak));
extern const struct confine_bpf sp_bpf_hook_poststop __attribute__((weak));
extern const struct confine_bpf sp_bpf_governor __attribute__((weak));

const struct confine_policy sp_policy_hook_create = {
	.name = "hook createRuntime", .caps = caps_ptrace, .n_caps = 2, .lists = lists_ptrace, .n_lists = 2,
	.bpf = &sp_bpf_hook_create,
};

/* The same where the kernel has the ksm controller (and may have domains). */
const struct confine_policy sp_policy_hook_create_native = {
	.name = "hook createRuntime", .caps = caps_ptrace_domain, .n_caps = 3, .lists = lists_ptrace, .n_lists = 2,
	.bpf = &sp_bpf_hook_create,
};

const struct confine_policy sp_policy_hook_poststop = {
	.name = "hook poststop", .caps = NULL, .n_caps = 0, .lists = lists_base, .n_lists = 1,
	.bpf = &sp_bpf_hook_poststop,
};

/* No seccomp filter for enable: the kernel refuses PTRACE_SECCOMP_GET_FILTER
 * (the check of a process's own filter before injecting) to a tracer that
 * runs under seccomp itself. */
const struct confine_policy sp_policy_enable = {
	.name = "enable", .caps = caps_enable, .n_caps = 3, .lists = NULL, .n_lists = 0,
};

const struct confine_policy sp_policy_governor = {
	.name = "governor", .caps = caps_governor, .n_caps = 1, .lists = lists_governor, .n_lists = 2,
	.bpf = &sp_bpf_governor,
};

int sp_confine_hook(bool create, bool native, sp_error_t *err)
{
	if (!create)
		return confine_apply(&sp_policy_hook_poststop, err);
	return confine_apply(native ? &sp_policy_hook_create_native : &sp_policy_hook_create, err);
}
