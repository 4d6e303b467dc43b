/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Domain policy: who may have KSM, the refusal's error (what a domain is: test-domain.c). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "node/policy.h"
#include "node/state.h"

static void add(struct sp_state *st, const char *id, const char *domain, pid_t pid, bool enabled)
{
	struct sp_container c = { .id = (char *)id, .domain = (char *)domain, .pid = pid, .start_time = 7,
				  .enabled = enabled, .backend = "stock" };

	assert_int_equal(sp_state_add(st, &c, NULL), 0);
}

static void test_policy_decide(void **unused)
{
	struct sp_state st = { 0 };
	struct sp_verdict v;

	(void)unused;
	v = sp_policy_decide(&st, SP_POLICY_EXCLUSIVE, "a", "c1");
	assert_true(v.allow);

	add(&st, "c1", "a", 10, true);
	add(&st, "c9", "b", 11, false); /* refused entries own nothing */
	v = sp_policy_decide(&st, SP_POLICY_EXCLUSIVE, "a", "c2");
	assert_true(v.allow);
	v = sp_policy_decide(&st, SP_POLICY_EXCLUSIVE, "b", "c3");
	assert_false(v.allow);
	assert_string_equal(v.owner, "a");
	assert_int_equal(v.owner_count, 1);
	assert_string_equal(sp_policy_owner(&st), "a");

	v = sp_policy_decide(&st, SP_POLICY_SHARED, "b", "c3");
	assert_true(v.allow);

	/* the same container asking again is not its own rival */
	v = sp_policy_decide(&st, SP_POLICY_EXCLUSIVE, "b", "c1");
	assert_true(v.allow);

	sp_state_remove(&st, "c1");
	v = sp_policy_decide(&st, SP_POLICY_EXCLUSIVE, "b", "c3");
	assert_true(v.allow);
	assert_null(sp_policy_owner(&st));
	sp_state_free(&st);
}

/* Domains are whole strings: a sub-domain, or a spoof narrowed into the
 * tenant's own namespace, is not the owner's domain. */
static void test_full_domains_compare_whole(void **unused)
{
	struct sp_state st = { 0 };
	struct sp_verdict v;

	(void)unused;
	add(&st, "c1", "k8s/team-a", 10, true);
	v = sp_policy_decide(&st, SP_POLICY_EXCLUSIVE, "k8s/team-b/team-a", "c2");
	assert_false(v.allow);
	assert_string_equal(v.owner, "k8s/team-a");
	v = sp_policy_decide(&st, SP_POLICY_EXCLUSIVE, "k8s/team-a/web", "c3");
	assert_false(v.allow);
	v = sp_policy_decide(&st, SP_POLICY_EXCLUSIVE, "local/team-a", "c4");
	assert_false(v.allow);
	v = sp_policy_decide(&st, SP_POLICY_EXCLUSIVE, "k8s/team-a", "c5");
	assert_true(v.allow);
	sp_state_free(&st);
}

/* A refusal is -EPERM, and stays -EPERM however often it is wrapped on the
 * way up (a status-0 error used to turn into -EINVAL when wrapped). */
static void test_refusal_keeps_eperm(void **unused)
{
	struct sp_state st = { 0 };
	sp_error_t err = NULL;
	struct sp_verdict v;

	(void)unused;
	add(&st, "c1", "team-a", 10, true);
	add(&st, "c2", "team-a", 11, true);
	v = sp_policy_decide(&st, SP_POLICY_EXCLUSIVE, "team-b", "c3");
	assert_false(v.allow);
	assert_int_equal(sp_verdict_error(&v, "team-b", &err), -EPERM);
	assert_int_equal(sp_error_wrap(&err, "cgroup:/x"), -EPERM);
	assert_int_equal(sp_error_wrap(&err, "enable"), -EPERM);
	/* the message is the policy's, with no strerror() tail */
	assert_string_equal(sp_error_msg(err), "enable: cgroup:/x: domain `team-b` refused: domain `team-a` owns KSM "
					       "on this node (2 containers, domain_policy exclusive)");
	sp_error_free(&err);
	sp_state_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_decide),
		cmocka_unit_test(test_refusal_keeps_eperm),
		cmocka_unit_test(test_full_domains_compare_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
