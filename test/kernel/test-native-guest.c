/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cgroupfs/native.c against the real `ksm` controller.  Runs inside the test
 * guest (kernel/guest/check.sh), as root, on a kernel with samepage's patch
 * series; exits 77 when the controller is missing so the caller can tell
 * "not applicable" from "failed".
 *
 * Every test works below /sys/fs/cgroup/sp-native-test, which the group
 * setup creates and the teardowns empty (killing the test's own children)
 * and remove, also after a failure.  ksmd's knobs are saved and restored.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "cgroupfs/native.h"

#define BASE "/sys/fs/cgroup/sp-native-test"
#define KSM "/sys/kernel/mm/ksm"
#define FILL_PAGES 256

static pid_t children[16];
static int nchildren;
static char *made[16]; /* cgroups created, removed in reverse */
static int nmade;

static const char *const knobs[] = { "run", "pages_to_scan", "sleep_millisecs" };
static char *saved_knobs[ARRAY_SIZE(knobs)];
static int lock_fd = -1;

static void make_cgroup(const char *path)
{
	assert_true(nmade < (int)ARRAY_SIZE(made));
	if (mkdir(path, 0755) < 0)
		fail_msg("mkdir %s: %s", path, strerror(errno));
	made[nmade++] = strdup(path);
}

static void write_or_fail(const char *path, const char *value)
{
	_cleanup_error_ sp_error_t err = NULL;

	if (write_file_str(path, value, &err) < 0)
		fail_msg("%s", sp_error_msg(err));
}

static char *read_or_fail(const char *path)
{
	_cleanup_error_ sp_error_t err = NULL;
	char *v = NULL;

	if (read_file_line(path, &v, &err) < 0)
		fail_msg("%s", sp_error_msg(err));
	return v;
}

/* Pages that differ from each other but are the same in every child, so
 * merging happens only between the children. */
static void fill_identical(void)
{
	unsigned char *p = mmap(NULL, FILL_PAGES * 4096L, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(3);
	for (long i = 0; i < FILL_PAGES; i++)
		for (long j = 0; j < 4096; j += 8) {
			uint64_t v = (uint64_t)i * 0x9e3779b97f4a7c15ULL + (uint64_t)j + 1;
			memcpy(p + i * 4096 + j, &v, 8);
		}
}

/* A child that joins cgroup (when given), fills its memory and waits. */
static pid_t spawn_in(const char *cgroup)
{
	int p[2];
	char c;
	pid_t pid;

	assert_true(nchildren < (int)ARRAY_SIZE(children));
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (cgroup) {
			char procs[512];

			snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgroup);
			if (write_file_str(procs, "0", NULL) < 0)
				_exit(2);
		}
		fill_identical();
		if (write(p[1], "r", 1) != 1)
			_exit(4);
		for (;;)
			pause();
	}
	close(p[1]);
	children[nchildren++] = pid;
	if (read(p[0], &c, 1) != 1)
		fail_msg("child %d died before it was ready", (int)pid);
	close(p[0]);
	return pid;
}

static void move_to(pid_t pid, const char *cgroup)
{
	char procs[512], num[32];

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgroup);
	snprintf(num, sizeof(num), "%d", (int)pid);
	write_or_fail(procs, num);
}

/* Number of VMAs of pid whose VmFlags carry `mg` (VM_MERGEABLE): on 6.12
 * the visible sign of whole-process KSM. */
static int mergeable_vmas(pid_t pid)
{
	_cleanup_free_ char *buf = NULL;
	char path[64], *line, *save = NULL;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	assert_int_equal(read_file_bounded(AT_FDCWD, path, 16 << 20, &buf, NULL, NULL), 0);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "VmFlags:", 8) == 0 && strstr(line, " mg"))
			n++;
	return n;
}

