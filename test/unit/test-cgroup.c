/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cgroupfs/cgroup: cgroup.procs parsing, the walk over a fake cgroup tree,
 * and the choice of a container's cgroup from mountinfo and
 * /proc/<pid>/cgroup texts.
 */
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

static char tmp[] = "/tmp/sp-test-cgroup.XXXXXX";

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

static void test_procs_parse(void **state)
{
	struct pid_list l = { 0 };

	(void)state;
	/* v1 cgroup.procs may repeat a tgid. */
	assert_int_equal(cgroup_procs_parse("30\n10\n20\n10\n", &l), 0);
	pid_list_sort_unique(&l);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.pids[0], 10);
	assert_int_equal(l.pids[2], 30);
	assert_int_equal(cgroup_procs_parse("12x\n", &l), -EINVAL);
	assert_int_equal(cgroup_procs_parse("-3\n", &l), -EINVAL);
	pid_list_free(&l);
}

static void test_procs_walk(void **state)
{
	struct pid_list l = { 0 };
	sp_error_t err = NULL;
	char path[256];

	(void)state;
	mk("cg");
	mk("cg/child");
	mk("cg/child/grandchild");
	put("cg/cgroup.procs", "1\n2\n");
	put("cg/child/cgroup.procs", "3\n");
	put("cg/child/grandchild/cgroup.procs", "4\n2\n");
	snprintf(path, sizeof(path), "%s/cg", tmp);
	assert_true(cgroup_path_valid(path));
	assert_int_equal(cgroup_procs_read(path, false, &l, &err), 0);
	assert_int_equal(l.n, 2);
	l.n = 0;
	assert_int_equal(cgroup_procs_read(path, true, &l, &err), 0);
	pid_list_sort_unique(&l);
	assert_int_equal(l.n, 4);
	pid_list_free(&l);

	snprintf(path, sizeof(path), "%s/nonexistent", tmp);
	assert_false(cgroup_path_valid(path));
	assert_int_equal(cgroup_procs_read(path, true, &l, &err), -ENOENT);
	assert_non_null(strstr(sp_error_msg(err), "nonexistent"));
	sp_error_free(&err);
}

static const char hybrid_mountinfo[] =
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	"39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static void test_pick_path(void **state)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
	char *none = NULL;

	(void)state;
	/* Hybrid: the pids hierarchy, not the unified one systemd uses. */
	assert_int_equal(cgroup_pick_path(hybrid_mountinfo,
					  "9:name=systemd:/user.slice\n8:pids:/samepage-test/c1\n"
					  "4:memory:/samepage-test/c1\n2:cpu,cpuacct:/samepage-test/c1\n0::/user.slice\n",
					  &a),
			 0);
	assert_string_equal(a, "/sys/fs/cgroup/pids/samepage-test/c1");
	/* No pids line: memory. */
	assert_int_equal(cgroup_pick_path(hybrid_mountinfo, "4:memory:/x\n2:cpu,cpuacct:/x\n", &b), 0);
	assert_string_equal(b, "/sys/fs/cgroup/memory/x");
	/* Only a co-mounted hierarchy: its controllers must all match. */
	assert_int_equal(cgroup_pick_path(hybrid_mountinfo, "2:cpu,cpuacct:/y\n", &c), 0);
	assert_string_equal(c, "/sys/fs/cgroup/cpu,cpuacct/y");
	/* Pure v2. */
	assert_int_equal(cgroup_pick_path("30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
					  "0::/system.slice/runc-abc.scope\n", &d),
			 0);
	assert_string_equal(d, "/sys/fs/cgroup/system.slice/runc-abc.scope");
	/* Escaped mount point. */
	assert_int_equal(cgroup_pick_path("30 1 0:26 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n", "0::/z\n", &e), 0);
	assert_string_equal(e, "/mnt/cg two/z");
	/* The root cgroup is no container. */
	assert_int_equal(cgroup_pick_path(hybrid_mountinfo, "8:pids:/\n4:memory:/a\n", &none), -ENOENT);
	assert_null(none);
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
		cmocka_unit_test(test_procs_parse),
		cmocka_unit_test(test_procs_walk),
		cmocka_unit_test(test_pick_path),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
