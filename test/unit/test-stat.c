/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the KSM figures behind `samepage status`: the /proc parsers, the
 * once-per-mm summing (with a fake comparator, and for real with a CLONE_VM
 * child and kcmp), the cgroup walker and cgroup lookup on fake trees and
 * mountinfo texts, and a whole report over a fake cgroup and KSM sysfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "node/state.h"
#include "cgroupfs/cgroup.h"
#include "node/stat.h"

static char tmp[] = "/tmp/sp-test-stat.XXXXXX";

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

static void test_format_size(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(ksm_format_size(0, b, sizeof(b)), "0B");
	assert_string_equal(ksm_format_size(1023, b, sizeof(b)), "1023B");
	assert_string_equal(ksm_format_size(1024, b, sizeof(b)), "1.0KiB");
	assert_string_equal(ksm_format_size(1536, b, sizeof(b)), "1.5KiB");
	assert_string_equal(ksm_format_size(12 * 1048576LL + 50000, b, sizeof(b)), "12.0MiB");
	assert_string_equal(ksm_format_size(1048575, b, sizeof(b)), "1.0MiB"); /* not 1024.0KiB */
	assert_string_equal(ksm_format_size(3LL << 30, b, sizeof(b)), "3.0GiB");
	assert_string_equal(ksm_format_size(-4096, b, sizeof(b)), "-4.0KiB");
	assert_string_equal(ksm_format_size(-100, b, sizeof(b)), "-100B");
	assert_string_equal(ksm_format_size(INT64_MIN, b, sizeof(b)), "-8.0EiB");
	assert_string_equal(ksm_format_size(5LL << 50, b, sizeof(b)), "5.0PiB");
}

static void test_parse_ksm_stat(void **state)
{
	struct ksm_proc_sample s;

	(void)state;
	/* 6.18 prints "key: value" for the flags. */
	assert_int_equal(ksm_stat_parse_proc("ksm_rmap_items 10\nksm_zero_pages 2\nksm_merging_pages 7\n"
					     "ksm_process_profit -1234\nksm_merge_any: yes\nksm_mergeable: yes\n",
					     &s),
			 0);
	assert_int_equal(s.rmap_items, 10);
	assert_int_equal(s.zero_pages, 2);
	assert_int_equal(s.merging_pages, 7);
	assert_int_equal(s.profit, -1234);
	assert_int_equal(s.merge_any, 1);
	assert_int_equal(ksm_stat_parse_proc("ksm_merge_any: no\n", &s), 0);
	assert_int_equal(s.merge_any, 0);
	/* 6.12 has no flag lines: unknown, not "no". */
	assert_int_equal(ksm_stat_parse_proc("ksm_rmap_items 0\nksm_zero_pages 0\nksm_merging_pages 0\n"
					     "ksm_process_profit 0\n",
					     &s),
			 0);
	assert_int_equal(s.merge_any, -1);
	/* No mm (zombie, kernel thread): the kernel prints nothing. */
	assert_int_equal(ksm_stat_parse_proc("", &s), -ENODATA);
}

static void test_parse_statm(void **state)
{
	struct ksm_proc_sample s;

	(void)state;
	assert_int_equal(ksm_stat_parse_statm("765 429 402 5 0 123 0\n", &s), 0);
	assert_int_equal(s.vm_pages, 765);
	assert_int_equal(s.resident_pages, 429);
	assert_int_equal(s.anon_pages, 27);
	assert_int_equal(ksm_stat_parse_statm("garbage", &s), -EINVAL);
}

static void test_share_and_add(void **state)
{
	struct ksm_group_stat a, b;

	(void)state;
	ksm_group_stat_init(&a);
	assert_true(ksm_group_merged_share(&a, 4096) == 0);
	a.processes = 2;
	a.merge_any = 2;
	a.merging_pages = 50;
	a.zero_pages = 50;
	a.anon_bytes = 150 * 4096; /* zero pages are not resident: 150 + 50 */
	assert_true(ksm_group_merged_share(&a, 4096) > 0.4999 && ksm_group_merged_share(&a, 4096) < 0.5001);
	ksm_group_stat_init(&b);
	b.processes = 1;
	b.merge_any_known = false;
	b.profit = -100;
	ksm_group_stat_add(&a, &b);
	assert_int_equal(a.processes, 3);
	assert_false(a.merge_any_known);
	assert_int_equal(a.profit, -100);
}

