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
#include "host/proc.h"
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

	/* an entry is id and process: the same again replaces, another
	 * process with the same id is a second entry */
	add(&back, "c1", "team-b", 100, true);
	assert_int_equal(back.n_containers, 2);
	assert_string_equal(sp_state_find_entry(&back, "c1", 100, 7)->domain, "team-b");
	add(&back, "c1", "team-a", 101, true);
	assert_int_equal(back.n_containers, 3);
	assert_null(sp_state_find_entry(&back, "c1", 101, 8));
	assert_true(sp_state_remove_entry(&back, "c1", 100, 7));
	assert_false(sp_state_remove_entry(&back, "c1", 100, 7));
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

	/* readers do not repair: a broken file is an error naming it */
	snprintf(dir, sizeof(dir), "%s/corrupt", tmpdir);
	assert_int_equal(mkdir_p(dir, 0700, &err), 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(write_file_atomic(path, "{oops", 5, 0600, &err), 0);
	assert_true(sp_state_load(dir, &st, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "state.json"));
	sp_error_free(&err);
}

/* The probe of the tests: even pids live, pids >= 100 have KSM on, cgroups
 * named ".../on" have a process with KSM on. */
static bool alive_if_even(pid_t pid, unsigned long long start_time)
{
	(void)start_time;
	return pid % 2 == 0;
}

static int ksm_from_100(pid_t pid)
{
	return pid >= 100;
}

static bool cgroup_on(const char *cgroup, bool native)
{
	(void)native;
	return strstr(cgroup, "/on") != NULL;
}

static const struct sp_probe probe = { alive_if_even, ksm_from_100, cgroup_on };

static void test_state_prune(void **unused)
{
	struct sp_state st = { 0 };

	(void)unused;
	add(&st, "a", "d", 2, true);
	add(&st, "b", "d", 3, true);
	add(&st, "c", "d", 4, false);
	add(&st, "e", "d", 5, false);
	assert_int_equal(sp_state_prune(&st, &probe), 2);
	assert_int_equal(st.n_containers, 2);
	assert_non_null(sp_state_find(&st, "a"));
	assert_non_null(sp_state_find(&st, "c"));
	sp_state_free(&st);

	/* the real check: our own pid with the wrong start time is dead */
	add(&st, "self", "d", getpid(), true);
	assert_int_equal(sp_state_prune(&st, NULL), 1);
	sp_state_free(&st);
}

static void add_intent(struct sp_state *st, const char *id, pid_t pid, pid_t owner)
{
	struct sp_container c = { .id = (char *)id, .domain = "d", .pid = pid, .start_time = 7, .enabled = true,
				  .backend = "stock", .intent = true, .owner_pid = owner, .owner_start = 9 };

	assert_int_equal(sp_state_add(st, &c, NULL), 0);
}

/* An intent whose owner (the hook) is still at work stays; one whose owner
 * died is resolved from what the process really has. */
static void test_state_prune_resolves_intents(void **unused)
{
	struct sp_state st = { 0 };
	struct sp_container *c;

	(void)unused;
	add_intent(&st, "working", 100, 2);   /* owner alive */
	add_intent(&st, "merged", 100, 3);    /* owner dead, target has KSM */
	add_intent(&st, "unmerged", 10, 3);   /* owner dead, target without KSM */
	add_intent(&st, "gone", 101, 3);      /* owner and target dead */
	assert_int_equal(sp_state_prune(&st, &probe), 1);
	assert_int_equal(st.n_containers, 3);
	c = sp_state_find(&st, "working");
	assert_true(c->intent);
	c = sp_state_find(&st, "merged");
	assert_false(c->intent);
	assert_true(c->enabled);
	c = sp_state_find(&st, "unmerged");
	assert_false(c->intent);
	assert_false(c->enabled);
	assert_non_null(strstr(c->reason, "did not finish"));
	assert_null(sp_state_find(&st, "gone"));
	assert_int_equal(sp_state_enabled_count(&st), 2);
	sp_state_free(&st);
}

/* An `enable` cgroup entry lives while any process of the cgroup has KSM,
 * not only while the process recorded with it lives. */
