/* SPDX-License-Identifier: GPL-2.0-or-later */
/* host/pidfd: identity through the pidfd's fdinfo; a namespace's init only. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/pidfd.h"
#include "host/proc.h"

static void test_parse(void **unused)
{
	struct pidfd_identity id;

	(void)unused;
	assert_int_equal(pidfd_identity_parse("pos:\t0\nflags:\t02000002\nPid:\t4121\nNSpid:\t4121\t1\n", &id), 0);
	assert_int_equal(id.pid, 4121);
	assert_int_equal(id.ns_pid, 1);
	assert_int_equal(id.depth, 2);
	assert_int_equal(pidfd_identity_parse("Pid:\t77\nNSpid:\t77\n", &id), 0);
	assert_int_equal(id.depth, 1);
	assert_int_equal(id.ns_pid, 77);
	/* reaped: the kernel shows -1 */
	assert_int_equal(pidfd_identity_parse("Pid:\t-1\nNSpid:\t-1\n", &id), 0);
	assert_int_equal(id.pid, -1);
	assert_int_equal(id.depth, 0);
	/* "NSpid" is not "Pid" */
	assert_int_equal(pidfd_identity_parse("NSpid:\t5\t1\n", &id), -EINVAL);
	assert_int_equal(pidfd_identity_parse("", &id), -EINVAL);
}

static void test_our_own_child_is_not_an_init(void **unused)
{
	unsigned long long start = 0;
	sp_error_t err = NULL;
	pid_t child;
	int status;

	(void)unused;
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(pidfd_check_ns_init(child, &start, &err), -EPERM);
	assert_non_null(strstr(sp_error_msg(err), "own pid namespace"));
	sp_error_free(&err);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	/* reaped: gone, whatever now holds the number */
	assert_true(pidfd_check_ns_init(child, &start, &err) < 0);
	sp_error_free(&err);
}

static int sleeper(void *arg)
{
	(void)arg;
	pause();
	return 0;
}

static void test_namespace_init_is_accepted(void **unused)
{
	static char stack[64 * 1024];
	unsigned long long start = 0;
	struct proc_info pi;
	sp_error_t err = NULL;
	pid_t child;

	(void)unused;
	if (geteuid() != 0)
		skip();
	child = clone(sleeper, stack + sizeof(stack), CLONE_NEWPID | SIGCHLD, NULL);
	assert_true(child > 0);
	assert_int_equal(pidfd_check_ns_init(child, &start, &err), 0);
	assert_int_equal(proc_info_read(child, &pi, NULL), 0);
	assert_int_equal(start, pi.start_time);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_our_own_child_is_not_an_init),
		cmocka_unit_test(test_namespace_init_is_accepted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
