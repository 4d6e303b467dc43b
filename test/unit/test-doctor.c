/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * node/doctor: the checks against a fake KSM sysfs and config, and the
 * exec probe for real (this test binary is the re-executed program: run
 * with --exec-probe it prints doctor_exec_probe_line()).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "host/ksm.h"
#include "node/doctor.h"

static char tmp[] = "/tmp/sp-test-doctor.XXXXXX";
static char *const probe_argv[] = { "test-doctor", "--exec-probe", NULL };

static void put(const char *rel, const char *content)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static const struct doctor_check *find(const struct doctor_report *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->checks[i].name, name) == 0)
			return &r->checks[i];
	return NULL;
}

static void run(const char *config, struct doctor_report *r)
{
	char cfg[512];
	struct doctor_opts o = { .config_path = cfg, .state_dir = tmp, .probe_argv = probe_argv };
	sp_error_t err = NULL;

	snprintf(cfg, sizeof(cfg), "%s/%s", tmp, config);
	assert_int_equal(doctor_run(&o, r, &err), 0);
}

/* No KSM in the kernel: ksm fails, the checks that need it are not run. */
static void test_no_ksm(void **state)
{
	struct doctor_report r;
	size_t counts[3];
	char dir[512];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/noksm", tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	setenv("SAMEPAGE_KSM_SYSFS", dir, 1);
	run("absent.conf", &r);
	unsetenv("SAMEPAGE_KSM_SYSFS");
	assert_int_equal(find(&r, "ksm")->status, DOCTOR_FAIL);
	assert_non_null(strstr(find(&r, "ksm")->reason, "KSM is not built into this kernel"));
	assert_non_null(find(&r, "ksm")->action);
	assert_null(find(&r, "prctl_exec"));
	assert_null(find(&r, "smart_scan"));
	assert_int_equal(find(&r, "config")->status, DOCTOR_OK);
	assert_non_null(strstr(find(&r, "config")->reason, "absent"));
	assert_non_null(find(&r, "hook"));
	doctor_report_count(&r, counts);
	assert_int_equal(counts[0] + counts[1] + counts[2], r.n);
	assert_true(counts[DOCTOR_FAIL] >= 1);
	doctor_report_free(&r);
}

static void test_old_ksm_and_bad_config(void **state)
{
	static const char *const knobs[] = { "run", "pages_to_scan", "sleep_millisecs", "pages_shared" };
	struct doctor_report r;
	char dir[512], rel[64];
	size_t i;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/oldksm", tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		snprintf(rel, sizeof(rel), "oldksm/%s", knobs[i]);
		put(rel, "0\n");
	}
	put("bad.conf", "{\"domain_policy\": \"everyone\"}\n");
	setenv("SAMEPAGE_KSM_SYSFS", dir, 1);
	run("bad.conf", &r);
	unsetenv("SAMEPAGE_KSM_SYSFS");
	assert_int_equal(find(&r, "smart_scan")->status, DOCTOR_WARN);
	assert_int_equal(find(&r, "advisor")->status, DOCTOR_WARN);
	assert_int_equal(find(&r, "zero_pages")->status, DOCTOR_WARN);
	assert_int_equal(find(&r, "config")->status, DOCTOR_FAIL);
	assert_non_null(strstr(find(&r, "config")->reason, "domain_policy"));
	/* every non-ok check says what to do */
	for (i = 0; i < r.n; i++)
		if (r.checks[i].status != DOCTOR_OK && !r.checks[i].action)
			fail_msg("check %s: no action", r.checks[i].name);
	doctor_report_free(&r);
}

/* The probe for real: whole-process KSM set before exec survives it on
 * Linux >= 6.7 (this test binary is the exec'd program). */
static void test_exec_probe(void **state)
{
	const struct doctor_check *c;
	struct doctor_report r;

	(void)state;
	if (ksm_prctl_get_self() < 0 || prctl(PR_SET_MEMORY_MERGE, 0UL, 0UL, 0UL, 0UL) < 0)
		skip(); /* no whole-process KSM here, or not allowed to set it */
	run("absent.conf", &r);
	c = find(&r, "prctl_exec");
	assert_non_null(c);
	if (c->status != DOCTOR_OK)
		fail_msg("prctl_exec: %s", c->reason);
	assert_true(strncmp(c->reason, "probe: ", 7) == 0);
	assert_true(strncmp(find(&r, "bug_vma_merge")->reason, "probe: ", 7) == 0 ||
		    strncmp(find(&r, "bug_vma_merge")->reason, "cannot tell", 11) == 0);
	doctor_report_free(&r);
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

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_ksm),
		cmocka_unit_test(test_old_ksm_and_bad_config),
		cmocka_unit_test(test_exec_probe),
	};

	if (argc == 2 && strcmp(argv[1], "--exec-probe") == 0) {
		_cleanup_free_ char *line = NULL;

		if (doctor_exec_probe_line(&line) < 0)
			return 1;
		puts(line);
		return 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