static bool list_has(const char *path, const char *word)
{
	_cleanup_free_ char *v = read_or_fail(path);
	char *tok, *save = NULL;

	for (tok = strtok_r(v, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		if (strcmp(tok, word) == 0)
			return true;
	return false;
}

static void kill_children(void)
{
	for (int i = 0; i < nchildren; i++) {
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	nchildren = 0;
}

static int teardown(void **state)
{
	(void)state;
	kill_children();
	while (nmade > 0) {
		char *p = made[--nmade];

		/* The last reference of a killed task can lag behind waitpid. */
		for (int i = 0; i < 50 && rmdir(p) < 0 && errno == EBUSY; i++)
			usleep(20000);
		free(p);
	}
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	if (!ksm_native_available()) {
		fprintf(stderr, "the kernel has no ksm cgroup controller\n");
		exit(77);
	}
	lock_fd = open("/run/lock/samepage-ksm.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++) {
		char path[128];

		snprintf(path, sizeof(path), KSM "/%s", knobs[i]);
		if (read_file_line(path, &saved_knobs[i], NULL) < 0)
			return -1;
	}
	rmdir(BASE); /* a leftover from a killed run, if empty */
	make_cgroup(BASE);
	/* the base itself stays: each test's teardown removes only its own */
	free(made[--nmade]);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	teardown(state);
	rmdir(BASE);
	write_file_str(KSM "/run", "0", NULL);
	for (size_t i = ARRAY_SIZE(knobs); i-- > 0;) {
		char path[128];

		if (!saved_knobs[i])
			continue;
		snprintf(path, sizeof(path), KSM "/%s", knobs[i]);
		write_file_str(path, saved_knobs[i], NULL);
		free(saved_knobs[i]);
	}
	if (lock_fd >= 0)
		close(lock_fd);
	return 0;
}

static void test_detect(void **state)
{
	(void)state;
	assert_string_equal(ksm_native_cgroup2_root(), "/sys/fs/cgroup");
	assert_true(ksm_native_available());
	assert_true(list_has("/sys/fs/cgroup/cgroup.controllers", "ksm"));
}

/* Enabling a cgroup two levels below a parent that has not passed the
 * controller down: the library enables it on the way. */
static void test_enable_through_ancestors(void **state)
{
	_cleanup_free_ char *cg = NULL;
	_cleanup_error_ sp_error_t err = NULL;
	bool on = false;
	pid_t pid;

	(void)state;
	make_cgroup(BASE "/a");
	make_cgroup(BASE "/a/b");
	assert_false(list_has(BASE "/a/cgroup.subtree_control", "ksm"));
	pid = spawn_in(BASE "/a/b");
	assert_int_equal(mergeable_vmas(pid), 0);

	assert_int_equal(ksm_native_cgroup_of_pid(pid, &cg, &err), 0);
	assert_string_equal(cg, BASE "/a/b");

	if (ksm_native_enable(cg, true, &err) < 0)
		fail_msg("%s", sp_error_msg(err));
	assert_true(list_has("/sys/fs/cgroup/cgroup.subtree_control", "ksm"));
	assert_true(list_has(BASE "/cgroup.subtree_control", "ksm"));
	assert_true(list_has(BASE "/a/cgroup.subtree_control", "ksm"));
	assert_int_equal(ksm_native_enabled(cg, &on, &err), 0);
	assert_true(on);
	assert_true(mergeable_vmas(pid) > 0);

	/* Idempotent. */
	assert_int_equal(ksm_native_enable(cg, true, &err), 0);

	assert_int_equal(ksm_native_enable(cg, false, &err), 0);
	assert_int_equal(ksm_native_enabled(cg, &on, &err), 0);
	assert_false(on);
	assert_int_equal(mergeable_vmas(pid), 0);
}

/* A process that moves in later gets KSM on attach (runc exec's path). */
static void test_attach(void **state)
{
	_cleanup_error_ sp_error_t err = NULL;
	pid_t pid;

	(void)state;
	make_cgroup(BASE "/on");
	make_cgroup(BASE "/off");
	if (ksm_native_enable(BASE "/on", true, &err) < 0)
		fail_msg("%s", sp_error_msg(err));
	pid = spawn_in(BASE "/off");
	assert_int_equal(mergeable_vmas(pid), 0);
	move_to(pid, BASE "/on");
	assert_true(mergeable_vmas(pid) > 0);
	/* a child forked inside inherits it */
	assert_true(mergeable_vmas(spawn_in(BASE "/on")) > 0);
}

static void read_stat(const char *cg, struct ksm_cg_stat *st)
{
	_cleanup_error_ sp_error_t err = NULL;

	if (ksm_native_stat(cg, st, &err) < 0)
		fail_msg("%s", sp_error_msg(err));
}

static void sum_proc(const pid_t *pids, int n, struct ksm_cg_stat *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *buf = NULL;
		char path[64], *line, *save = NULL;

		snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pids[i]);
		assert_int_equal(read_file_bounded(AT_FDCWD, path, 4096, &buf, NULL, NULL), 0);
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			long long v;

			if (sscanf(line, "ksm_rmap_items %lld", &v) == 1)
				sum->rmap_items += v;
			else if (sscanf(line, "ksm_zero_pages %lld", &v) == 1)
				sum->zero_pages += v;
			else if (sscanf(line, "ksm_merging_pages %lld", &v) == 1)
				sum->merging_pages += v;
			else if (sscanf(line, "ksm_process_profit %lld", &v) == 1)
				sum->process_profit += v;
		}
	}
}

