/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * node/report: sizes for people, a whole report over a fake cgroup and KSM
 * sysfs, and the Prometheus text, whatever the length of a label.
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
#include "base/json.h"
#include "node/state.h"
#include "node/report.h"

static char tmp[] = "/tmp/sp-test-report.XXXXXX";

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

/*
 * A Kubernetes pod's container cgroup id is 212 characters long: every
 * container series must be there in full, none dropped for its length
 * (metrics once built each line in 256 bytes and lost 7 of 8 series).
 */
static void test_prometheus_long_id(void **state)
{
	static const char *const series[] = { "enabled", "processes", "merge_any_processes", "merging_pages",
					      "zero_pages", "profit_bytes", "anon_bytes", "merged_ratio" };
	struct ksm_report_row rows[2] = { 0 };
	struct ksm_report_domain dom = { 0 };
	struct ksm_report r = { 0 };
	_cleanup_free_ char *text = NULL;
	sp_error_t err = NULL;
	char id[213], line[512];
	size_t len = 0, i;

	(void)state;
	for (i = 0; i < 212; i++)
		id[i] = "0123456789abcdef"[i % 16];
	id[212] = '\0';
	memcpy(id, "kubepods-burstable-pod", 22);
	strcpy(r.node.kernel, "6.18.0");
	r.node.backend = "stock";
	r.node.page_size = 4096;
	r.node.run = r.node.pages_shared = r.node.full_scans = 1;
	rows[0] = (struct ksm_report_row){ .id = id, .domain = "team-a", .in_state = true, .enabled = true,
					   .running = true };
	ksm_group_stat_init(&rows[0].stat);
	rows[0].stat.processes = 3;
	rows[0].stat.merge_any = 3;
	rows[0].stat.merging_pages = 100;
	rows[0].stat.profit = -5;
	rows[0].stat.anon_bytes = 800 * 4096;
	/* 6.12 does not say merge_any: only that series may be missing. */
	rows[1] = (struct ksm_report_row){ .id = "old", .domain = "team-a", .in_state = true, .enabled = true,
					   .running = true };
	ksm_group_stat_init(&rows[1].stat);
	rows[1].stat.merge_any_known = false;
	dom = (struct ksm_report_domain){ .domain = "team-a", .containers = 2, .stat = rows[0].stat };
	r.rows = rows;
	r.n_rows = 2;
	r.domains = &dom;
	r.n_domains = 1;

	assert_int_equal(ksm_report_prometheus(&r, &text, &len, &err), 0);
	assert_int_equal(strlen(text), len);
	for (i = 0; i < ARRAY_SIZE(series); i++) {
		snprintf(line, sizeof(line), "\nsamepage_container_%s{domain=\"team-a\",container=\"%s\"} ", series[i], id);
		assert_non_null(strstr(text, line));
		snprintf(line, sizeof(line), "\nsamepage_container_%s{domain=\"team-a\",container=\"old\"} ", series[i]);
		if (strcmp(series[i], "merge_any_processes") == 0)
			assert_null(strstr(text, line));
		else
			assert_non_null(strstr(text, line));
	}
	snprintf(line, sizeof(line), "\nsamepage_container_profit_bytes{domain=\"team-a\",container=\"%s\"} -5\n", id);
	assert_non_null(strstr(text, line));
	assert_non_null(strstr(text, "\nsamepage_domain_merge_any_processes{domain=\"team-a\"} 3\n"));
	assert_non_null(strstr(text, "\nsamepage_ksmd_run 1\n"));
}

/* Self-opt-in in both formats: the figures and each process, named; both
 * series left out (not 0) when /proc could not be scanned. */
static void test_unattributed_formats(void **state)
{
	struct sp_unattributed_proc procs[1] = {
		{ .p = { .pid = 77, .comm = "sleep", .merge_any = 1, .mergeable = -1, .merging_pages = 5 },
		  .cgroup = "/sys/fs/cgroup/x", .container = NULL },
	};
	struct ksm_report r = { 0 };
	_cleanup_free_ char *text = NULL, *text2 = NULL;
	_cleanup_(json_object_putp) json_object *o = NULL;
	json_object *u, *p;
	sp_error_t err = NULL;
	size_t len = 0;

	(void)state;
	strcpy(r.node.kernel, "6.18.0");
	r.node.backend = "stock";
	r.node.page_size = 4096;
	r.unattributed = (struct sp_unattributed){ .node_pages = 50, .attributed_pages = 5, .pages = 45,
						   .procs = procs, .n = 1 };
	assert_int_equal(ksm_report_prometheus(&r, &text, &len, &err), 0);
	assert_non_null(strstr(text, "\n# TYPE samepage_unattributed_pages gauge\nsamepage_unattributed_pages 45\n"));
	assert_non_null(strstr(text, "\nsamepage_unattributed_processes 1\n"));

	o = ksm_report_json(&r);
	assert_true(json_object_object_get_ex(o, "unattributed", &u));
	assert_int_equal(json_object_get_int(json_object_object_get(u, "pages")), 45);
	assert_int_equal(json_object_get_int(json_object_object_get(u, "node_pages")), 50);
	p = json_object_array_get_idx(json_object_object_get(u, "processes"), 0);
	assert_int_equal(json_object_get_int(json_object_object_get(p, "pid")), 77);
	assert_string_equal(json_object_get_string(json_object_object_get(p, "evidence")), "merge_any");
	assert_true(json_object_get_boolean(json_object_object_get(p, "merge_any")));
	assert_null(json_object_object_get(p, "mergeable"));
	assert_null(json_object_object_get(p, "container"));
	assert_string_equal(json_object_get_string(json_object_object_get(p, "cgroup")), "/sys/fs/cgroup/x");

	r.unattributed_error = "open `/proc`: Permission denied";
	assert_int_equal(ksm_report_prometheus(&r, &text2, &len, &err), 0);
	assert_null(strstr(text2, "samepage_unattributed_"));
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
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_prometheus_long_id),
		cmocka_unit_test(test_unattributed_formats),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
