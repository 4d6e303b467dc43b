/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Node state (and, until they get their own files, config and ksmd management). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "node/config.h"
#include "base/fileio.h"
#include "node/state.h"
#include "host/ksm.h"
#include "node/ksmd.h"

static char tmpdir[] = "/tmp/samepage-test-state.XXXXXX";

static void add(struct sp_state *st, const char *id, const char *domain, pid_t pid, bool enabled)
{
	struct sp_container c = { .id = (char *)id, .domain = (char *)domain, .pid = pid, .start_time = 7,
				  .enabled = enabled, .backend = "stock" };

	assert_int_equal(sp_state_add(st, &c, NULL), 0);
}

static void test_state_roundtrip(void **unused)
{
	struct sp_state st = { 0 }, back;
	char dir[256];
	sp_error_t err = NULL;
	int lock;

	(void)unused;
	snprintf(dir, sizeof(dir), "%s/rt/nested", tmpdir);
	add(&st, "c1", "team-a", 100, true);
	add(&st, "c2", "team-b", 200, false);
	st.containers[1].reason = strdup("domain `team-b` refused");
	st.ksmd_managed = true;
	st.n_knobs = 1;
	strcpy(st.knobs[0].name, "run");
	strcpy(st.knobs[0].saved, "0");
	strcpy(st.knobs[0].set, "1");

	lock = sp_state_lock(dir, &err);
	assert_true(lock >= 0);
	assert_int_equal(sp_state_save(dir, &st, &err), 0);
	close(lock);

	assert_int_equal(sp_state_load(dir, &back, &err), 0);
	assert_int_equal(back.n_containers, 2);
	assert_string_equal(back.containers[0].id, "c1");
	assert_string_equal(back.containers[0].domain, "team-a");
	assert_int_equal(back.containers[0].pid, 100);
	assert_int_equal(back.containers[0].start_time, 7);
	assert_true(back.containers[0].enabled);
	assert_false(back.containers[1].enabled);
	assert_string_equal(back.containers[1].reason, "domain `team-b` refused");
	assert_true(back.ksmd_managed);
	assert_int_equal(back.n_knobs, 1);
	assert_string_equal(back.knobs[0].saved, "0");
	assert_int_equal(sp_state_enabled_count(&back), 1);

	/* add replaces by id, remove removes */
	add(&back, "c1", "team-a", 101, true);
	assert_int_equal(back.n_containers, 2);
	assert_int_equal(sp_state_find(&back, "c1")->pid, 101);
	assert_true(sp_state_remove(&back, "c1"));
	assert_false(sp_state_remove(&back, "c1"));
	assert_null(sp_state_find(&back, "c1"));
	sp_state_free(&back);
	sp_state_free(&st);
}

