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
	sp_config_free(&cfg);
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
	assert_true(cfg.smart_scan_off);

	assert_int_equal(sp_config_parse("{\"domain_policy\":\"shared\",\"manage_ksmd\":false,\"smart_scan\":\"keep\","
					 "\"advisor_mode\":\"none\",\"governor\":{\"cpu_budget\":0.1,\"window_secs\":5}}",
					 "t", &cfg, &err),
			 0);
	assert_int_equal(cfg.domain_policy, SP_POLICY_SHARED);
	assert_false(cfg.manage_ksmd);
	assert_string_equal(cfg.advisor_mode, "none");
	assert_false(cfg.smart_scan_off);
	assert_int_equal(sp_config_parse("{\"smart_scan\":\"off\"}", "t", &cfg, &err), 0);
	assert_true(cfg.smart_scan_off);
	assert_true(cfg.governor.cpu_budget > 0.09 && cfg.governor.cpu_budget < 0.11);
	assert_int_equal(cfg.governor.window_secs, 5);

	expect_config_error("{", "test.conf: not valid JSON");
	expect_config_error("[]", "not a JSON object");
	expect_config_error("{\"manage_ksmd\":false}\n{\"domain_policy\":\"shared\"}", "trailing data");
	expect_config_error("{\"domain_policy\":\"open\"}", "`domain_policy`: invalid value `open`");
	expect_config_error("{\"domain_policy\":1}", "`domain_policy` must be a string");
	expect_config_error("{\"manage_ksmd\":\"yes\"}", "`manage_ksmd` must be true or false");
	expect_config_error("{\"advisor_mode\":\"fast\"}", "`advisor_mode`: invalid value `fast`");
	expect_config_error("{\"smart_scan\":\"on\"}", "`smart_scan`: invalid value `on` (want off or keep)");
	expect_config_error("{\"smart_scan\":false}", "`smart_scan` must be a string");
	expect_config_error("{\"domian_policy\":\"shared\"}", "unknown key `domian_policy`");
	expect_config_error("{\"governor\":{\"cpu_budget\":2}}", "`governor.cpu_budget` must be in (0, 1]");
	expect_config_error("{\"governor\":{\"speed\":2}}", "unknown key `governor.speed`");
	expect_config_error("{\"governor\":{\"window_secs\":0}}", "`governor.window_secs` must be between");
}

/* The trusted namespace key and the admin's groups of namespaces. */
static void test_config_domains(void **unused)
{
	struct sp_config cfg;
	sp_error_t err = NULL;

	(void)unused;
	sp_config_defaults(&cfg);
	assert_null(cfg.namespace_annotation);
	assert_int_equal(sp_config_parse("{\"namespace_annotation\": \"io.kubernetes.pod.namespace\","
					 "\"domains\": {\"ci\": [\"ci-a\", \"ci-b\"], \"web\": [\"shop\"]}}",
					 "t", &cfg, &err),
			 0);
	assert_string_equal(cfg.namespace_annotation, "io.kubernetes.pod.namespace");
	assert_int_equal(cfg.n_groups, 3);
	assert_string_equal(cfg.groups[0].ns, "ci-a");
	assert_string_equal(cfg.groups[0].group, "ci");
	assert_string_equal(cfg.groups[1].ns, "ci-b");
	assert_string_equal(cfg.groups[2].ns, "shop");
	assert_string_equal(cfg.groups[2].group, "web");
	sp_config_free(&cfg);
	assert_null(cfg.namespace_annotation);
	assert_int_equal(cfg.n_groups, 0);

	assert_int_equal(sp_config_parse("{\"namespace_annotation\": null, \"domains\": {}}", "t", &cfg, &err), 0);
	assert_null(cfg.namespace_annotation);
	assert_int_equal(cfg.n_groups, 0);

	expect_config_error("{\"namespace_annotation\": \"samepage.io/domain\"}",
			    "`namespace_annotation`: `samepage.io/domain` is set by the tenant, not the runtime");
	expect_config_error("{\"namespace_annotation\": \"\"}", "`namespace_annotation`: invalid annotation key ``");
	expect_config_error("{\"namespace_annotation\": \"a b\"}", "invalid annotation key `a b`");
	expect_config_error("{\"namespace_annotation\": \"io.kubernetes.pod.namespace\\u0000x\"}",
			    "invalid annotation key `io.kubernetes.pod.namespace`");
	expect_config_error("{\"namespace_annotation\": 1}", "`namespace_annotation` must be a string or null");
	expect_config_error("{\"domains\": []}", "`domains` must be an object");
	expect_config_error("{\"domains\": {\"CI\": [\"a\"]}}", "`domains`: invalid group name `CI`");
	expect_config_error("{\"domains\": {\"ci\": []}}", "`domains.ci` must be a non-empty array of namespaces");
	expect_config_error("{\"domains\": {\"ci\": \"ci-a\"}}", "`domains.ci` must be a non-empty array");
	expect_config_error("{\"domains\": {\"ci\": [\"ci/a\"]}}", "`domains.ci`: invalid namespace \"ci\\/a\"");
	expect_config_error("{\"domains\": {\"ci\": [1]}}", "`domains.ci`: invalid namespace 1");
	expect_config_error("{\"domains\": {\"ci\": [\"a\"], \"web\": [\"b\", \"a\"]}}",
			    "`domains.web`: namespace `a` is already in group `ci`");
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
		cmocka_unit_test(test_config_domains),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