static void test_state_prune_cgroup_entries(void **unused)
{
	struct sp_state st = { 0 };
	struct sp_container on = { .id = "cgroup:/sys/fs/cgroup/on", .domain = "d", .pid = 3, .start_time = 7,
				   .enabled = true, .backend = "stock", .cgroup = "/sys/fs/cgroup/on" };
	struct sp_container off = { .id = "cgroup:/sys/fs/cgroup/off", .domain = "d", .pid = 2, .start_time = 7,
				    .enabled = true, .backend = "stock", .cgroup = "/sys/fs/cgroup/off" };

	(void)unused;
	assert_int_equal(sp_state_add(&st, &on, NULL), 0);
	assert_int_equal(sp_state_add(&st, &off, NULL), 0);
	assert_int_equal(sp_state_prune(&st, &probe), 1);
	assert_int_equal(st.n_containers, 1);
	assert_non_null(sp_state_find(&st, on.id));
	sp_state_free(&st);
}

/* The intent's owner and the recovery marker survive a save and a load. */
static void test_state_intent_roundtrip(void **unused)
{
	struct sp_state st = { 0 }, back;
	char *json;

	(void)unused;
	add_intent(&st, "x", 100, 42);
	st.recovered = strdup("moved aside");
	st.recovered_at = 1234;
	json = sp_state_to_json(&st);
	assert_int_equal(sp_state_parse(json, "test", &back, NULL), 0);
	assert_true(back.containers[0].intent);
	assert_int_equal(back.containers[0].owner_pid, 42);
	assert_int_equal(back.containers[0].owner_start, 9);
	assert_string_equal(back.recovered, "moved aside");
	assert_int_equal(back.recovered_at, 1234);
	free(json);
	sp_state_free(&back);

	/* nothing recorded any more: nothing of the recovery to report */
	sp_state_remove(&st, "x");
	json = sp_state_to_json(&st);
	assert_null(strstr(json, "recovered"));
	free(json);
	sp_state_free(&st);
}

static void state_dir_at(char *dir, size_t size, const char *name)
{
	snprintf(dir, size, "%s/%s", tmpdir, name);
}

