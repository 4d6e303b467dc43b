/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host-side tests of the native backend against a fake cgroup tree of plain
 * files.  The real controller is exercised in the guest (test/kernel/).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "cgroupfs/native.h"

static char root[] = "/tmp/sp-test-native.XXXXXX";

static void put(const char *rel, const char *content)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static char *get(const char *rel)
{
	char path[512];
	char *out = NULL;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(read_file_bounded(AT_FDCWD, path, 4096, &out, NULL, NULL), 0);
	return out;
}

static void mkd(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(root));
	ksm_native_set_root_for_testing(root);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	ksm_native_set_root_for_testing(NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_available(void **state)
{
	(void)state;
	put("cgroup.controllers", "cpu memory pids\n");
	ksm_native_set_root_for_testing(root);
	assert_false(ksm_native_available());

	put("cgroup.controllers", "cpu memory pids ksm\n");
	ksm_native_set_root_for_testing(root);
	assert_true(ksm_native_available());

	/* a prefix of the name is not the controller */
	put("cgroup.controllers", "ksmx cpu\n");
	ksm_native_set_root_for_testing(root);
	assert_false(ksm_native_available());
}

static void test_enable_walks_ancestors(void **state)
{
	_cleanup_free_ char *path = NULL, *rootsc = NULL, *asc = NULL, *bsc = NULL, *en = NULL;
	_cleanup_error_ sp_error_t err = NULL;

	(void)state;
	put("cgroup.subtree_control", "cpu ksm\n"); /* already enabled: left alone */
	mkd("a");
	put("a/cgroup.subtree_control", "memory\n");
	mkd("a/b");
	put("a/b/cgroup.subtree_control", "\n");
	mkd("a/b/c");
	put("a/b/c/cgroup.subtree_control", "\n");
	put("a/b/c/ksm.enable", "0\n");

	assert_true(asprintf(&path, "%s/a/b/c/", root) > 0);
	assert_int_equal(ksm_native_enable(path, true, &err), 0);

	rootsc = get("cgroup.subtree_control");
	asc = get("a/cgroup.subtree_control");
	bsc = get("a/b/cgroup.subtree_control");
	en = get("a/b/c/ksm.enable");
	assert_string_equal(rootsc, "cpu ksm\n");
	/* a plain file keeps the tail of the old content after "+ksm" */
	assert_memory_equal(asc, "+ksm", 4);
	assert_memory_equal(bsc, "+ksm", 4);
	assert_memory_equal(en, "1", 1);
	{
		_cleanup_free_ char *csc = get("a/b/c/cgroup.subtree_control");
		assert_string_equal(csc, "\n");
	}
}

static void test_enable_errors_name_file(void **state)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_error_ sp_error_t err = NULL;

	(void)state;
	put("cgroup.subtree_control", "ksm\n");
	mkd("x");
	put("x/cgroup.subtree_control", "ksm\n");
	mkd("x/y");
	/* no ksm.enable in x/y: the controller is missing on this kernel */
	assert_true(asprintf(&path, "%s/x/y", root) > 0);
	assert_int_equal(ksm_native_enable(path, false, &err), -ENOENT);
	assert_non_null(strstr(sp_error_msg(err), "x/y/ksm.enable"));
	sp_error_free(&err);

	/* the root itself and paths elsewhere are refused */
	assert_int_equal(ksm_native_enable(root, true, &err), -EINVAL);
	sp_error_free(&err);
	assert_int_equal(ksm_native_enable("/elsewhere/x", true, &err), -EINVAL);
	sp_error_free(&err);
	free(path);
	assert_true(asprintf(&path, "%s/x/../../etc", root) > 0);
	assert_int_equal(ksm_native_enable(path, true, &err), -EINVAL);
}

static void test_stat(void **state)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_error_ sp_error_t err = NULL;
	struct ksm_cg_stat st;

	(void)state;
	mkd("s");
	put("s/ksm.stat",
	    "ksm_rmap_items 10\nksm_zero_pages 2\nksm_merging_pages 7\n"
	    "ksm_process_profit -4096\nnr_processes 3\nfuture_key 9\nnr_merge_any 2\n");
	assert_true(asprintf(&path, "%s/s", root) > 0);
	assert_int_equal(ksm_native_stat(path, &st, &err), 0);
	assert_int_equal(st.rmap_items, 10);
	assert_int_equal(st.zero_pages, 2);
	assert_int_equal(st.merging_pages, 7);
	assert_true(st.process_profit == -4096);
	assert_int_equal(st.nr_processes, 3);
	assert_int_equal(st.nr_merge_any, 2);

	put("s/ksm.stat", "ksm_rmap_items 10\nksm_zero_pages 2\n");
	assert_true(ksm_native_stat(path, &st, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "s/ksm.stat"));
	assert_non_null(strstr(sp_error_msg(err), "ksm_merging_pages"));
	sp_error_free(&err);

	assert_true(ksm_native_parse_stat("ksm_rmap_items -1\n", "t", &st, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "ksm_rmap_items"));
}

