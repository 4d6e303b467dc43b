/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel version parser and the known-bug table behind `samepage doctor`. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "node/kbugs.h"

static void test_parse(void **state)
{
	struct kernel_version v;

	(void)state;
	assert_int_equal(kernel_version_parse("6.18.44-fc-v669", &v), 0);
	assert_int_equal(v.major, 6);
	assert_int_equal(v.minor, 18);
	assert_int_equal(v.patch, 44);
	assert_int_equal(kernel_version_parse("6.1.0-27-amd64", &v), 0);
	assert_int_equal(v.minor, 1);
	assert_int_equal(v.patch, 0);
	assert_int_equal(kernel_version_parse("6.19-rc3", &v), 0);
	assert_int_equal(v.minor, 19);
	assert_int_equal(v.patch, 0);
	assert_int_equal(kernel_version_parse("5.10", &v), 0);
	assert_int_equal(v.major, 5);
	assert_int_equal(kernel_version_parse("6", &v), -EINVAL);
	assert_int_equal(kernel_version_parse("linux", &v), -EINVAL);
	assert_int_equal(kernel_version_parse("", &v), -EINVAL);
	assert_int_equal(kernel_version_parse("99999999999.1", &v), -EINVAL);
}

static enum kbug_verdict verdict(const char *bug, const char *release)
{
	struct kernel_version v;
	const struct kbug *b = kbug_find(bug);

	assert_non_null(b);
	assert_int_equal(kernel_version_parse(release, &v), 0);
	return kbug_check(b, &v);
}

static void test_exec_drops_ksm(void **state)
{
	(void)state;
	assert_int_equal(verdict("bug_exec_drops_ksm", "6.1.0"), KBUG_NOT_APPLICABLE);
	assert_int_equal(verdict("bug_exec_drops_ksm", "6.4.0"), KBUG_AFFECTED);
	assert_int_equal(verdict("bug_exec_drops_ksm", "6.6.58"), KBUG_AFFECTED);
	assert_int_equal(verdict("bug_exec_drops_ksm", "6.7"), KBUG_FIXED);
	assert_int_equal(verdict("bug_exec_drops_ksm", "7.0.1"), KBUG_FIXED);
}

static void test_vma_merge(void **state)
{
	(void)state;
	/* Not backported: every 6.4 - 6.16 kernel has it, stable or not. */
	assert_int_equal(verdict("bug_vma_merge", "6.3.13"), KBUG_NOT_APPLICABLE);
	assert_int_equal(verdict("bug_vma_merge", "6.12.117"), KBUG_AFFECTED);
	assert_int_equal(verdict("bug_vma_merge", "6.16.9"), KBUG_AFFECTED);
	assert_int_equal(verdict("bug_vma_merge", "6.17.0"), KBUG_FIXED);
	assert_int_equal(verdict("bug_vma_merge", "6.18.44"), KBUG_FIXED);
}

static void test_exec_race(void **state)
{
	(void)state;
	/* Sent to stable: older kernels may or may not carry the fix. */
	assert_int_equal(verdict("bug_exec_race", "6.12.117"), KBUG_MAYBE);
	assert_int_equal(verdict("bug_exec_race", "6.18.44"), KBUG_MAYBE);
	assert_int_equal(verdict("bug_exec_race", "6.19.1"), KBUG_FIXED);
	assert_int_equal(verdict("bug_exec_race", "5.15.0"), KBUG_NOT_APPLICABLE);
}

static void test_table_complete(void **state)
{
	size_t i;

	(void)state;
	assert_true(n_kbugs >= 3);
	for (i = 0; i < n_kbugs; i++) {
		const struct kbug *b = &kbugs[i];
		struct kernel_version since = { b->since_major, b->since_minor, 0 };

		assert_non_null(b->summary);
		assert_non_null(b->reference);
		assert_non_null(b->action);
		assert_true(strncmp(b->name, "bug_", 4) == 0);
		/* The fix comes after the bug. */
		assert_true(kernel_version_cmp(&since, b->fixed_major, b->fixed_minor) < 0);
		assert_null(kbug_find("no-such-bug"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_exec_drops_ksm),
		cmocka_unit_test(test_vma_merge),
		cmocka_unit_test(test_exec_race),
		cmocka_unit_test(test_table_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