static void write_state_text(const char *dir, const char *text, size_t len)
{
	char path[300];

	assert_int_equal(mkdir_private(dir, NULL), 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(write_file_atomic(path, text, len, 0600, NULL), 0);
}

/* The writer's open: the broken file is moved aside (named in the
 * message), the state starts over, and the lock is held. */
static void expect_recovered(const char *dir, const char *why)
{
	struct sp_state st;
	sp_error_t err = NULL;
	char *aside, path[300];
	int lock;

	lock = sp_state_open(dir, &st, &err);
	if (lock < 0)
		fail_msg("open: %s", sp_error_msg(err));
	assert_true(st.recovered_now);
	if (!strstr(st.recovered, why))
		fail_msg("`%s` does not say `%s`", st.recovered, why);
	aside = strstr(st.recovered, "moved aside to `");
	assert_non_null(aside);
	snprintf(path, sizeof(path), "%s", aside + strlen("moved aside to `"));
	*strchr(path, '`') = '\0';
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(st.n_containers, 0);
	close(lock);
	sp_state_free(&st);
}

static void test_state_recovers_broken_files(void **unused)
{
	static const char truncated[] = "{ \"version\": 1, \"containers\": [ { \"id\": \"c1\", \"pid\": 12";
	char dir[256];
	char *big;

	(void)unused;
	state_dir_at(dir, sizeof(dir), "broken-corrupt");
	write_state_text(dir, "{oops", 5);
	expect_recovered(dir, "could not be parsed");
	state_dir_at(dir, sizeof(dir), "broken-truncated");
	write_state_text(dir, truncated, strlen(truncated));
	expect_recovered(dir, "could not be parsed");
	state_dir_at(dir, sizeof(dir), "broken-empty");
	write_state_text(dir, "", 0);
	expect_recovered(dir, "is empty");
	state_dir_at(dir, sizeof(dir), "broken-oversized");
	big = malloc(16 * 1024 * 1024 + 2);
	assert_non_null(big);
	memset(big, ' ', 16 * 1024 * 1024 + 1);
	write_state_text(dir, big, 16 * 1024 * 1024 + 1);
	free(big);
	expect_recovered(dir, "larger than");
}

/* What survives in state.json.prev and still holds on the node is kept. */
static void test_state_rebuilds_from_previous(void **unused)
{
	struct sp_state st = { 0 }, back;
	char dir[256], knobs[300], path[400];
	sp_error_t err = NULL;
	int lock;

	(void)unused;
	state_dir_at(dir, sizeof(dir), "rebuild");
	state_dir_at(knobs, sizeof(knobs), "rebuild-ksm");
	assert_int_equal(mkdir_p(knobs, 0755, NULL), 0);
	setenv("SAMEPAGE_KSM_SYSFS", knobs, 1);
	snprintf(path, sizeof(path), "%s/run", knobs);
	assert_int_equal(write_file_atomic(path, "1\n", 2, 0644, NULL), 0);
	snprintf(path, sizeof(path), "%s/sleep_millisecs", knobs);
	assert_int_equal(write_file_atomic(path, "50\n", 3, 0644, NULL), 0);

	{
		struct proc_info pi;
		struct sp_container refused = { .id = "refused", .domain = "d", .pid = getpid(), .enabled = false,
						 .reason = "domain refused" };
		struct sp_container off = { .id = "off", .domain = "d", .pid = getpid(), .enabled = true,
					    .backend = "stock" };

		assert_int_equal(proc_info_read(getpid(), &pi, NULL), 0);
		refused.start_time = off.start_time = pi.start_time;
		assert_int_equal(sp_state_add(&st, &refused, NULL), 0);
		assert_int_equal(sp_state_add(&st, &off, NULL), 0);
	}
	add(&st, "dead", "d", 2, true);
	st.ksmd_managed = true;
	st.n_knobs = 2;
	strcpy(st.knobs[0].name, "run");
	strcpy(st.knobs[0].saved, "0");
	strcpy(st.knobs[0].set, "1");
	strcpy(st.knobs[1].name, "sleep_millisecs");
	strcpy(st.knobs[1].saved, "200");
	strcpy(st.knobs[1].set, "20");
	lock = sp_state_lock(dir, &err);
	assert_true(lock >= 0);
	assert_int_equal(sp_state_save(dir, &st, &err), 0);
	assert_int_equal(sp_state_save(dir, &st, &err), 0); /* the first becomes .prev */
	close(lock);
	sp_state_free(&st);
	write_state_text(dir, "garbage", 7);

	lock = sp_state_open(dir, &back, &err);
	assert_true(lock >= 0);
	assert_true(back.recovered_now);
	assert_non_null(strstr(back.recovered, "rebuilt from state.json.prev"));
	/* the refused container still runs; "off" has KSM off; "dead" is gone */
	assert_int_equal(back.n_containers, 1);
	assert_non_null(sp_state_find(&back, "refused"));
	/* run still holds what samepage set; sleep_millisecs was changed since */
	assert_true(back.ksmd_managed);
	assert_int_equal(back.n_knobs, 1);
	assert_string_equal(back.knobs[0].name, "run");
	assert_int_equal(sp_state_save(dir, &back, &err), 0);
	close(lock);
	sp_state_free(&back);

	/* state.json deleted by hand: rebuilt from .prev as well */
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(unlink(path), 0);
	lock = sp_state_open(dir, &back, &err);
	assert_true(lock >= 0);
	assert_true(back.recovered_now);
	assert_non_null(strstr(back.recovered, "was missing"));
	assert_int_equal(back.n_containers, 1);
	close(lock);
	sp_state_free(&back);
	unsetenv("SAMEPAGE_KSM_SYSFS");
}

/* The dir is 0700 and ours, the file 0600; a symlinked or foreign dir is
 * refused with the path named. */
static void test_state_dir_and_file_modes(void **unused)
{
	struct sp_state st = { 0 };
	char dir[256], link[256], path[300];
	struct stat sb;
	sp_error_t err = NULL;
	int lock;

	(void)unused;
	state_dir_at(dir, sizeof(dir), "modes/run/samepage");
	lock = sp_state_lock(dir, &err);
	assert_true(lock >= 0);
	assert_int_equal(sp_state_save(dir, &st, &err), 0);
	close(lock);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	state_dir_at(link, sizeof(link), "modes/link");
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(sp_state_lock(link, &err), -ELOOP);
	assert_non_null(strstr(sp_error_msg(err), "symlink"));
	sp_error_free(&err);

	if (geteuid() != 0)
		return;
	assert_int_equal(chown(dir, 65534, 0), 0);
	assert_int_equal(sp_state_open(dir, &st, &err), -EPERM);
	assert_non_null(strstr(sp_error_msg(err), "owned by uid 65534"));
	sp_error_free(&err);
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
		cmocka_unit_test(test_state_prune_resolves_intents),
		cmocka_unit_test(test_state_prune_cgroup_entries),
		cmocka_unit_test(test_state_intent_roundtrip),
		cmocka_unit_test(test_state_concurrent),
		cmocka_unit_test(test_state_recovers_broken_files),
		cmocka_unit_test(test_state_rebuilds_from_previous),
		cmocka_unit_test(test_state_dir_and_file_modes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
