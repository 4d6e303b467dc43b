// SPDX-License-Identifier: GPL-2.0-or-later
/* node/config: defaults, a missing file, every key, and errors that name the bad key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "node/config.h"

static char tmpdir[] = "/tmp/samepage-test-config-XXXXXX";

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

static int setup(void **unused)
{
	(void)unused;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **unused)
{
	(void)unused;
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
