/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The node state file: sp_state_parse(), and what the writers rely on:
 * whatever was parsed survives a save and a reload unchanged, i.e.
 * to_json(parse(to_json(parse(x)))) == to_json(parse(x)).
 */
#include "test/fuzz/fuzz.h"
#include "node/state.h"

static void check_state(const struct sp_state *st)
{
	size_t i, j;

	FUZZ_ASSERT(st->n_knobs <= SP_STATE_MAX_KNOBS, "%zu knobs", st->n_knobs);
	for (i = 0; i < st->n_knobs; i++) {
		FUZZ_ASSERT(memchr(st->knobs[i].name, '\0', sizeof(st->knobs[i].name)), "knob %zu name", i);
		FUZZ_ASSERT(memchr(st->knobs[i].saved, '\0', sizeof(st->knobs[i].saved)), "knob %zu saved", i);
		FUZZ_ASSERT(memchr(st->knobs[i].set, '\0', sizeof(st->knobs[i].set)), "knob %zu set", i);
	}
	for (i = 0; i < st->n_containers; i++) {
		FUZZ_ASSERT(st->containers[i].id && st->containers[i].domain, "container %zu", i);
		/* An entry is its id, init pid and start time: a reused id is
		 * another entry (node/state.h), the same triple is one. */
		for (j = 0; j < i; j++)
			FUZZ_ASSERT(strcmp(st->containers[i].id, st->containers[j].id) != 0 ||
					    st->containers[i].pid != st->containers[j].pid ||
					    st->containers[i].start_time != st->containers[j].start_time,
				    "entry `%s` pid %d twice", st->containers[i].id, (int)st->containers[i].pid);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_error_ sp_error_t err = NULL;
	char *json = fuzz_strndup(data, size), *j1, *j2;
	struct sp_state st1, st2;
	int ret;

	ret = sp_state_parse(json, "fuzz-state.json", &st1, &err);
	free(json);
	if (ret < 0) {
		FUZZ_ASSERT(err && err->msg, "failed (%d) without a message", ret);
		FUZZ_ASSERT(!st1.containers && !st1.n_containers, "failed parse left containers");
		return 0;
	}
	check_state(&st1);
	j1 = sp_state_to_json(&st1);
	FUZZ_ASSERT(j1, "to_json");

	ret = sp_state_parse(j1, "saved state", &st2, &err);
	FUZZ_ASSERT(ret == 0, "own output does not parse: %s\n%s", sp_error_msg(err), j1);
	check_state(&st2);
	FUZZ_ASSERT(st2.n_containers == st1.n_containers && st2.n_knobs == st1.n_knobs, "counts differ");
	j2 = sp_state_to_json(&st2);
	FUZZ_ASSERT(j2, "to_json");
	FUZZ_ASSERT(strcmp(j1, j2) == 0, "round trip differs:\n--- first\n%s\n--- second\n%s", j1, j2);

	free(j1);
	free(j2);
	sp_state_free(&st1);
	sp_state_free(&st2);
	return 0;
}
