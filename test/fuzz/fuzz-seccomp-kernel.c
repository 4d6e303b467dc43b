/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage's seccomp interpreter against the kernel's.  For each input a
 * child process installs the fuzzed filters and makes the call; its fate
 * (the call ran, failed with an errno, raised SIGSYS, killed it) must be
 * what seccomp_filters_eval() predicts.  Input layout as in fuzz-seccomp.c;
 * see legalize() for what bit 7 of the first byte does.
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
#include <poll.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/seccomp.h>
#include "test/fuzz/fuzz.h"
#include "base/kernel-abi.h"
#include "host/ksm.h"
#include "host/seccomp.h"

#define MAX_ERRNO 4095

#define HEADER (1 + 4 + 4 + 6 * 8)
#define MAX_FILTERS 3
#define CHILD_STACK (256 * 1024)

enum stage { STAGE_INSTALLING, STAGE_REJECTED, STAGE_INSTALLED, STAGE_DONE };

/* Written by the child, read by the parent once it is gone or stuck.
 * Return values are raw: -errno on failure. */
struct outcome {
	int stage, trapped;
	size_t installed;
	long reject, baseline, ret;
	int trap_errno, trap_nr;
	unsigned int trap_arch;
};

static struct outcome *shared;

/*
 * The child shares our memory (clone with CLONE_VM: fork() would copy
 * ASan's page tables, 100 times slower) but not our TLS, so it runs only
 * uninstrumented code that makes raw system calls and never touches errno.
 */
#define CHILD_CODE __attribute__((no_sanitize("address", "undefined", "coverage"), noinline))

CHILD_CODE static long raw6(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	register long r10 __asm__("r10") = a3;
	register long r8 __asm__("r8") = a4;
	register long r9 __asm__("r9") = a5;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

CHILD_CODE static long call_it(int nr, const uint64_t *a)
{
	return raw6(nr, (long)a[0], (long)a[1], (long)a[2], (long)a[3], (long)a[4], (long)a[5]);
}

/* Installed in the parent, inherited by the child at clone time. */
CHILD_CODE static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	/* Only the call under test counts, not the exit after it. */
	if (__atomic_load_n(&shared->stage, __ATOMIC_SEQ_CST) != STAGE_INSTALLED)
		for (;;)
			;
	shared->trap_errno = si->si_errno;
	shared->trap_nr = si->si_syscall;
	shared->trap_arch = si->si_arch;
	__atomic_store_n(&shared->trapped, 1, __ATOMIC_SEQ_CST);
	/* Any syscall may be filtered now; the parent kills us. */
	for (;;)
		;
}

struct child_args {
	const struct seccomp_filters *f;
	int nr;
	const uint64_t *args;
};

CHILD_CODE static int child(void *arg)
{
	const struct child_args *c = arg;
	const struct rlimit no_core = { 0, 0 };
	long self = raw6(SYS_gettid, 0, 0, 0, 0, 0, 0);
	size_t i;

	/* No core file from a killed child (core_pattern may be a plain
	 * file in the working directory).  Not PR_SET_DUMPABLE: that is
	 * per mm, which we share with the fuzzer. */
	raw6(SYS_setrlimit, RLIMIT_CORE, (long)&no_core, 0, 0, 0, 0);
	raw6(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0);

	shared->baseline = call_it(c->nr, c->args);
	/* Oldest first: index 0 is the most recent, as ptrace numbers them. */
	for (i = c->f->n; i-- > 0;) {
		struct sock_fprog prog = { .len = (unsigned short)c->f->lens[i], .filter = c->f->progs[i] };
		long r = raw6(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0, 0, 0);

		if (r < 0) {
			shared->reject = r;
			__atomic_store_n(&shared->stage, STAGE_REJECTED, __ATOMIC_SEQ_CST);
			for (;;)
				raw6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
		}
		shared->installed++;
	}
	__atomic_store_n(&shared->stage, STAGE_INSTALLED, __ATOMIC_SEQ_CST);
	shared->ret = call_it(c->nr, c->args);
	__atomic_store_n(&shared->stage, STAGE_DONE, __ATOMIC_SEQ_CST);
	raw6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
	raw6(SYS_tgkill, self, self, SIGKILL, 0, 0, 0);
	for (;;)
		;
}

/*
 * Most random instructions are ones the kernel refuses, and a refused
 * filter compares nothing.  Unless the first input byte has bit 7 set,
 * each instruction is turned into one seccomp accepts (opcode from the
 * list in the kernel's seccomp_check_filter(), jumps kept in range, loads
 * aligned, a return at the end, mostly known actions), so most inputs
 * reach the comparison.
 */
