/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The lineage of `enable --pid` entries (node/state.h): which processes are
 * what it enabled, on fake process tables, and prune keeping the entry of a
 * process that exited while its children have KSM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "host/proc.h"
#include "node/state.h"

#define ROOT 100
#define ROOT_START 1000
#define SID 50

/* The entry as `samepage enable --pid 100` records it at tick 1010. */
static struct sp_member root_member = { ROOT, ROOT_START };

static struct sp_container entry(struct sp_member *members, size_t n)
{
	return (struct sp_container){
		.id = "pid:100", .domain = "local/x", .pid = ROOT, .start_time = ROOT_START, .enabled = true,
		.backend = "stock", .sid = SID, .enabled_ticks = 1010, .members = members, .n_members = n,
	};
}

static bool has_member(const struct sp_member *m, size_t n, pid_t pid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (m[i].pid == pid)
			return true;
	return false;
}

/* pids of the members, "100 101 ..." in the order returned */
static void members_of(const struct sp_container *c, struct sp_proc_view *procs, size_t n, int want_ksm,
		       const pid_t *want, size_t n_want)
{
	struct sp_proc_table t = { procs, n };
	_cleanup_free_ struct sp_member *m = NULL;
	size_t got = 0, i;

	assert_int_equal(sp_lineage_members(c, &t, &m, &got), want_ksm);
	for (i = 0; i < n_want; i++)
		if (!has_member(m, got, want[i]))
			fail_msg("pid %d is not a member", (int)want[i]);
	assert_int_equal(got, n_want);
}

static void test_children_and_session(void **state)
{
	struct sp_proc_view procs[] = {
		{ 1, 0, 1, 1, false },
		{ 40, 1, SID, 10, false },          /* the session's leader (a shell) */
		{ 41, 40, SID, 20, true },          /* opted in before the root started: not ours */
		{ ROOT, 40, SID, ROOT_START, true },
		{ 101, ROOT, SID, 1100, true },     /* forked after enabling */
		{ 102, 101, SID, 1200, true },      /* and its child */
		{ 103, ROOT, 103, 1150, false },    /* a child that left the session, no KSM: still ours */
		{ 200, 1, 60, 1300, true },         /* another session's self-opt-in */
		{ 300, 40, SID, 1400, true },       /* the same session, opted in later: counted */
		{ 301, 40, SID, 1500, false },      /* the same session without KSM: not */
	};
	struct sp_container c = entry(&root_member, 1);
	static const pid_t want[] = { ROOT, 101, 102, 103, 300 };

	(void)state;
	members_of(&c, procs, ARRAY_SIZE(procs), 4, want, ARRAY_SIZE(want));
}

static void test_root_exited(void **state)
{
	/* The root is gone; its children were reparented to init. */
	struct sp_proc_view procs[] = {
		{ 1, 0, 1, 1, false },
		{ 40, 1, SID, 10, false },          /* the leader, alive: proves the session */
		{ 101, 1, SID, 1100, true },
		{ 102, 101, SID, 1200, true },
		{ 200, 1, 60, 1300, true },
	};
	struct sp_container c = entry(&root_member, 1);
	static const pid_t want[] = { 101, 102 };

	(void)state;
	members_of(&c, procs, ARRAY_SIZE(procs), 2, want, ARRAY_SIZE(want));
}

static void test_root_exited_recorded_members(void **state)
{
	/* The root led its own session and exited; no process of the session
	 * existed at enable time, but prune had recorded 101. */
	struct sp_member recorded[] = { { ROOT, ROOT_START }, { 101, 1100 } };
	struct sp_proc_view procs[] = {
		{ 101, 1, ROOT, 1100, true },
		{ 104, 1, ROOT, 1600, true },       /* orphaned grandchild, found through the session */
		{ 102, 101, ROOT, 1200, false },
	};
	struct sp_container c = entry(recorded, 2);
	static const pid_t want[] = { 101, 102, 104 };

	(void)state;
	c.sid = ROOT;
	members_of(&c, procs, ARRAY_SIZE(procs), 2, want, ARRAY_SIZE(want));
}

static void test_reused_numbers(void **state)
{
	/* Everything of the entry is gone.  pid 100 is another process now,
	 * and a new session has the old session's number: none of it is ours. */
	struct sp_proc_view procs[] = {
		{ ROOT, 1, ROOT, 9000, true },      /* pid reused: other start time */
		{ SID, 1, SID, 9100, true },        /* a new leader with the session's number */
		{ 500, SID, SID, 9200, true },
	};
	struct sp_container c = entry(&root_member, 1);

	(void)state;
	members_of(&c, procs, ARRAY_SIZE(procs), 0, NULL, 0);
}

static void test_members_order(void **state)
{
	struct sp_proc_view procs[] = {
		{ 40, 1, SID, 10, false },
		{ 103, 102, SID, 1300, false },
		{ 102, 1, SID, 1200, true },
		{ 101, 1, SID, 1100, true },
	};
	struct sp_member recorded[] = { { 101, 1100 } };
	struct sp_container c = entry(recorded, 1);
	struct sp_proc_table t = { procs, ARRAY_SIZE(procs) };
	_cleanup_free_ struct sp_member *m = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(sp_lineage_members(&c, &t, &m, &n), 2);
	assert_int_equal(n, 3);
	/* with KSM first, oldest first: prune names the entry by m[0] */
	assert_int_equal(m[0].pid, 101);
	assert_int_equal(m[1].pid, 102);
	assert_int_equal(m[2].pid, 103);
}