/* pids 10 and 11 share an mm, 20 and 21 do not (same figures, though). */
static bool fake_same_mm(pid_t a, pid_t b)
{
	return (a == 10 && b == 11) || (a == 11 && b == 10);
}

static void test_sum_once_per_mm(void **state)
{
	struct ksm_proc_sample s[5] = {
		{ .pid = 21, .merging_pages = 5, .profit = 100, .merge_any = 1, .anon_pages = 10 },
		{ .pid = 10, .merging_pages = 3, .profit = 60, .merge_any = 1, .anon_pages = 8 },
		{ .pid = 11, .merging_pages = 3, .profit = 60, .merge_any = 1, .anon_pages = 8 },
		{ .pid = 20, .merging_pages = 5, .profit = 100, .merge_any = 1, .anon_pages = 10 },
		{ .pid = 30, .merging_pages = 0, .profit = 0, .merge_any = 0, .anon_pages = 4 },
	};
	struct ksm_group_stat g;

	(void)state;
	ksm_stat_sum_samples(s, 5, fake_same_mm, &g);
	assert_int_equal(g.processes, 4);
	assert_int_equal(g.merge_any, 3);
	assert_int_equal(g.merging_pages, 13);
	assert_int_equal(g.profit, 260);
	assert_int_equal(g.anon_bytes, 32 * (uint64_t)sysconf(_SC_PAGESIZE));
}

