/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The OCI state a runtime writes to the hook's stdin, then the annotations in
 * it: oci_state_parse() and oci_request_from_state().
 */
#include <stdbool.h>
#include "test/fuzz/fuzz.h"
#include "oci/oci.h"

static void check_request(const struct oci_state *st)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct sp_request req;
	int ret;

	ret = oci_request_from_state(st, &req, &err);
	if (ret < 0) {
		FUZZ_ASSERT(err && err->msg, "request failed (%d) without a message", ret);
		return;
	}
	FUZZ_ASSERT(ret == 0, "ret %d", ret);
	if (req.merge)
		FUZZ_ASSERT(strcmp(oci_state_annotation(st, SP_ANNOTATION_MERGE), "true") == 0, "merge");
	if (req.required)
		FUZZ_ASSERT(strcmp(oci_state_annotation(st, SP_ANNOTATION_REQUIRED), "true") == 0, "required");
}

static void parse_once(const uint8_t *data, size_t size, bool need_pid)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct oci_state st;
	size_t i;
	int ret;

	ret = oci_state_parse((const char *)data, size, need_pid, &st, &err);
	if (ret < 0) {
		FUZZ_ASSERT(err && err->msg, "parse failed (%d) without a message", ret);
		FUZZ_ASSERT(!st.id && !st.annotations && !st.n_annotations && !st.oci_version && !st.status &&
				    !st.bundle,
			    "failed parse left fields set");
		return;
	}
	FUZZ_ASSERT(ret == 0, "ret %d", ret);
	FUZZ_ASSERT(st.id && st.id[0], "accepted a state without id");
	FUZZ_ASSERT(st.pid >= 0, "pid %d", (int)st.pid);
	if (need_pid)
		FUZZ_ASSERT(st.pid > 0, "need_pid but pid %d", (int)st.pid);
	for (i = 0; i < st.n_annotations; i++)
		FUZZ_ASSERT(st.annotations[i].key && st.annotations[i].value, "annotation %zu", i);
	check_request(&st);
	oci_state_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The hook reads at most OCI_STATE_MAX bytes; larger input only
	 * tests the length check. */
	if (size > OCI_STATE_MAX)
		return -1;
	parse_once(data, size, false);
	parse_once(data, size, true);
	return 0;
}