/* v2 names the profit sum ksm_process_profit_sum; v1's name still parses. */
static void test_stat_series(void **state)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct ksm_cg_stat st;
	const char *rest = "ksm_rmap_items 1\nksm_zero_pages 0\nksm_merging_pages 1\n"
			   "nr_processes 1\nnr_merge_any 1\n";
	char text[256];

	(void)state;
	snprintf(text, sizeof(text), "%sksm_process_profit_sum -12\n", rest);
	assert_int_equal(ksm_native_parse_stat(text, "t", &st, &err), 0);
	assert_int_equal(st.series, KSM_NATIVE_SERIES_V2);
	assert_true(st.process_profit == -12);

	snprintf(text, sizeof(text), "%sksm_process_profit 34\n", rest);
	assert_int_equal(ksm_native_parse_stat(text, "t", &st, &err), 0);
	assert_int_equal(st.series, KSM_NATIVE_SERIES_V1);
	assert_true(st.process_profit == 34);

	assert_true(ksm_native_parse_stat(rest, "t", &st, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "ksm_process_profit_sum"));
}

/* The probe finds the first ksm.stat below the root, breadth first. */
static void test_probe_series(void **state)
{
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_free_ char *proot = NULL;
	enum ksm_native_series series = KSM_NATIVE_SERIES_V1;

	(void)state;
	mkd("p");
	mkd("p/a");
	mkd("p/a/b");
	assert_true(asprintf(&proot, "%s/p", root) > 0);
	ksm_native_set_root_for_testing(proot);
	assert_int_equal(ksm_native_probe_series(&series, &err), 0);
	assert_int_equal(series, KSM_NATIVE_SERIES_UNKNOWN);

	put("p/a/b/ksm.stat", "ksm_rmap_items 0\nksm_zero_pages 0\nksm_merging_pages 0\n"
			      "ksm_process_profit_sum 0\nnr_processes 0\nnr_merge_any 0\n");
	assert_int_equal(ksm_native_probe_series(&series, &err), 0);
	assert_int_equal(series, KSM_NATIVE_SERIES_V2);

	put("p/a/b/ksm.stat", "ksm_rmap_items 0\nksm_zero_pages 0\nksm_merging_pages 0\n"
			      "ksm_process_profit 0\nnr_processes 0\nnr_merge_any 0\n");
	assert_int_equal(ksm_native_probe_series(&series, &err), 0);
	assert_int_equal(series, KSM_NATIVE_SERIES_V1);

	put("p/a/b/ksm.stat", "garbage\n");
	assert_true(ksm_native_probe_series(&series, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "p/a/b/ksm.stat"));
	ksm_native_set_root_for_testing(root);
}

static void test_cgroup_of_self(void **state)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	_cleanup_error_ sp_error_t err = NULL;
	char *line;

	(void)state;
	assert_int_equal(read_file_bounded(AT_FDCWD, "/proc/self/cgroup", 65536, &buf, NULL, NULL), 0);
	line = strstr(buf, "0::");
	if (!line)
		skip();
	*strchrnul(line, '\n') = '\0';
	assert_int_equal(ksm_native_cgroup_of_pid(getpid(), &path, &err), 0);
	assert_memory_equal(path, root, strlen(root));
	if (strcmp(line + 3, "/") == 0)
		assert_string_equal(path, root);
	else
		assert_string_equal(path + strlen(root), line + 3);

	free(path);
	path = NULL;
	assert_true(ksm_native_cgroup_of_pid(-5, &path, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "/proc/-5/cgroup"));
}

static void test_real_host_root(void **state)
{
	(void)state;
	ksm_native_set_root_for_testing(NULL);
	/* Whatever the host is, the answer must agree with the file. */
	const char *r = ksm_native_cgroup2_root();
	if (r) {
		_cleanup_free_ char *ctl = NULL, *f = NULL;
		assert_true(asprintf(&f, "%s/cgroup.controllers", r) > 0);
		assert_int_equal(read_file_bounded(AT_FDCWD, f, 65536, &ctl, NULL, NULL), 0);
		bool has = strstr(ctl, "ksm") != NULL;
		assert_int_equal(ksm_native_available(), has);
	} else {
		assert_false(ksm_native_available());
	}
	ksm_native_set_root_for_testing(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_available),
		cmocka_unit_test(test_enable_walks_ancestors),
		cmocka_unit_test(test_enable_errors_name_file),
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_stat_series),
		cmocka_unit_test(test_probe_series),
		cmocka_unit_test(test_cgroup_of_self),
		cmocka_unit_test(test_real_host_root),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