static int vm_child(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

/* For real: a CLONE_VM child shares our mm without being a thread; a
 * forked child has its own; a reaped pid is skipped. */
static void test_real_processes(void **state)
{
	size_t stack_size = 64 * 1024;
	char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pid_t pids[4], vm, forked, gone;
	struct ksm_group_stat g;
	sp_error_t err = NULL;

	(void)state;
	assert_true(stack != MAP_FAILED);
	vm = clone(vm_child, stack + stack_size, CLONE_VM | SIGCHLD, NULL);
	assert_true(vm > 0);
	forked = fork();
	if (forked == 0) {
		for (;;)
			pause();
	}
	gone = fork();
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);

	pids[0] = getpid();
	pids[1] = vm;
	pids[2] = forked;
	pids[3] = gone;
	assert_int_equal(ksm_stat_pids(pids, 4, &g, &err), 0);
	/* us + the forked child; the CLONE_VM child is us again, gone is gone */
	assert_int_equal(g.processes, 2);
	assert_true(g.anon_bytes > 0);

	kill(vm, SIGKILL);
	kill(forked, SIGKILL);
	waitpid(vm, NULL, 0);
	waitpid(forked, NULL, 0);
	munmap(stack, stack_size);
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

/* A whole report over a fake KSM sysfs and a fake cgroup holding us and a
 * child, with a container of the state pointing at it. */
static void test_report(void **state)
{
	struct sp_state st = { 0 };
	struct ksm_report r;
	sp_error_t err = NULL;
	char cg[256], ksm[256], procs[64], sysfs[256];
	pid_t child;

	(void)state;
	snprintf(ksm, sizeof(ksm), "%s/ksm", tmp);
	mk("ksm");
	put("ksm/run", "1\n");
	put("ksm/pages_to_scan", "100\n");
	put("ksm/sleep_millisecs", "20\n");
	put("ksm/advisor_mode", "[none] scan-time\n");
	put("ksm/pages_shared", "5\n");
	put("ksm/pages_sharing", "9\n");
	put("ksm/general_profit", "-4096\n");
	put("ksm/full_scans", "3\n");
	snprintf(sysfs, sizeof(sysfs), "%s", ksm);
	setenv("SAMEPAGE_KSM_SYSFS", sysfs, 1);

	child = fork();
	if (child == 0) {
		for (;;)
			pause();
	}
	mk("report");
	snprintf(procs, sizeof(procs), "%d\n%d\n", (int)getpid(), (int)child);
	put("report/cgroup.procs", procs);
	snprintf(cg, sizeof(cg), "%s/report", tmp);

	struct sp_container a = { .id = "a1", .domain = "team-a", .pid = getpid(), .enabled = true,
				  .backend = "stock", .cgroup = cg };
	struct sp_container refused = { .id = "b1", .domain = "team-b", .pid = getpid(), .enabled = false,
					.reason = "domain `team-b` refused", .cgroup = cg };
	struct sp_container dead = { .id = "c1", .domain = "team-a", .pid = 0x3ffffff0, .start_time = 1,
				     .enabled = true };
	assert_int_equal(sp_state_add(&st, &refused, &err), 0);
	assert_int_equal(sp_state_add(&st, &a, &err), 0);
	assert_int_equal(sp_state_add(&st, &dead, &err), 0);
	st.ksmd_managed = true;

	assert_int_equal(ksm_report_collect(&st, NULL, NULL, 0, &r, &err), 0);
	assert_int_equal(r.node.run, 1);
	assert_int_equal(r.node.pages_sharing, 9);
	assert_int_equal(r.node.general_profit, -4096);
	assert_int_equal(r.node.smart_scan, -1); /* absent file */
	assert_string_equal(r.node.advisor_mode, "none");
	assert_int_equal(r.node.manager, KSMD_SAMEPAGE);
	assert_int_equal(r.n_rows, 3);
	/* sorted by domain, then id */
	assert_string_equal(r.rows[0].id, "a1");
	assert_string_equal(r.rows[1].id, "c1");
	assert_string_equal(r.rows[2].id, "b1");
	assert_int_equal(r.rows[0].stat.processes, 2);
	assert_false(r.rows[1].running);
	assert_int_equal(r.rows[1].stat.processes, 0);
	assert_false(r.rows[2].enabled);
	assert_string_equal(r.rows[2].reason, "domain `team-b` refused");
	assert_int_equal(r.n_domains, 2);
	assert_string_equal(r.domains[0].domain, "team-a");
	assert_int_equal(r.domains[0].containers, 2);
	assert_int_equal(r.domains[0].stat.processes, 2);
	assert_int_equal(r.total.processes, 4);
	ksm_report_free(&r);

	/* --domain and explicit targets */
	assert_int_equal(ksm_report_collect(&st, "team-b", NULL, 0, &r, &err), 0);
	assert_int_equal(r.n_rows, 1);
	ksm_report_free(&r);
	char *targets[] = { cg };
	/* so the path is not found in the state */
	for (size_t i = 0; i < st.n_containers; i++) {
		free(st.containers[i].cgroup);
		st.containers[i].cgroup = NULL;
	}
	assert_int_equal(ksm_report_collect(&st, NULL, targets, 1, &r, &err), 0);
	assert_int_equal(r.n_rows, 1);
	assert_false(r.rows[0].in_state);
	assert_null(r.rows[0].domain);
	assert_int_equal(r.rows[0].stat.processes, 2);
	assert_int_equal(r.n_domains, 0);
	ksm_report_free(&r);
	char *bad[] = { "no-such-container" };
	assert_int_equal(ksm_report_collect(&st, NULL, bad, 1, &r, &err), -ENOENT);
	assert_non_null(strstr(sp_error_msg(err), "no-such-container"));
	sp_error_free(&err);
	ksm_report_free(&r);

	sp_state_free(&st);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	unsetenv("SAMEPAGE_KSM_SYSFS");
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
		cmocka_unit_test(test_format_size),
		cmocka_unit_test(test_parse_ksm_stat),
		cmocka_unit_test(test_parse_statm),
		cmocka_unit_test(test_share_and_add),
		cmocka_unit_test(test_sum_once_per_mm),
		cmocka_unit_test(test_real_processes),
		cmocka_unit_test(test_proc_tree),
		cmocka_unit_test(test_procs_parse),
		cmocka_unit_test(test_procs_walk),
		cmocka_unit_test(test_pick_path),
		cmocka_unit_test(test_report),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
