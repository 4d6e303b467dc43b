/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage's seccomp interpreter against the kernel's.  For each input a
 * child process installs the fuzzed filters and makes the call; its fate
 * (the call ran, failed with an errno, raised SIGSYS, killed it) must be
 * what seccomp_filters_eval() predicts.  Input layout as in fuzz-seccomp.c.
 *
 * Only calls that cannot reach outside the child are made: getpid,
 * getppid, gettid and prctl(PR_GET_MEMORY_MERGE / PR_SET_MEMORY_MERGE), the
 * latter never switching KSM on (that would put the child's mm on ksmd's
 * list, seen by everyone counting KSM pages on this machine).  A filter
 * that reads the instruction pointer is not compared: the interpreter
 * assumes none.
 */
#include <signal.h>
#include <stdbool.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/seccomp.h>
#include "fuzz.h"
#include "cgroupfs/ksm.h"
#include "cgroupfs/seccomp.h"

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif
#ifndef SECCOMP_RET_ACTION_FULL
#define SECCOMP_RET_ACTION_FULL 0xffff0000U
#endif
#define MAX_ERRNO 4095

#define HEADER (1 + 4 + 4 + 6 * 8)
#define MAX_FILTERS 3

enum stage { STAGE_START, STAGE_REJECTED, STAGE_INSTALLED, STAGE_DONE, STAGE_TRAPPED };

/* Shared with the child; written by it, read after it is gone or stuck. */
struct outcome {
	int stage;
	int reject_errno;
	long baseline, ret;
	int baseline_errno, err;
	int trap_errno, trap_nr;
	unsigned int trap_arch;
};

static struct outcome *shared;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	shared->trap_errno = si->si_errno;
	shared->trap_nr = si->si_syscall;
	shared->trap_arch = si->si_arch;
	__atomic_store_n(&shared->stage, STAGE_TRAPPED, __ATOMIC_SEQ_CST);
	/* Any syscall may be filtered now; the parent kills us. */
	for (;;)
		;
}

static long call_it(int nr, const uint64_t *a, int *err)
{
	long r;

	errno = 0;
	r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	*err = errno;
	return r;
}

static __attribute__((noreturn)) void child(const struct seccomp_filters *f, int nr, const uint64_t *args)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigset_t none;
	size_t i;

	/* No core file from a killed child (core_pattern may be a plain file
	 * in the working directory). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	sigaction(SIGSYS, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	shared->baseline = call_it(nr, args, &shared->baseline_errno);
	/* Oldest first: index 0 is the most recent, as ptrace numbers them. */
	for (i = f->n; i-- > 0;) {
		struct sock_fprog prog = { .len = (unsigned short)f->lens[i], .filter = f->progs[i] };

		if (f->lens[i] > 0xffff || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
			shared->reject_errno = f->lens[i] > 0xffff ? EINVAL : errno;
			__atomic_store_n(&shared->stage, STAGE_REJECTED, __ATOMIC_SEQ_CST);
			_exit(0);
		}
	}
	__atomic_store_n(&shared->stage, STAGE_INSTALLED, __ATOMIC_SEQ_CST);
	shared->ret = call_it(nr, args, &shared->err);
	__atomic_store_n(&shared->stage, STAGE_DONE, __ATOMIC_SEQ_CST);
	syscall(SYS_exit_group, 0);
	for (;;)
		;
}

/* Run the child until it has a verdict; returns its wait status. */
static int run_child(const struct seccomp_filters *f, int nr, const uint64_t *args)
{
	struct timespec nap = { 0, 20000 };
	int status = 0, polls = 0;
	pid_t pid;

	memset(shared, 0, sizeof(*shared));
	pid = fork();
	FUZZ_ASSERT(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		child(f, nr, args);
	for (;;) {
		int stage = __atomic_load_n(&shared->stage, __ATOMIC_SEQ_CST);
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return status;
		if (stage == STAGE_DONE || stage == STAGE_TRAPPED) {
			kill(pid, SIGKILL);
			FUZZ_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid");
			return status;
		}
		if (++polls > 5 * 1000 * 1000 / 20) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			FUZZ_ASSERT(false, "child stuck in stage %d for 5 s", stage);
		}
		if (polls > 50)
			nanosleep(&nap, NULL);
		else
			sched_yield();
	}
}

static bool action_known(uint32_t a)
{
	switch (a & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_KILL_PROCESS:
	case SECCOMP_RET_KILL_THREAD:
	case SECCOMP_RET_TRAP:
	case SECCOMP_RET_ERRNO:
	case SECCOMP_RET_USER_NOTIF:
	case SECCOMP_RET_TRACE:
	case SECCOMP_RET_LOG:
	case SECCOMP_RET_ALLOW:
		return true;
	}
	return false;
}

