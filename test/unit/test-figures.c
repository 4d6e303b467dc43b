/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cgroupfs/figures: a process tree, and a cgroup's figures over a fake
 * cgroup directory holding us and a child. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "cgroupfs/cgroup.h"
#include "cgroupfs/figures.h"

static char tmp[] = "/tmp/sp-test-figures.XXXXXX";

static void put(const char *rel, const char *content)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static void mk(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void test_proc_tree(void **state)
{
	struct pid_list l = { 0 };
	sp_error_t err = NULL;
	pid_t child, grandchild = 0;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	child = fork();
	if (child == 0) {
		pid_t g = fork();

		if (g == 0) {
			for (;;)
				pause();
		}
		assert_int_equal(write(p[1], &g, sizeof(g)), (ssize_t)sizeof(g));
		for (;;)
			pause();
	}
	assert_int_equal(read(p[0], &grandchild, sizeof(grandchild)), (ssize_t)sizeof(grandchild));
	assert_int_equal(ksm_proc_tree(child, &l, &err), 0);
	pid_list_sort_unique(&l);
	assert_int_equal(l.n, 2);
	assert_true(pid_list_contains(&l, child));
	assert_true(pid_list_contains(&l, grandchild));
	pid_list_free(&l);
	kill(grandchild, SIGKILL);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(p[0]);
	close(p[1]);
}

static void test_cgroup(void **state)
{
	struct ksm_group_stat g;
	sp_error_t err = NULL;
	char procs[64], cg[256];
	pid_t child;

	(void)state;
	child = fork();
	if (child == 0) {
		for (;;)
			pause();
	}
	mk("cg");
	mk("cg/sub");
	snprintf(procs, sizeof(procs), "%d\n", (int)getpid());
	put("cg/cgroup.procs", procs);
	snprintf(procs, sizeof(procs), "%d\n%d\n", (int)child, (int)getpid());
	put("cg/sub/cgroup.procs", procs);
	snprintf(cg, sizeof(cg), "%s/cg", tmp);
	assert_int_equal(ksm_stat_cgroup(cg, &g, &err), 0);
	/* descendants included, our pid counted once */
	assert_int_equal(g.processes, 2);
	assert_true(g.anon_bytes > 0);
	snprintf(cg, sizeof(cg), "%s/none", tmp);
	assert_true(ksm_stat_cgroup(cg, &g, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "none"));
	sp_error_free(&err);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_tree),
		cmocka_unit_test(test_cgroup),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
