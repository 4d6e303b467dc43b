/* SPDX-License-Identifier: GPL-2.0-or-later */
/* node/state: round trip, missing and corrupt files, pruning, concurrent writers. */
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

#include "base/fileio.h"
#include "node/state.h"

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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