/* Identical children merge, and ksm.stat is the sum of their ksm_stat. */
static void test_stat_sums_proc(void **state)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct ksm_cg_stat st, sum;
	pid_t pids[3];
	struct timespec t0, t;

	(void)state;
	make_cgroup(BASE "/merge");
	if (ksm_native_enable(BASE "/merge", true, &err) < 0)
		fail_msg("%s", sp_error_msg(err));
	for (int i = 0; i < 3; i++)
		pids[i] = spawn_in(BASE "/merge");

	write_or_fail(KSM "/pages_to_scan", "5000");
	write_or_fail(KSM "/sleep_millisecs", "10");
	write_or_fail(KSM "/run", "1");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		read_stat(BASE "/merge", &st);
		/* all three copies of every page share one KSM page */
		if (st.merging_pages >= 3 * FILL_PAGES)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 60)
			fail_msg("after 60 s only %llu of %d pages merged",
				 (unsigned long long)st.merging_pages, 3 * FILL_PAGES);
		usleep(100000);
	}
	/* Freeze the numbers (run=0 stops ksmd, merged pages stay). */
	write_or_fail(KSM "/run", "0");
	usleep(50000);

	read_stat(BASE "/merge", &st);
	sum_proc(pids, 3, &sum);
	print_message("ksm.stat: rmap_items %llu zero_pages %llu merging_pages %llu profit %lld"
		      " nr_processes %llu nr_merge_any %llu\n",
		      (unsigned long long)st.rmap_items, (unsigned long long)st.zero_pages,
		      (unsigned long long)st.merging_pages, (long long)st.process_profit,
		      (unsigned long long)st.nr_processes, (unsigned long long)st.nr_merge_any);
	assert_int_equal(st.nr_processes, 3);
	assert_int_equal(st.nr_merge_any, 3);
	assert_int_equal(st.rmap_items, sum.rmap_items);
	assert_int_equal(st.zero_pages, sum.zero_pages);
	assert_int_equal(st.merging_pages, sum.merging_pages);
	assert_true(st.process_profit == sum.process_profit);
	assert_true(st.merging_pages >= 3 * FILL_PAGES);
}

/* The kernel under test carries the v2 series: ksm.stat names the profit
 * ksm_process_profit_sum, and the feature probe says so. */
static void test_series_v2(void **state)
{
	_cleanup_error_ sp_error_t err = NULL;
	enum ksm_native_series series;
	struct ksm_cg_stat st;

	(void)state;
	make_cgroup(BASE "/series");
	read_stat(BASE "/series", &st);
	assert_int_equal(st.series, KSM_NATIVE_SERIES_V2);
	if (ksm_native_probe_series(&series, &err) < 0)
		fail_msg("%s", sp_error_msg(err));
	assert_int_equal(series, KSM_NATIVE_SERIES_V2);
}

static void test_errors_name_the_file(void **state)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct ksm_cg_stat st;

	(void)state;
	assert_true(ksm_native_enable(BASE "/missing", true, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), BASE "/missing"));
	sp_error_free(&err);
	assert_true(ksm_native_stat(BASE "/missing", &st, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), BASE "/missing/ksm.stat"));
	sp_error_free(&err);
	/* the root cgroup has no ksm.enable */
	assert_int_equal(ksm_native_enable("/sys/fs/cgroup", true, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test_teardown(test_enable_through_ancestors, teardown),
		cmocka_unit_test_teardown(test_attach, teardown),
		cmocka_unit_test_teardown(test_stat_sums_proc, teardown),
		cmocka_unit_test_teardown(test_series_v2, teardown),
		cmocka_unit_test_teardown(test_errors_name_the_file, teardown),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "needs root\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
