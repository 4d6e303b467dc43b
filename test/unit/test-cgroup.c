/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cgroupfs/cgroup: cgroup.procs parsing, the walk over a fake cgroup tree,
 * and the choice of a container's cgroup from mountinfo and
 * /proc/<pid>/cgroup texts, also as recorded on both layouts
 * (test/unit/data/README.md): systemd's hybrid one of this machine and a
 * unified-only host.  Each test asserts the directory a user would cd into.
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
#include "base/error.h"
#include "base/fileio.h"
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

/* make check-unit runs from the top of the tree, where __FILE__ starts. */
static char *data(const char *rel)
{
	_cleanup_free_ char *path = NULL, *dir = strdup(__FILE__);
	char *text = NULL, *slash;

	assert_non_null(dir);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	assert_true(asprintf(&path, "%s/data/%s", slash ? dir : ".", rel) > 0);
	assert_int_equal(read_file_bounded(AT_FDCWD, path, 1 << 20, &text, NULL, NULL), 0);
	return text;
}

static void assert_pick(const char *mountinfo, const char *proc_cgroup, const char *want)
{
	_cleanup_free_ char *path = NULL;

	assert_int_equal(cgroup_pick_path(mountinfo, proc_cgroup, &path), 0);
	assert_string_equal(path, want);
}

static void assert_pick2(const char *mountinfo, const char *proc_cgroup, const char *want)
{
	_cleanup_free_ char *mnt = cgroup_mount_find(mountinfo, ""), *path = NULL;

	assert_non_null(mnt);
	assert_int_equal(cgroup2_pick_path(mnt, proc_cgroup, false, &path), 0);
	assert_string_equal(path, want);
}

static void test_hybrid(void **state)
{
	_cleanup_free_ char *mi = data("hybrid/mountinfo"), *pc = data("hybrid/proc-pid-cgroup");
	_cleanup_free_ char *pids = cgroup_mount_find(mi, "pids"), *sd = cgroup_mount_find(mi, "name=systemd");

	(void)state;
	/* the container's cgroup: the pids hierarchy, as the runtimes make it */
	assert_pick(mi, pc, "/sys/fs/cgroup/pids/samepage-fixture/ctr1");
	/* the native backend's: the cgroup2 hierarchy under unified/ */
	assert_pick2(mi, pc, "/sys/fs/cgroup/unified/samepage-fixture/ctr1");
	assert_string_equal(pids, "/sys/fs/cgroup/pids");
	assert_string_equal(sd, "/sys/fs/cgroup/systemd");
	/* cpu and cpuacct are mounted apart here: no mount covers both */
	assert_null(cgroup_mount_find(mi, "cpu,cpuacct"));
	/* the tmpfs at /sys/fs/cgroup is no cgroup mount */
	assert_null(cgroup_mount_find(mi, "tmpfs"));
}

static void test_unified(void **state)
{
	_cleanup_free_ char *mi = data("unified/mountinfo"), *pc = data("unified/proc-pid-cgroup");
	_cleanup_free_ char *pc_v1 = data("unified/proc-pid-cgroup-v1-active");
	_cleanup_free_ char *pids = cgroup_mount_find(mi, "pids");

	(void)state;
	assert_pick(mi, pc, "/sys/fs/cgroup/samepage-fixture/ctr1");
	assert_pick2(mi, pc, "/sys/fs/cgroup/samepage-fixture/ctr1");
	/* v1 lines of hierarchies not mounted here are passed over */
	assert_null(pids);
	assert_pick(mi, pc_v1, "/sys/fs/cgroup/samepage-fixture/ctr1");
	assert_pick2(mi, pc_v1, "/sys/fs/cgroup/samepage-fixture/ctr1");
}

