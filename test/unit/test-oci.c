/* SPDX-License-Identifier: GPL-2.0-or-later */
/* OCI state and annotation parsing, including every bad input the hook must name. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "oci/oci.h"

static int parse(const char *json, bool need_pid, struct oci_state *st, sp_error_t *err)
{
	return oci_state_parse(json, strlen(json), need_pid, st, err);
}

static void expect_error(const char *json, bool need_pid, const char *needle)
{
	struct oci_state st;
	sp_error_t err = NULL;
	int ret = parse(json, need_pid, &st, &err);

	assert_true(ret < 0);
	assert_non_null(err);
	if (!strstr(sp_error_msg(err), needle))
		fail_msg("message `%s` does not contain `%s`", sp_error_msg(err), needle);
	sp_error_free(&err);
}

static void test_state_valid(void **unused)
{
	struct oci_state st;
	sp_error_t err = NULL;

	(void)unused;
	assert_int_equal(parse("{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"status\":\"creating\",\"pid\":4121,"
			       "\"bundle\":\"/b\",\"annotations\":{\"samepage.io/merge\":\"true\"}}",
			       true, &st, &err),
			 0);
	assert_string_equal(st.id, "c1");
	assert_int_equal(st.pid, 4121);
	assert_string_equal(st.bundle, "/b");
	assert_string_equal(oci_state_annotation(&st, "samepage.io/merge"), "true");
	assert_null(oci_state_annotation(&st, "nope"));
	oci_state_free(&st);
}

static void test_state_poststop_no_pid(void **unused)
{
	struct oci_state st;
	sp_error_t err = NULL;

	(void)unused;
	assert_int_equal(parse("{\"id\":\"c1\",\"status\":\"stopped\"}", false, &st, &err), 0);
	assert_int_equal(st.pid, 0);
	oci_state_free(&st);
	assert_int_equal(parse("{\"id\":\"c1\",\"pid\":0}", false, &st, &err), 0);
	oci_state_free(&st);
}

static void test_state_bad(void **unused)
{
	(void)unused;
	expect_error("", true, "empty input");
	expect_error("not json", true, "not valid JSON");
	expect_error("{\"id\":\"c1\",\"pid\":1", true, "not valid JSON");
	expect_error("{\"id\":\"c1\",\"pid\":1} x", true, "trailing data");
	expect_error("[1,2]", true, "not a JSON object");
	expect_error("{\"pid\":12}", true, "missing `id`");
	expect_error("{\"id\":\"\",\"pid\":12}", true, "`id` is empty");
	expect_error("{\"id\":7,\"pid\":12}", true, "`id` is not a string");
	expect_error("{\"id\":\"c1\"}", true, "missing `pid`");
	expect_error("{\"id\":\"c1\",\"pid\":\"12\"}", true, "`pid` is not an integer");
	expect_error("{\"id\":\"c1\",\"pid\":1.5}", true, "`pid` is not an integer");
	expect_error("{\"id\":\"c1\",\"pid\":-3}", true, "`pid` out of range");
	expect_error("{\"id\":\"c1\",\"pid\":99999999999}", true, "`pid` out of range");
	expect_error("{\"id\":\"c1\",\"pid\":0}", true, "positive integer");
	expect_error("{\"id\":\"c1\",\"pid\":5,\"annotations\":[]}", true, "`annotations` is not an object");
	expect_error("{\"id\":\"c1\",\"pid\":5,\"annotations\":{\"a\":1}}", true, "annotation `a` is not a string");
}

static void test_state_too_large(void **unused)
{
	struct oci_state st;
	sp_error_t err = NULL;
	size_t len = OCI_STATE_MAX + 1;
	char *big = malloc(len);

	(void)unused;
	memset(big, ' ', len);
	assert_int_equal(oci_state_parse(big, len, true, &st, &err), -EFBIG);
	assert_non_null(strstr(sp_error_msg(err), "larger than"));
	sp_error_free(&err);
	free(big);
}

/* req points into the state, so the state lives until the next call. */
static int request(const char *annotations, struct sp_request *req, sp_error_t *err)
{
	static struct oci_state st;
	char json[4096];

	oci_state_free(&st);
	snprintf(json, sizeof(json), "{\"id\":\"c1\",\"pid\":5,\"annotations\":{%s}}", annotations);
	assert_int_equal(parse(json, true, &st, err), 0);
	return oci_request_from_state(&st, req, err);
}

static void test_request_defaults(void **unused)
{
	struct sp_request req;
	sp_error_t err = NULL;

	(void)unused;
	assert_int_equal(request("", &req, &err), 0);
	assert_false(req.merge);
	assert_false(req.required);

	assert_int_equal(request("\"samepage.io/merge\":\"true\",\"samepage.io/required\":\"true\"", &req, &err), 0);
	assert_true(req.merge);
	assert_true(req.required);
	assert_int_equal(request("\"samepage.io/merge\":\"false\"", &req, &err), 0);
	assert_false(req.merge);
}

static void expect_request_error(const char *annotations, const char *needle)
{
	struct sp_request req;
	sp_error_t err = NULL;

	assert_true(request(annotations, &req, &err) < 0);
	if (!strstr(sp_error_msg(err), needle))
		fail_msg("message `%s` does not contain `%s`", sp_error_msg(err), needle);
	sp_error_free(&err);
}