static const uint16_t legal_codes[] = {
	BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_W | BPF_ABS, BPF_LD | BPF_W | BPF_LEN, BPF_LDX | BPF_W | BPF_LEN,
	BPF_LD | BPF_IMM, BPF_LDX | BPF_IMM, BPF_LD | BPF_MEM, BPF_LDX | BPF_MEM, BPF_ST, BPF_STX,
	BPF_ALU | BPF_ADD | BPF_K, BPF_ALU | BPF_ADD | BPF_X, BPF_ALU | BPF_SUB | BPF_K, BPF_ALU | BPF_SUB | BPF_X,
	BPF_ALU | BPF_MUL | BPF_K, BPF_ALU | BPF_MUL | BPF_X, BPF_ALU | BPF_DIV | BPF_K, BPF_ALU | BPF_DIV | BPF_X,
	BPF_ALU | BPF_AND | BPF_K, BPF_ALU | BPF_AND | BPF_X, BPF_ALU | BPF_OR | BPF_K, BPF_ALU | BPF_OR | BPF_X,
	BPF_ALU | BPF_XOR | BPF_K, BPF_ALU | BPF_XOR | BPF_X, BPF_ALU | BPF_LSH | BPF_K, BPF_ALU | BPF_LSH | BPF_X,
	BPF_ALU | BPF_RSH | BPF_K, BPF_ALU | BPF_RSH | BPF_X, BPF_ALU | BPF_NEG, BPF_MISC | BPF_TAX,
	BPF_MISC | BPF_TXA, BPF_JMP | BPF_JA, BPF_JMP | BPF_JEQ | BPF_K, BPF_JMP | BPF_JEQ | BPF_K,
	BPF_JMP | BPF_JEQ | BPF_X, BPF_JMP | BPF_JGT | BPF_K, BPF_JMP | BPF_JGT | BPF_X, BPF_JMP | BPF_JGE | BPF_K,
	BPF_JMP | BPF_JGE | BPF_X, BPF_JMP | BPF_JSET | BPF_K, BPF_JMP | BPF_JSET | BPF_X, BPF_RET | BPF_K,
	BPF_RET | BPF_K, BPF_RET | BPF_K, BPF_RET | BPF_A,
};

static const uint32_t known_actions[8] = {
	SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO,
	SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW,
};

static void legalize(struct sock_filter *prog, size_t len)
{
	size_t pc;

	for (pc = 0; pc < len; pc++) {
		struct sock_filter *in = &prog[pc];
		size_t room = len - pc - 1; /* instructions after this one */

		in->code = legal_codes[in->code % (sizeof(legal_codes) / sizeof(legal_codes[0]))];
		if (pc == len - 1 && BPF_CLASS(in->code) != BPF_RET)
			in->code = BPF_RET | (in->jt & 1 ? BPF_A : BPF_K);
		switch (BPF_CLASS(in->code)) {
		case BPF_LD:
			if (BPF_MODE(in->code) == BPF_ABS)
				in->k = (in->k % 16) * 4;
			else if (BPF_MODE(in->code) == BPF_MEM)
				in->k %= BPF_MEMWORDS;
			break;
		case BPF_LDX:
		case BPF_ST:
		case BPF_STX:
			in->k %= BPF_MEMWORDS;
			break;
		case BPF_ALU:
			if (BPF_SRC(in->code) == BPF_K && BPF_OP(in->code) == BPF_DIV && in->k == 0)
				in->k = 1;
			if (BPF_SRC(in->code) == BPF_K && (BPF_OP(in->code) == BPF_LSH || BPF_OP(in->code) == BPF_RSH))
				in->k %= 32;
			break;
		case BPF_JMP:
			if (BPF_OP(in->code) == BPF_JA) {
				in->k %= room;
			} else {
				in->jt %= room;
				in->jf %= room;
			}
			break;
		case BPF_RET:
			/* 1 in 16 keeps whatever action it has. */
			if ((in->k >> 28) != 0xf)
				in->k = known_actions[(in->k >> 16) & 7] | (in->k & SECCOMP_RET_DATA);
			break;
		}
	}
}

/*
 * The program the child installs: the fuzzed one behind a door that lets
 * seccomp(2) itself through, so filters already installed cannot refuse
 * (or, with ERRNO 0, fake) installing the next.  The door leaves A = 0, as
 * a program starts, and jumps are relative, so for any other call the
 * fuzzed program runs as it would alone.
 */
#define DOOR 4
static struct sock_filter *with_door(const struct sock_filter *prog, size_t len)
{
	const struct sock_filter door[DOOR] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_IMM, 0),
	};
	struct sock_filter *out = malloc((len + DOOR) * sizeof(*out));

	if (!out)
		abort();
	memcpy(out, door, sizeof(door));
	memcpy(out + DOOR, prog, len * sizeof(*prog));
	return out;
}

/* Run the child until it has a verdict; returns its wait status.  The
 * child may end by itself (killed, or exit allowed) or be left spinning
 * when its filters refuse every way out: the pidfd wakes us in the first
 * case, a short poll timeout in the second. */