/* Prune with a fake node: the root (100) is dead, its child has KSM. */
static struct sp_proc_view *fake_procs;
static size_t fake_n;

static bool fake_alive(pid_t pid, unsigned long long start_time)
{
	size_t i;

	for (i = 0; i < fake_n; i++)
		if (fake_procs[i].pid == pid && fake_procs[i].start_time == start_time)
			return true;
	return false;
}

static int fake_ksm(pid_t pid)
{
	(void)pid;
	return 0;
}

static bool fake_cgroup(const char *cgroup, bool native)
{
	(void)cgroup;
	(void)native;
	return false;
}

static int fake_table(struct sp_proc_table *t)
{
	t->procs = malloc(fake_n * sizeof(*t->procs));
	if (!t->procs)
		return -1;
	memcpy(t->procs, fake_procs, fake_n * sizeof(*t->procs));
	t->n = fake_n;
	return 0;
}

static const struct sp_probe fake_probe = { fake_alive, fake_ksm, fake_cgroup, fake_table };

static void test_prune_keeps_live_lineage(void **state)
{
	struct sp_proc_view procs[] = {
		{ 40, 1, SID, 10, false },
		{ 101, 1, SID, 1100, true },
	};
	struct sp_state st = { 0 };
	struct sp_container c = entry(&root_member, 1);
	_cleanup_free_ char *json = NULL;
	struct sp_state back;
	sp_error_t err = NULL;

	(void)state;
	fake_procs = procs;
	fake_n = ARRAY_SIZE(procs);
	assert_int_equal(sp_state_add(&st, &c, &err), 0);
	assert_int_equal(sp_state_prune(&st, &fake_probe), 0);
	assert_int_equal(st.n_containers, 1);
	/* named by its oldest member with KSM, which is recorded */
	assert_int_equal(st.containers[0].pid, 101);
	assert_int_equal(st.containers[0].start_time, 1100);
	assert_string_equal(st.containers[0].id, "pid:100");
	assert_int_equal(st.containers[0].n_members, 1);

	/* the lineage survives a save and a load */
	json = sp_state_to_json(&st);
	assert_int_equal(sp_state_parse(json, "t", &back, &err), 0);
	assert_int_equal(back.containers[0].sid, SID);
	assert_int_equal(back.containers[0].enabled_ticks, 1010);
	assert_int_equal(back.containers[0].n_members, 1);
	assert_int_equal(back.containers[0].members[0].pid, 101);
	sp_state_free(&back);

	/* the child stops merging (prctl 0): the entry is over */
	procs[1].ksm = false;
	assert_int_equal(sp_state_prune(&st, &fake_probe), 1);
	assert_int_equal(st.n_containers, 0);
	sp_state_free(&st);
}

static void test_prune_without_table_probe(void **state)
{
	/* a probe without a process table: the recorded process decides */
	static const struct sp_probe old = { fake_alive, fake_ksm, fake_cgroup, NULL };
	struct sp_proc_view procs[] = { { 101, 1, SID, 1100, true } };
	struct sp_state st = { 0 };
	struct sp_container c = entry(&root_member, 1);

	(void)state;
	fake_procs = procs;
	fake_n = ARRAY_SIZE(procs);
	assert_int_equal(sp_state_add(&st, &c, NULL), 0);
	assert_int_equal(sp_state_prune(&st, &old), 1);
	sp_state_free(&st);
}

static void test_real_fork(void **state)
{
	/* On this node: a process and its session; a child forked after the
	 * entry was made is a member, also after the recorded process is
	 * replaced by an unrelated record. */
	struct sp_container c = { .id = "pid:x", .domain = "local/x", .enabled = true };
	_cleanup_(pid_list_free) struct pid_list l = { 0 };
	struct proc_info self;
	sp_error_t err = NULL;
	int fds[2];
	pid_t child;
	char b;

	(void)state;
	assert_int_equal(proc_info_read(getpid(), &self, NULL), 0);
	c.pid = self.pid;
	c.start_time = self.start_time;
	assert_int_equal(sp_lineage_start(&c, &err), 0);
	assert_int_equal(c.sid, getsid(0));
	assert_int_equal(pipe(fds), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(fds[1]);
		if (read(fds[0], &b, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(fds[0]);
	assert_true(sp_lineage_pids(&c, &l, &err) >= 0);
	assert_true(pid_list_contains(&l, getpid()));
	assert_true(pid_list_contains(&l, child));
	close(fds[1]);
	waitpid(child, NULL, 0);
	free(c.members);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_children_and_session),
		cmocka_unit_test(test_root_exited),
		cmocka_unit_test(test_root_exited_recorded_members),
		cmocka_unit_test(test_reused_numbers),
		cmocka_unit_test(test_members_order),
		cmocka_unit_test(test_prune_keeps_live_lineage),
		cmocka_unit_test(test_prune_without_table_probe),
		cmocka_unit_test(test_real_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