static void test_root_and_unreachable(void **state)
{
	_cleanup_free_ char *mi = data("unified/mountinfo"), *root = NULL;
	char *path = NULL;

	(void)state;
	/* a process in the root cgroup has no container cgroup ... */
	assert_int_equal(cgroup_pick_path(mi, "0::/\n", &path), -ENOENT);
	/* ... but the native backend may name the root (and refuse it later) */
	assert_int_equal(cgroup2_pick_path("/sys/fs/cgroup", "0::/\n", true, &root), 0);
	assert_string_equal(root, "/sys/fs/cgroup");
	/* outside our cgroup namespace, or removed: not under our mount */
	assert_int_equal(cgroup_pick_path(mi, "0::/../../x\n", &path), -EXDEV);
	assert_int_equal(cgroup2_pick_path("/sys/fs/cgroup", "0::/x (deleted)\n", true, &path), -EXDEV);
	/* no cgroup2 line, no cgroup2 mount */
	assert_int_equal(cgroup2_pick_path("/sys/fs/cgroup", "8:pids:/x\n", true, &path), -ENOENT);
	assert_int_equal(cgroup2_pick_path(NULL, "0::/x\n", true, &path), -ENOENT);
	assert_null(path);
}

static void test_mountinfo_line(void **state)
{
	char line[] = "36 25 0:31 / /mnt/cg\\040two rw,nosuid shared:10 master:2 - cgroup2 cgroup2 rw,nsdelegate";
	char bad[] = "36 25 0:31 / /mnt rw";
	char short_tail[] = "36 25 0:31 / /mnt rw - cgroup2";
	struct mountinfo_entry e;

	(void)state;
	assert_int_equal(mountinfo_parse_line(line, &e), 0);
	assert_string_equal(e.root, "/");
	assert_string_equal(e.mount_point, "/mnt/cg two");
	assert_string_equal(e.fstype, "cgroup2");
	assert_string_equal(e.super_opts, "rw,nsdelegate");
	assert_int_equal(mountinfo_parse_line(bad, &e), -EINVAL);
	assert_int_equal(mountinfo_parse_line(short_tail, &e), -EINVAL);
}

static void test_proc_cgroup_lines(void **state)
{
	const char *pc = "12:cpu,cpuacct:/a\n9:name=systemd:/s\n0::/u\n";
	_cleanup_free_ char *c1 = NULL, *p1 = NULL, *c2 = NULL, *p2 = NULL, *c3 = NULL, *p3 = NULL;
	char *c = NULL, *p = NULL;

	(void)state;
	assert_int_equal(cgroup_proc_find(pc, "cpuacct", &c1, &p1), 0);
	assert_string_equal(c1, "cpu,cpuacct");
	assert_string_equal(p1, "/a");
	assert_int_equal(cgroup_proc_find(pc, "", &c2, &p2), 0);
	assert_string_equal(c2, "");
	assert_string_equal(p2, "/u");
	assert_int_equal(cgroup_proc_find(pc, NULL, &c3, &p3), 0);
	assert_string_equal(p3, "/a");
	/* a prefix of a controller's name is not the controller */
	assert_int_equal(cgroup_proc_find(pc, "cpuac", &c, &p), -ENOENT);
	assert_int_equal(cgroup_proc_find("0::/x\n", "pids", &c, &p), -ENOENT);
	assert_null(c);
	/* a cgroup name may hold ':' */
	free(c1);
	free(p1);
	assert_int_equal(cgroup_proc_find("0::/a:b\n", "", &c1, &p1), 0);
	assert_string_equal(p1, "/a:b");
}

/* This host, live: the lookups agree with the files they read. */
static void test_live(void **state)
{
	_cleanup_free_ char *mi = NULL, *pc = NULL, *want = NULL, *got = NULL, *mnt = NULL;
	_cleanup_error_ sp_error_t err = NULL;
	int want_ret;

	(void)state;
	assert_int_equal(read_file_bounded(AT_FDCWD, "/proc/self/mountinfo", 4 << 20, &mi, NULL, NULL), 0);
	assert_int_equal(cgroup_proc_read(getpid(), &pc, &err), 0);
	mnt = cgroup_mount_find(mi, "");
	if (mnt)
		assert_string_equal(cgroup2_mount(), mnt);
	else
		assert_null(cgroup2_mount());
	want_ret = cgroup_pick_path(mi, pc, &want);
	assert_int_equal(cgroup_of_pid(getpid(), &got, &err), want_ret);
	if (want_ret == 0)
		assert_string_equal(got, want);
	else
		assert_non_null(strstr(sp_error_msg(err), "pid"));
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
		cmocka_unit_test(test_hybrid),
		cmocka_unit_test(test_unified),
		cmocka_unit_test(test_root_and_unreachable),
		cmocka_unit_test(test_mountinfo_line),
		cmocka_unit_test(test_proc_cgroup_lines),
		cmocka_unit_test(test_live),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