static int run_child(const struct seccomp_filters *f, int nr, const uint64_t *args)
{
	static char *stack;
	struct child_args c = { f, nr, args };
	struct timespec start, now;
	struct pollfd pfd = { .events = POLLIN };
	int status = 0;
	pid_t pid;

	if (!stack) {
		struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

		stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		FUZZ_ASSERT(stack != MAP_FAILED, "mmap: %s", strerror(errno));
		FUZZ_ASSERT(sigaction(SIGSYS, &sa, NULL) == 0, "sigaction: %s", strerror(errno));
	}
	memset(shared, 0, sizeof(*shared));
	pid = clone(child, stack + CHILD_STACK, CLONE_VM | SIGCHLD, &c);
	FUZZ_ASSERT(pid >= 0, "clone: %s", strerror(errno));
	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	FUZZ_ASSERT(pfd.fd >= 0, "pidfd_open: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int stage = __atomic_load_n(&shared->stage, __ATOMIC_SEQ_CST);
		int trapped = __atomic_load_n(&shared->trapped, __ATOMIC_SEQ_CST);

		if (poll(&pfd, 1, 0) > 0)
			break;
		if (stage == STAGE_DONE || stage == STAGE_REJECTED || trapped) {
			kill(pid, SIGKILL);
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 5) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			FUZZ_ASSERT(false, "child stuck in stage %d for 5 s", stage);
		}
		poll(&pfd, 1, 1);
	}
	FUZZ_ASSERT(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
	close(pfd.fd);
	return status;
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
	bool ran = o->stage == STAGE_DONE && !o->trapped;

	snprintf(why, size, "stage %d, trapped %d, status 0x%x, returned %ld (unfiltered: %ld), trap errno %d nr %d",
		 o->stage, o->trapped, status, o->ret, o->baseline, o->trap_errno, o->trap_nr);
	switch (action & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_ALLOW:
	case SECCOMP_RET_LOG:
		return ran && o->ret == o->baseline;
	case SECCOMP_RET_ERRNO:
		if (data > MAX_ERRNO)
			data = MAX_ERRNO;
		return ran && o->ret == -(long)data;
	case SECCOMP_RET_TRACE:      /* no tracer */
	case SECCOMP_RET_USER_NOTIF: /* no listener */
		return ran && o->ret == -ENOSYS;
	case SECCOMP_RET_TRAP:
		return o->stage == STAGE_INSTALLED && o->trapped && o->trap_errno == (int)data && o->trap_nr == nr;
	default: /* KILL_THREAD of the only thread, KILL_PROCESS, unknown */
		return o->stage == STAGE_INSTALLED && !o->trapped && sigsys_death;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long calls[] = { SYS_getpid, SYS_getppid, SYS_gettid, SYS_prctl, SYS_prctl };
	_cleanup_error_ sp_error_t err = NULL;
	struct seccomp_filters f = { 0 }, kf = { 0 };
	struct seccomp_call call;
	uint32_t action, sel, each[MAX_FILTERS];
	size_t ninsn, per, i;
	bool reads_ip = false, all_known = true, ip;
	char why[256], name[64];
	int prctl_nr, status, ret;

	/* Room for the door in front of the largest program the kernel takes. */
	if (size < HEADER || size > HEADER + MAX_FILTERS * (4096 - DOOR) * sizeof(struct sock_filter))
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
	kf.n = f.n;
	f.progs = calloc(f.n, sizeof(*f.progs));
	f.lens = calloc(f.n, sizeof(*f.lens));
	kf.progs = calloc(f.n, sizeof(*f.progs));
	kf.lens = calloc(f.n, sizeof(*f.lens));
	if (!f.progs || !f.lens || !kf.progs || !kf.lens)
		abort();
	for (i = 0; i < f.n; i++) {
		f.lens[i] = i == f.n - 1 ? ninsn - per * i : per;
		f.progs[i] = malloc(f.lens[i] * sizeof(struct sock_filter) + 1);
		if (!f.progs[i])
			abort();
		memcpy(f.progs[i], data + HEADER + per * i * sizeof(struct sock_filter),
		       f.lens[i] * sizeof(struct sock_filter));
		if (!(data[0] & 0x80))
			legalize(f.progs[i], f.lens[i]);
		kf.progs[i] = with_door(f.progs[i], f.lens[i]);
		kf.lens[i] = f.lens[i] + DOOR;
		if (seccomp_bpf_run(f.progs[i], f.lens[i], &call, &each[i], &ip) == 0)
			all_known &= action_known(each[i]);
	}

	ret = seccomp_filters_eval(&f, &call, &action, &reads_ip, &err);
	status = run_child(&kf, call.nr, call.args);

	if (shared->stage != STAGE_INSTALLED && shared->stage != STAGE_DONE) {
		FUZZ_ASSERT(shared->stage == STAGE_REJECTED && shared->reject == -EINVAL,
			    "seccomp(SET_MODE_FILTER) of filter %zu: stage %d, %s", f.n - 1 - shared->installed,
			    shared->stage, strerror((int)-shared->reject));
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
	seccomp_filters_free(&kf);
	return 0;
}