static void test_state_missing_and_corrupt(void **unused)
{
	struct sp_state st;
	char dir[256], path[300];
	sp_error_t err = NULL;

	(void)unused;
	snprintf(dir, sizeof(dir), "%s/none", tmpdir);
	assert_int_equal(sp_state_load(dir, &st, &err), 0);
	assert_int_equal(st.n_containers, 0);

	snprintf(dir, sizeof(dir), "%s/corrupt", tmpdir);
	assert_int_equal(mkdir_p(dir, 0755, &err), 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(write_file_atomic(path, "{oops", 5, 0644, &err), 0);
	assert_true(sp_state_load(dir, &st, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "state.json"));
	sp_error_free(&err);
}

static bool alive_if_even(pid_t pid, unsigned long long start_time)
{
	(void)start_time;
	return pid % 2 == 0;
}

static void test_state_prune(void **unused)
{
	struct sp_state st = { 0 };

	(void)unused;
	add(&st, "a", "d", 2, true);
	add(&st, "b", "d", 3, true);
	add(&st, "c", "d", 4, false);
	add(&st, "e", "d", 5, false);
	assert_int_equal(sp_state_prune(&st, alive_if_even), 2);
	assert_int_equal(st.n_containers, 2);
	assert_non_null(sp_state_find(&st, "a"));
	assert_non_null(sp_state_find(&st, "c"));
	sp_state_free(&st);

	/* the real check: our own pid with the wrong start time is dead */
	add(&st, "self", "d", getpid(), true);
	assert_int_equal(sp_state_prune(&st, NULL), 1);
	sp_state_free(&st);
}

/* Many writers at once: the lock keeps every update. */
static void test_state_concurrent(void **unused)
{
	char dir[256];
	struct sp_state st;
	int i, n = 20;

	(void)unused;
	snprintf(dir, sizeof(dir), "%s/concurrent", tmpdir);
	for (i = 0; i < n; i++) {
		if (fork() == 0) {
			struct sp_state s;
			char id[16];
			int lock = sp_state_lock(dir, NULL);

			if (lock < 0 || sp_state_load(dir, &s, NULL) < 0)
				_exit(1);
			snprintf(id, sizeof(id), "c%d", i);
			add(&s, id, "d", getppid(), true);
			_exit(sp_state_save(dir, &s, NULL) < 0);
		}
	}
	for (i = 0; i < n; i++) {
		int status;

		wait(&status);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(sp_state_load(dir, &st, NULL), 0);
	assert_int_equal(st.n_containers, n);
	sp_state_free(&st);
}

static void expect_config_error(const char *json, const char *needle)
{
	struct sp_config cfg;
	sp_error_t err = NULL;

	sp_config_defaults(&cfg);
	assert_true(sp_config_parse(json, "test.conf", &cfg, &err) < 0);
	if (!strstr(sp_error_msg(err), needle))
		fail_msg("message `%s` does not contain `%s`", sp_error_msg(err), needle);
	sp_error_free(&err);
}

static void test_config(void **unused)
{
	struct sp_config cfg;
	sp_error_t err = NULL;
	char path[300];

	(void)unused;
	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	assert_int_equal(sp_config_load(path, &cfg, &err), 0);
	assert_int_equal(cfg.domain_policy, SP_POLICY_EXCLUSIVE);
	assert_true(cfg.manage_ksmd);
	assert_string_equal(cfg.advisor_mode, "scan-time");

	assert_int_equal(sp_config_parse("{\"domain_policy\":\"shared\",\"manage_ksmd\":false,"
					 "\"advisor_mode\":\"none\",\"governor\":{\"cpu_budget\":0.1,\"window_secs\":5}}",
					 "t", &cfg, &err),
			 0);
	assert_int_equal(cfg.domain_policy, SP_POLICY_SHARED);
	assert_false(cfg.manage_ksmd);
	assert_string_equal(cfg.advisor_mode, "none");
	assert_true(cfg.governor.cpu_budget > 0.09 && cfg.governor.cpu_budget < 0.11);
	assert_int_equal(cfg.governor.window_secs, 5);

	expect_config_error("{", "test.conf: not valid JSON");
	expect_config_error("[]", "not a JSON object");
	expect_config_error("{\"manage_ksmd\":false}\n{\"domain_policy\":\"shared\"}", "trailing data");
	expect_config_error("{\"domain_policy\":\"open\"}", "`domain_policy`: invalid value `open`");
	expect_config_error("{\"domain_policy\":1}", "`domain_policy` must be a string");
	expect_config_error("{\"manage_ksmd\":\"yes\"}", "`manage_ksmd` must be true or false");
	expect_config_error("{\"advisor_mode\":\"fast\"}", "`advisor_mode`: invalid value `fast`");
	expect_config_error("{\"domian_policy\":\"shared\"}", "unknown key `domian_policy`");
	expect_config_error("{\"governor\":{\"cpu_budget\":2}}", "`governor.cpu_budget` must be in (0, 1]");
	expect_config_error("{\"governor\":{\"speed\":2}}", "unknown key `governor.speed`");
	expect_config_error("{\"governor\":{\"window_secs\":0}}", "`governor.window_secs` must be between");
}

/* ksmd management against a fake /sys/kernel/mm/ksm. */
static void knob(const char *name, const char *value)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/ksm/%s", tmpdir, name);
	assert_int_equal(write_file_atomic(path, value, strlen(value), 0644, NULL), 0);
}

static char *knob_value(const char *name)
{
	char *v = NULL;

	assert_int_equal(ksm_knob_read(name, &v, NULL), 0);
	return v;
}

static void assert_knob(const char *name, const char *want)
{
	char *v = knob_value(name);

	assert_string_equal(v, want);
	free(v);
}

static void fake_ksm(const char *run, const char *advisor)
{
	char dir[300];

	snprintf(dir, sizeof(dir), "%s/ksm", tmpdir);
	assert_int_equal(mkdir_p(dir, 0755, NULL), 0);
	setenv("SAMEPAGE_KSM_SYSFS", dir, 1);
	knob("run", run);
	knob("advisor_mode", advisor);
	knob("pages_to_scan", "100");
}

static void test_ksmd_take_release(void **unused)
{
	struct sp_state st = { 0 };
	struct sp_config cfg;
	sp_error_t err = NULL;

	(void)unused;
	sp_config_defaults(&cfg);
	fake_ksm("0\n", "[none] scan-time\n");
	assert_int_equal(ksmd_take(&st, &cfg, &err), 1);
	assert_true(st.ksmd_managed);
	assert_knob("run", "1");
	assert_knob("advisor_mode", "scan-time");
	/* taking again changes nothing */
	assert_int_equal(ksmd_take(&st, &cfg, &err), 0);
	/* the advisor sizes pages_to_scan; it goes back with the advisor */
	knob("pages_to_scan", "2500");
	assert_int_equal(ksmd_release(&st, &err), 3);
	assert_knob("pages_to_scan", "100");
	assert_false(st.ksmd_managed);
	assert_knob("run", "0");
	assert_knob("advisor_mode", "none");
}

static void test_ksmd_someone_elses(void **unused)
{
	struct sp_state st = { 0 };
	struct sp_config cfg;
	sp_error_t err = NULL;

	(void)unused;
	sp_config_defaults(&cfg);
	/* ksmd already running: not ours, nothing changes */
	fake_ksm("1\n", "[none] scan-time\n");
	assert_int_equal(ksmd_take(&st, &cfg, &err), 0);
	assert_false(st.ksmd_managed);
	assert_knob("advisor_mode", "none");

	/* config forbids it */
	fake_ksm("0\n", "[none] scan-time\n");
	cfg.manage_ksmd = false;
	assert_int_equal(ksmd_take(&st, &cfg, &err), 0);
	assert_knob("run", "0");

	/* someone changes a knob after samepage: theirs is kept */
	cfg.manage_ksmd = true;
	assert_int_equal(ksmd_take(&st, &cfg, &err), 1);
	knob("advisor_mode", "none");
	assert_int_equal(ksmd_release(&st, &err), 1);
	assert_knob("run", "0");
	assert_knob("advisor_mode", "none");

	/* advisor_mode none in config: only run is touched */
	fake_ksm("0\n", "[none] scan-time\n");
	strcpy(cfg.advisor_mode, "none");
	memset(&st, 0, sizeof(st));
	assert_int_equal(ksmd_take(&st, &cfg, &err), 1);
	assert_int_equal(st.n_knobs, 1);
	assert_string_equal(st.knobs[0].name, "run");
	ksmd_release(&st, &err);
}

static void test_ksmd_set_knob_keeps_first_saved(void **unused)
{
	struct sp_state st = { 0 };

	(void)unused;
	fake_ksm("0\n", "[none] scan-time\n");
	assert_int_equal(ksmd_set_knob(&st, "pages_to_scan", "4000", NULL), 0);
	assert_int_equal(ksmd_set_knob(&st, "pages_to_scan", "500", NULL), 0);
	assert_int_equal(st.n_knobs, 1);
	assert_string_equal(st.knobs[0].saved, "100");
	assert_string_equal(st.knobs[0].set, "500");
	assert_int_equal(ksmd_release(&st, NULL), 1);
	assert_knob("pages_to_scan", "100");
}

static int setup(void **unused)
{
	(void)unused;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **unused)
{
	char cmd[300];

	(void)unused;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_roundtrip),
		cmocka_unit_test(test_state_missing_and_corrupt),
		cmocka_unit_test(test_state_prune),
		cmocka_unit_test(test_state_concurrent),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_ksmd_take_release),
		cmocka_unit_test(test_ksmd_someone_elses),
		cmocka_unit_test(test_ksmd_set_knob_keeps_first_saved),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