static void test_request_bad(void **unused)
{
	(void)unused;
	expect_request_error("\"samepage.io/merge\":\"yes\"", "annotation `samepage.io/merge`: invalid value `yes`");
	expect_request_error("\"samepage.io/merge\":\"True\"", "`samepage.io/merge`: invalid value `True`");
	expect_request_error("\"samepage.io/merge\":\"\"", "`samepage.io/merge`: invalid value ``");
	expect_request_error("\"samepage.io/required\":\"1\"", "annotation `samepage.io/required`: invalid value `1`");
}

/* An embedded NUL is kept: the value is what the JSON said, and a boolean
 * that is "true" only up to the NUL is not true. */
static void test_request_nul(void **unused)
{
	static struct oci_state st;
	sp_error_t err = NULL;

	(void)unused;
	assert_int_equal(parse("{\"id\":\"c1\",\"pid\":5,\"annotations\":{\"samepage.io/domain\":\"team-a\\u0000x\"}}",
			       true, &st, &err), 0);
	assert_int_equal(st.n_annotations, 1);
	assert_int_equal(st.annotations[0].value_len, 8);
	assert_string_equal(st.annotations[0].value, "team-a");
	assert_memory_equal(st.annotations[0].value, "team-a\0x", 9);
	oci_state_free(&st);
	expect_request_error("\"samepage.io/merge\":\"true\\u0000x\"", "annotation `samepage.io/merge`: value contains a NUL byte");
}

static void expect_msg(sp_error_t err, const char *needle)
{
	if (!strstr(sp_error_msg(err), needle))
		fail_msg("message `%s` does not contain `%s`", sp_error_msg(err), needle);
}

/* Ids: bounded, no control characters, shown escaped in the message. */
static void test_id_bounds(void **unused)
{
	char id[OCI_ID_MAX + 2];
	sp_error_t err = NULL;
	char *shown;

	(void)unused;
	memset(id, 'a', OCI_ID_MAX);
	id[OCI_ID_MAX] = '\0';
	assert_int_equal(oci_id_check(id, &err), 0);
	assert_int_equal(oci_id_check("3f2a-web_1.x+y", &err), 0);
	id[OCI_ID_MAX] = 'a';
	id[OCI_ID_MAX + 1] = '\0';
	assert_int_equal(oci_id_check(id, &err), -EINVAL);
	expect_msg(err, "256 bytes long (at most 255)");
	sp_error_free(&err);
	assert_int_equal(oci_id_check("web\n\033[31mFAKE LOG LINE", &err), -EINVAL);
	expect_msg(err, "web\\x0a\\x1b[31mFAKE");
	expect_msg(err, "control character");
	assert_null(strchr(sp_error_msg(err), '\n'));
	sp_error_free(&err);
	assert_int_equal(oci_id_check("x\x7f", &err), -EINVAL);
	sp_error_free(&err);

	shown = oci_printable("a\\b\tc", 64);
	assert_string_equal(shown, "a\\x5cb\\x09c");
	free(shown);
	shown = oci_printable("abcdef", 3);
	assert_string_equal(shown, "abc...");
	free(shown);
	/* an id with an embedded NUL is not read as its prefix */
	expect_error("{\"id\":\"web\\u0000x\",\"pid\":5}", true, "`id` holds a NUL");
}

static void test_status_and_merge(void **unused)
{
	struct oci_state st;
	sp_error_t err = NULL;

	(void)unused;
	assert_int_equal(parse("{\"id\":\"c\",\"pid\":5,\"status\":\"creating\"}", true, &st, &err), 0);
	assert_int_equal(oci_state_check_creating(&st, &err), 0);
	assert_false(oci_asks_merge(&st));
	oci_state_free(&st);
	assert_int_equal(parse("{\"id\":\"c\",\"pid\":5,\"status\":\"created\","
			       "\"annotations\":{\"samepage.io/merge\":\"true\"}}", true, &st, &err), 0);
	assert_int_equal(oci_state_check_creating(&st, &err), 0);
	assert_true(oci_asks_merge(&st));
	oci_state_free(&st);
	assert_int_equal(parse("{\"id\":\"c\",\"pid\":5,\"status\":\"running\","
			       "\"annotations\":{\"samepage.io/merge\":\"yes\"}}", true, &st, &err), 0);
	assert_int_equal(oci_state_check_creating(&st, &err), -EINVAL);
	expect_msg(err, "`status` is `running`");
	sp_error_free(&err);
	assert_false(oci_asks_merge(&st));
	oci_state_free(&st);
	assert_int_equal(parse("{\"id\":\"c\",\"pid\":5}", true, &st, &err), 0);
	assert_int_equal(oci_state_check_creating(&st, &err), -EINVAL);
	expect_msg(err, "no `status`");
	sp_error_free(&err);
	oci_state_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_valid),
		cmocka_unit_test(test_state_poststop_no_pid),
		cmocka_unit_test(test_state_bad),
		cmocka_unit_test(test_state_too_large),
		cmocka_unit_test(test_request_defaults),
		cmocka_unit_test(test_request_bad),
		cmocka_unit_test(test_request_nul),
		cmocka_unit_test(test_id_bounds),
		cmocka_unit_test(test_status_and_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
