/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * host/ptrace.c's deadlines: a wait for a stop that never comes ends at the
 * deadline, and a tracee that cannot be stopped (a vfork parent waiting for
 * its child) is given up with -ETIMEDOUT, its signal mask untouched.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/error.h"
#include "host/ptrace.h"

static uint64_t ms_since(uint64_t t0)
{
	return (ptrace_now_ns() - t0) / 1000000ULL;
}

static char *status_line(pid_t pid, const char *key)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, strlen(key)) == 0) {
			fclose(f);
			return strdup(line);
		}
	}
	fclose(f);
	return NULL;
}

/* A child that runs on and never stops: the wait ends at the deadline, and
 * then at once when the child exits. */
static void test_wait_until_deadline(void **state)
{
	sigset_t chld, old;
	int status;
	uint64_t t0;
	pid_t pid;

	(void)state;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	t0 = ptrace_now_ns();
	assert_int_equal(ptrace_wait_until(pid, &status, t0 + 150 * 1000000ULL, NULL), -ETIMEDOUT);
	assert_true(ms_since(t0) >= 150);
	assert_true(ms_since(t0) < 400);

	kill(pid, SIGKILL);
	t0 = ptrace_now_ns();
	assert_int_equal(ptrace_wait_until(pid, &status, t0 + 5000 * 1000000ULL, NULL), 0);
	assert_true(WIFSIGNALED(status));
	assert_true(ms_since(t0) < 1000); /* woken by SIGCHLD, not by the deadline */
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* A vfork parent cannot reach a ptrace stop until its child execs or
 * exits: the interrupt is given up at the deadline, nothing in it changed,
 * and our own signal mask is back as it was. */
static void test_vfork_parent_times_out(void **state)
{
	struct tracee_opts opts = { .pidfd = -1, .timeout_ms = 300 };
	_cleanup_error_ sp_error_t err = NULL;
	sigset_t before, after;
	struct tracee t;
	char *blk_before, *blk_after, *st;
	int pipefd[2], status, r;
	uint64_t t0;
	pid_t pid, child = 0;

	(void)state;
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pid_t c;

		close(pipefd[0]);
		c = getpid();
		if (write(pipefd[1], &c, sizeof(c)) < 0)
			_exit(1);
		c = vfork();
		if (c == 0) {
			for (;;)
				pause();
		}
		_exit(0);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &child, sizeof(child)), sizeof(child));
	close(pipefd[0]);
	/* Wait until the parent sits in its vfork wait (state D). */
	for (int i = 0; i < 200; i++) {
		st = status_line(pid, "State:");
		if (st && strchr(st, 'D')) {
			free(st);
			break;
		}
		free(st);
		usleep(10000);
	}
	blk_before = status_line(pid, "SigBlk:");
	sigprocmask(SIG_SETMASK, NULL, &before);

	t0 = ptrace_now_ns();
	r = tracee_seize(&t, pid, &opts, &err);
	assert_int_equal(r, 0);
	r = tracee_interrupt(&t, &err);
	assert_int_equal(r, -ETIMEDOUT);
	assert_non_null(strstr(sp_error_msg(err), "within the deadline"));
	tracee_release(&t, NULL, NULL);
	assert_true(t.left_attached);
	assert_true(ms_since(t0) >= 300);
	assert_true(ms_since(t0) < 300 + TRACEE_RELEASE_GRACE_MS + 400);

	blk_after = status_line(pid, "SigBlk:");
	assert_string_equal(blk_before, blk_after);
	sigprocmask(SIG_SETMASK, NULL, &after);
	assert_int_equal(sigismember(&after, SIGCHLD), sigismember(&before, SIGCHLD));
	assert_int_equal(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
	free(blk_before);
	free(blk_after);

	/* The vfork child is not ours to wait for: find it by its parent. */
	{
		char path[64];
		FILE *f;
		int vc = 0;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
		f = fopen(path, "re");
		if (f) {
			if (fscanf(f, "%d", &vc) != 1)
				vc = 0;
			fclose(f);
		}
		kill(pid, SIGKILL);
		if (vc > 0)
			kill(vc, SIGKILL);
	}
	assert_int_equal(waitpid(pid, &status, __WALL), pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wait_until_deadline),
		cmocka_unit_test(test_vfork_parent_times_out),
	};

	return cmocka_run_group_tests_name("ptrace", tests, NULL, NULL);
}
