/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the classic-BPF evaluation behind `samepage enable`'s seccomp
 * check: hand-built filters the way libseccomp and runc build them (arch
 * check, syscall number, argument checks), action precedence across filters,
 * programs the kernel would reject, and for real: child processes that
 * install a filter, whose filters are read back through ptrace.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "host/seccomp.h"

#define ARCH_OFF offsetof(struct seccomp_data, arch)
#define NR_OFF offsetof(struct seccomp_data, nr)
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))
#define ARG_HI(i) (offsetof(struct seccomp_data, args) + 8 * (i) + 4)
#define NR_PRCTL 157
#define RUN(prog, call, ret, ip) seccomp_bpf_run(prog, ARRAY_SIZE(prog), call, ret, ip)

static const struct seccomp_call merge_on = { .arch = AUDIT_ARCH_X86_64, .nr = NR_PRCTL, .args = { 67, 1 } };
static const struct seccomp_call merge_off = { .arch = AUDIT_ARCH_X86_64, .nr = NR_PRCTL, .args = { 67, 0 } };
static const struct seccomp_call other_prctl = { .arch = AUDIT_ARCH_X86_64, .nr = NR_PRCTL, .args = { 15, 1 } };
static const struct seccomp_call merge_arm = { .arch = AUDIT_ARCH_AARCH64, .nr = 167, .args = { 67, 1 } };

static struct sock_filter allow_all[] = {
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

/* arch check as libseccomp emits it, then prctl -> EPERM */
static struct sock_filter deny_prctl[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH_OFF),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_PRCTL, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

/* only prctl(67, 1, ...) (64-bit arg2 == 1) is refused */
static struct sock_filter deny_arg2_one[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NR_PRCTL, 0, 7),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 67, 0, 5),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_HI(1)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_THREAD),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

/* a filter written for arm64 only: anything else is killed */
static struct sock_filter arm64_only[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH_OFF),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_AARCH64, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};

static void test_basic_filters(void **state)
{
	uint32_t ret;
	bool ip;

	(void)state;
	assert_int_equal(RUN(allow_all, &merge_on, &ret, &ip), 0);
	assert_true(seccomp_action_allows(ret));

	assert_int_equal(RUN(deny_prctl, &merge_on, &ret, &ip), 0);
	assert_int_equal(ret, SECCOMP_RET_ERRNO | EPERM);
	assert_false(seccomp_action_allows(ret));
	assert_false(ip);

	assert_int_equal(RUN(deny_arg2_one, &merge_on, &ret, &ip), 0);
	assert_int_equal(ret, SECCOMP_RET_KILL_THREAD);
	assert_int_equal(RUN(deny_arg2_one, &merge_off, &ret, &ip), 0);
	assert_int_equal(ret, SECCOMP_RET_ALLOW);
	assert_int_equal(RUN(deny_arg2_one, &other_prctl, &ret, &ip), 0);
	assert_int_equal(ret, SECCOMP_RET_ALLOW);

	/* the same call seen through another ABI */
	assert_int_equal(RUN(arm64_only, &merge_on, &ret, &ip), 0);
	assert_int_equal(ret, SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(RUN(arm64_only, &merge_arm, &ret, &ip), 0);
	assert_int_equal(ret, SECCOMP_RET_ALLOW);
	assert_int_equal(RUN(deny_prctl, &merge_arm, &ret, &ip), 0);
	assert_int_equal(ret, SECCOMP_RET_KILL_PROCESS);
}

static void test_alu_mem_jumps(void **state)
{
	/* ((nr * 2 + 1) & 0xff) == 59 for nr 157, kept in scratch memory */
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
		BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 2),
		BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 1),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff),
		BPF_STMT(BPF_ST, 3),
		BPF_STMT(BPF_LD | BPF_IMM, 0),
		BPF_STMT(BPF_LDX | BPF_W | BPF_MEM, 3),
		BPF_STMT(BPF_MISC | BPF_TXA, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 59, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* and arg2 has bit 0 set, and 8 >> 2 == 2, and -(-5) == 5 */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1)),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 1, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LDX | BPF_IMM, 2),
		BPF_STMT(BPF_LD | BPF_IMM, 8),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_X, 0),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_X, 0, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_IMM, (uint32_t)-5),
		BPF_STMT(BPF_ALU | BPF_NEG, 0),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 4, 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, sizeof(struct seccomp_data), 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	};
	uint32_t ret;
	bool ip;

	(void)state;
	assert_int_equal(RUN(prog, &merge_on, &ret, &ip), 0);
	assert_int_equal(ret, SECCOMP_RET_TRAP);
	assert_int_equal(RUN(prog, &merge_off, &ret, &ip), 0);
	assert_int_equal(ret, SECCOMP_RET_ALLOW);
}