/* Did the child's fate match action?  why says what was seen otherwise. */
static bool fate_matches(uint32_t action, int nr, int status, char *why, size_t size)
{
	const struct outcome *o = shared;
	uint32_t data = action & SECCOMP_RET_DATA;
	bool sigsys_death = WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
	bool ran = o->stage == STAGE_DONE;

	snprintf(why, size, "stage %d, status 0x%x, ret %ld errno %d (unfiltered: %ld errno %d), trap errno %d nr %d",
		 o->stage, status, o->ret, o->err, o->baseline, o->baseline_errno, o->trap_errno, o->trap_nr);
	switch (action & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_ALLOW:
	case SECCOMP_RET_LOG:
		return ran && o->ret == o->baseline && o->err == o->baseline_errno;
	case SECCOMP_RET_ERRNO:
		if (data > MAX_ERRNO)
			data = MAX_ERRNO;
		return ran && (data == 0 ? o->ret == 0 : o->ret == -1 && o->err == (int)data);
	case SECCOMP_RET_TRACE:      /* no tracer */
	case SECCOMP_RET_USER_NOTIF: /* no listener */
		return ran && o->ret == -1 && o->err == ENOSYS;
	case SECCOMP_RET_TRAP:
		return o->stage == STAGE_TRAPPED && o->trap_errno == (int)data && o->trap_nr == nr;
	default: /* KILL_THREAD of the only thread, KILL_PROCESS, unknown */
		return o->stage == STAGE_INSTALLED && sigsys_death;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long calls[] = { SYS_getpid, SYS_getppid, SYS_gettid, SYS_prctl, SYS_prctl };
	_cleanup_error_ sp_error_t err = NULL;
	struct seccomp_filters f = { 0 };
	struct seccomp_call call;
	uint32_t action, sel, each[MAX_FILTERS];
	size_t ninsn, per, i;
	bool reads_ip = false, all_known = true, ip;
	char why[256], name[64];
	int prctl_nr, status, ret;

	if (size < HEADER || size > HEADER + MAX_FILTERS * 4096 * sizeof(struct sock_filter))
		return -1;
	if (!shared) {
		shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		FUZZ_ASSERT(shared != MAP_FAILED, "mmap: %s", strerror(errno));
	}
	FUZZ_ASSERT(seccomp_native_prctl(&call.arch, &prctl_nr) == 0, "no native arch");
	FUZZ_ASSERT(prctl_nr == SYS_prctl, "prctl is %d", prctl_nr);

	f.n = data[0] % MAX_FILTERS + 1;
	memcpy(&sel, data + 5, 4);
	call.nr = (int)calls[sel % 5];
	memcpy(call.args, data + 9, sizeof(call.args));
	if (call.nr == SYS_prctl) {
		call.args[0] = sel % 5 == 3 ? PR_GET_MEMORY_MERGE : PR_SET_MEMORY_MERGE;
		/* PR_SET_MEMORY_MERGE checks arg3-5 first: with any set it
		 * fails with EINVAL, with none set arg2 must be 0 (off). */
		if (call.args[0] == PR_SET_MEMORY_MERGE && !call.args[2] && !call.args[3] && !call.args[4])
			call.args[1] = 0;
	}

	ninsn = (size - HEADER) / sizeof(struct sock_filter);
	per = ninsn / f.n;
	f.progs = calloc(f.n, sizeof(*f.progs));
	f.lens = calloc(f.n, sizeof(*f.lens));
	if (!f.progs || !f.lens)
		abort();
	for (i = 0; i < f.n; i++) {
		f.lens[i] = i == f.n - 1 ? ninsn - per * i : per;
		f.progs[i] = malloc(f.lens[i] * sizeof(struct sock_filter) + 1);
		if (!f.progs[i])
			abort();
		memcpy(f.progs[i], data + HEADER + per * i * sizeof(struct sock_filter),
		       f.lens[i] * sizeof(struct sock_filter));
		if (seccomp_bpf_run(f.progs[i], f.lens[i], &call, &each[i], &ip) == 0)
			all_known &= action_known(each[i]);
	}

	ret = seccomp_filters_eval(&f, &call, &action, &reads_ip, &err);
	status = run_child(&f, call.nr, call.args);

	if (shared->stage == STAGE_REJECTED) {
		FUZZ_ASSERT(shared->reject_errno == EINVAL, "seccomp(SET_MODE_FILTER): %s",
			    strerror(shared->reject_errno));
		/* The interpreter only walks one path; an invalid instruction
		 * elsewhere is the kernel's to find. */
		goto out;
	}
	FUZZ_ASSERT(ret == 0, "the kernel accepted filters the interpreter calls invalid: %s", sp_error_msg(err));
	if (reads_ip)
		goto out;
	seccomp_action_describe(action, name, sizeof(name));
	if (all_known) {
		FUZZ_ASSERT(fate_matches(action, call.nr, status, why, sizeof(why)),
			    "predicted %s (0x%08x) for syscall %d, kernel: %s", name, action, call.nr, why);
	} else if (seccomp_action_allows(action)) {
		/* With unknown actions the interpreter ranks them above
		 * everything, which refuses more than the kernel does (the
		 * kernel ranks them by value); allowing more would be a bug. */
		FUZZ_ASSERT(fate_matches(action, call.nr, status, why, sizeof(why)),
			    "predicted %s (0x%08x) for syscall %d, kernel: %s", name, action, call.nr, why);
	}
out:
	seccomp_filters_free(&f);
	return 0;
}