static void test_div_zero_and_ip(void **state)
{
	struct sock_filter div0[] = {
		BPF_STMT(BPF_LDX | BPF_IMM, 0),
		BPF_STMT(BPF_LD | BPF_IMM, 10),
		BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter reads_ip[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter ret_a[] = {
		BPF_STMT(BPF_LD | BPF_IMM, SECCOMP_RET_LOG),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	uint32_t ret;
	bool ip;

	(void)state;
	/* classic BPF ends with 0 on x/0: SECCOMP_RET_KILL_THREAD */
	assert_int_equal(RUN(div0, &merge_on, &ret, &ip), 0);
	assert_int_equal(ret, 0);
	assert_false(seccomp_action_allows(ret));
	assert_int_equal(RUN(reads_ip, &merge_on, &ret, &ip), 0);
	assert_true(ip);
	assert_int_equal(RUN(ret_a, &merge_on, &ret, &ip), 0);
	assert_int_equal(ret, SECCOMP_RET_LOG);
	assert_true(seccomp_action_allows(ret));
}

static void test_invalid_programs(void **state)
{
	struct sock_filter jump_out[] = {
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter ja_out[] = {
		BPF_STMT(BPF_JMP | BPF_JA, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter no_ret[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR_OFF),
	};
	struct sock_filter misaligned[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter beyond[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter byte_load[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter bad_mem[] = {
		BPF_STMT(BPF_ST, BPF_MEMWORDS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	uint32_t ret;
	bool ip;

	(void)state;
	assert_int_equal(RUN(jump_out, &merge_on, &ret, &ip), -EINVAL);
	assert_int_equal(RUN(ja_out, &merge_on, &ret, &ip), -EINVAL);
	assert_int_equal(RUN(no_ret, &merge_on, &ret, &ip), -EINVAL);
	assert_int_equal(RUN(misaligned, &merge_on, &ret, &ip), -EINVAL);
	assert_int_equal(RUN(beyond, &merge_on, &ret, &ip), -EINVAL);
	assert_int_equal(RUN(byte_load, &merge_on, &ret, &ip), -EINVAL);
	assert_int_equal(RUN(bad_mem, &merge_on, &ret, &ip), -EINVAL);
	assert_int_equal(seccomp_bpf_run(allow_all, 0, &merge_on, &ret, &ip), -EINVAL);
}

static void test_precedence(void **state)
{
	struct sock_filter log_all[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_LOG) };
	struct sock_filter trace_all[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE | 7) };
	struct sock_filter unknown[] = { BPF_STMT(BPF_RET | BPF_K, 0x00120000) };
	struct sock_filter *progs[3];
	size_t lens[3];
	struct seccomp_filters f = { .progs = progs, .lens = lens };
	uint32_t action;
	bool ip;
	char buf[64];

	(void)state;
	assert_int_equal(seccomp_action_combine(SECCOMP_RET_ALLOW, SECCOMP_RET_LOG), SECCOMP_RET_LOG);
	assert_int_equal(seccomp_action_combine(SECCOMP_RET_ERRNO | 1, SECCOMP_RET_KILL_THREAD),
			 SECCOMP_RET_KILL_THREAD);
	assert_int_equal(seccomp_action_combine(SECCOMP_RET_KILL_THREAD, SECCOMP_RET_KILL_PROCESS),
			 SECCOMP_RET_KILL_PROCESS);
	assert_int_equal(seccomp_action_combine(SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO | 1), SECCOMP_RET_TRAP);
	assert_int_equal(seccomp_action_combine(SECCOMP_RET_TRACE, SECCOMP_RET_USER_NOTIF), SECCOMP_RET_USER_NOTIF);

	progs[0] = allow_all;
	lens[0] = ARRAY_SIZE(allow_all);
	progs[1] = log_all;
	lens[1] = 1;
	f.n = 2;
	assert_int_equal(seccomp_filters_eval(&f, &merge_on, &action, &ip, NULL), 0);
	assert_int_equal(action, SECCOMP_RET_LOG);
	assert_true(seccomp_action_allows(action));

	progs[2] = trace_all;
	lens[2] = 1;
	f.n = 3;
	assert_int_equal(seccomp_filters_eval(&f, &merge_on, &action, &ip, NULL), 0);
	assert_false(seccomp_action_allows(action));
	assert_string_equal(seccomp_action_describe(action, buf, sizeof(buf)), "trace");

	progs[1] = deny_prctl;
	lens[1] = ARRAY_SIZE(deny_prctl);
	progs[2] = unknown;
	f.n = 3;
	assert_int_equal(seccomp_filters_eval(&f, &merge_on, &action, &ip, NULL), 0);
	/* an action the kernel does not know kills, and beats ERRNO */
	assert_int_equal(action, 0x00120000);
	assert_non_null(strstr(seccomp_action_describe(action, buf, sizeof(buf)), "unknown"));
	f.n = 2;
	assert_int_equal(seccomp_filters_eval(&f, &merge_on, &action, &ip, NULL), 0);
	assert_non_null(strstr(seccomp_action_describe(action, buf, sizeof(buf)), "errno 1"));
}

/* A child that installs prog (if any) and waits. */
static pid_t child_with_filter(struct sock_filter *prog, unsigned short len)
{
	int p[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		struct sock_fprog fp = { .len = len, .filter = prog };

		if (prog && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
			     prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0) < 0))
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void stop_child(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* it died of our SIGKILL, not of seccomp or a stray ptrace stop */
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void test_real_processes(void **state)
{
	_cleanup_free_ char *why = NULL;
	sp_error_t err = NULL;
	uint32_t arch;
	int nr;
	pid_t pid;

	(void)state;
	if (geteuid() != 0 || seccomp_native_prctl(&arch, &nr) < 0 || arch != AUDIT_ARCH_X86_64)
		skip();

	pid = child_with_filter(NULL, 0);
	assert_int_equal(seccomp_proc_mode(pid, &err), 0);
	assert_int_equal(seccomp_check_prctl_merge(pid, true, &why, &err), 1);
	stop_child(pid);

	pid = child_with_filter(allow_all, ARRAY_SIZE(allow_all));
	assert_int_equal(seccomp_proc_mode(pid, &err), 2);
	assert_int_equal(seccomp_check_prctl_merge(pid, true, &why, &err), 1);
	stop_child(pid);

	pid = child_with_filter(deny_prctl, ARRAY_SIZE(deny_prctl));
	assert_int_equal(seccomp_check_prctl_merge(pid, true, &why, &err), 0);
	assert_non_null(why);
	assert_non_null(strstr(why, "errno 1"));
	free(why);
	why = NULL;
	stop_child(pid);

	pid = child_with_filter(deny_arg2_one, ARRAY_SIZE(deny_arg2_one));
	assert_int_equal(seccomp_check_prctl_merge(pid, true, &why, &err), 0);
	assert_non_null(strstr(why, "kill_thread"));
	free(why);
	why = NULL;
	/* switching off is prctl(67, 0, ...), which this filter lets through */
	assert_int_equal(seccomp_check_prctl_merge(pid, false, &why, &err), 1);
	stop_child(pid);

	/* gone */
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	assert_int_equal(seccomp_check_prctl_merge(pid, true, &why, &err), -ESRCH);
	sp_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_filters),
		cmocka_unit_test(test_alu_mem_jumps),
		cmocka_unit_test(test_div_zero_and_ip),
		cmocka_unit_test(test_invalid_programs),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_real_processes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
