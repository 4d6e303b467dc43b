/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The admission layer: one load-modify-save of a temporary state dir per
 * call, against a fake /sys/kernel/mm/ksm (SAMEPAGE_KSM_SYSFS), with our
 * own pid or forked children standing for workloads.  The tests that
 * switch KSM for real (ptrace injection into a child) need root and skip
 * without it.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/fileio.h"
#include "host/ksm.h"
#include "host/proc.h"
#include "node/admit.h"
#include "node/state.h"

static char tmpdir[] = "/tmp/samepage-test-admit.XXXXXX";
static char state_dir[300], config[300], ksm_dir[300];
static const struct sp_node_paths paths = { config, state_dir };
static pid_t child = -1;

static void write_text(const char *path, const char *text)
{
	assert_int_equal(write_file_atomic(path, text, strlen(text), 0644, NULL), 0);
}

static void knob(const char *name, const char *value)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/%s", ksm_dir, name);
	write_text(path, value);
}

static void assert_knob(const char *name, const char *want)
{
	char *v = NULL;

	assert_int_equal(ksm_knob_read(name, &v, NULL), 0);
	assert_string_equal(v, want);
	free(v);
}

static unsigned long long start_time_of(pid_t pid)
{
	struct proc_info pi;

	assert_int_equal(proc_info_read(pid, &pi, NULL), 0);
	return pi.start_time;
}

/* A process that has exited and was reaped: a stopped container's init. */
static pid_t dead_pid(void)
{
	pid_t p = fork();

	assert_true(p >= 0);
	if (p == 0)
		_exit(0);
	assert_int_equal(waitpid(p, NULL, 0), p);
	return p;
}

/* Add to the state an enabled container of domain whose process is pid
 * (start time 1 for a dead one). */
static void seed_pid(const char *id, const char *domain, pid_t pid, bool ksmd_managed)
{
	struct sp_state st = { 0 };
	struct sp_container c = { .id = (char *)id, .domain = (char *)domain, .pid = pid,
				  .start_time = pid == getpid() ? start_time_of(pid) : 1, .enabled = true,
				  .backend = "stock" };

	assert_int_equal(mkdir_p(state_dir, 0700, NULL), 0);
	assert_int_equal(sp_state_load(state_dir, &st, NULL), 0);
	assert_int_equal(sp_state_add(&st, &c, NULL), 0);
	if (ksmd_managed) {
		st.ksmd_managed = true;
		st.n_knobs = 1;
		snprintf(st.knobs[0].name, sizeof(st.knobs[0].name), "run");
		snprintf(st.knobs[0].saved, sizeof(st.knobs[0].saved), "0");
		snprintf(st.knobs[0].set, sizeof(st.knobs[0].set), "1");
	}
	assert_int_equal(sp_state_save(state_dir, &st, NULL), 0);
	sp_state_free(&st);
}

/* One enabled container whose process is us (so prune keeps it). */
static void seed(const char *id, const char *domain, bool ksmd_managed)
{
	seed_pid(id, domain, getpid(), ksmd_managed);
}

static void load(struct sp_state *st)
{
	assert_int_equal(sp_state_load(state_dir, st, NULL), 0);
}

static void expect_msg(sp_error_t err, const char *needle)
{
	if (!strstr(sp_error_msg(err), needle))
		fail_msg("message `%s` does not contain `%s`", sp_error_msg(err), needle);
}

static void test_bad_domain_is_refused_before_anything(void **unused)
{
	struct sp_workload w = { .scope = KSM_SCOPE_PROCESS, .pid = getpid(), .domain = "Team_A" };
	struct sp_admission a;
	sp_error_t err = NULL;
	struct stat sb;

	(void)unused;
	assert_int_equal(sp_admit(&paths, &w, &a, &err), -EINVAL);
	expect_msg(err, "invalid domain `Team_A`");
	assert_int_equal(stat(state_dir, &sb), -1); /* not even the state dir was made */
	sp_error_free(&err);
	sp_admission_free(&a);
}

/* The verb's refusal: -EPERM through every wrap, nothing recorded. */
static void test_policy_refusal_keeps_eperm(void **unused)
{
	struct sp_workload w = { .scope = KSM_SCOPE_PROCESS, .pid = getpid(), .domain = "local/team-b" };
	struct sp_admission a;
	struct sp_state st;
	sp_error_t err = NULL;

	(void)unused;
	seed("own", "local/team-a", false);
	assert_int_equal(sp_admit(&paths, &w, &a, &err), -EPERM);
	assert_true(a.refused);
	assert_int_equal(sp_error_wrap(&err, "pid:%d", (int)getpid()), -EPERM);
	expect_msg(err, "domain `local/team-b` refused: domain `local/team-a` owns KSM on this node (1 container,");
	sp_error_free(&err);
	sp_admission_free(&a);

	load(&st);
	assert_int_equal(st.n_containers, 1);
	assert_non_null(sp_state_find(&st, "own"));
	sp_state_free(&st);
}

/* A refused container is recorded with the reason, for `samepage status`. */
static void test_refused_container_is_recorded(void **unused)
{
	struct sp_workload w = { .scope = KSM_SCOPE_CONTAINER_INIT, .id = "c2", .pid = getpid(),
				 .runtime_pid = getppid(), .domain = "local/team-b" };
	struct sp_admission a;
	struct sp_container *c;
	struct sp_state st;
	sp_error_t err = NULL;

	(void)unused;
	seed("own", "local/team-a", false);
	assert_int_equal(sp_admit(&paths, &w, &a, &err), -EPERM);
	sp_error_free(&err);
	sp_admission_free(&a);

	load(&st);
	c = sp_state_find(&st, "c2");
	assert_non_null(c);
	assert_false(c->enabled);
	assert_string_equal(c->domain, "local/team-b");
	assert_int_equal(c->start_time, start_time_of(getpid()));
	assert_non_null(strstr(c->reason, "domain `local/team-b` refused"));
	sp_state_free(&st);
}

/* The backend confirms a container's init before touching it: a process
 * in our own pid namespace is not one.  The failure is recorded too. */
static void test_unconfirmed_init_is_not_touched(void **unused)
{
	struct sp_workload w = { .scope = KSM_SCOPE_CONTAINER_INIT, .id = "c3", .runtime_pid = getpid() };
	struct sp_admission a;
	struct sp_container *c;
	struct sp_state st;
	sp_error_t err = NULL;

	(void)unused;
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	w.pid = child;
	assert_int_equal(sp_admit(&paths, &w, &a, &err), -EPERM);
	expect_msg(err, "is in the hook's own pid namespace");
	sp_error_free(&err);
	sp_admission_free(&a);

	load(&st);
	c = sp_state_find(&st, "c3");
	assert_non_null(c);
	assert_false(c->enabled);
	assert_int_equal(c->start_time, start_time_of(child));
	assert_non_null(strstr(c->reason, "own pid namespace"));
	sp_state_free(&st);
}

/* createRuntime and prestart both run the hook on some runtimes. */
static void test_container_admitted_twice_is_left_alone(void **unused)
{
	struct sp_workload w = { .scope = KSM_SCOPE_CONTAINER_INIT, .id = "own", .pid = getpid(),
				 .runtime_pid = getppid(), .domain = "local/team-a" };
	struct sp_admission a;
	sp_error_t err = NULL;

	(void)unused;
	seed("own", "local/team-a", false);
	assert_int_equal(sp_admit(&paths, &w, &a, &err), 0);
	assert_true(a.again);
	sp_admission_free(&a);
}

/* Forgetting the last (stopped) container puts ksmd back. */
static void test_forget_last_container_releases_ksmd(void **unused)
{
	struct sp_workload w = { .scope = KSM_SCOPE_CONTAINER_INIT, .id = "own" };
	struct sp_admission a;
	struct sp_state st;
	sp_error_t err = NULL;

	(void)unused;
	seed_pid("own", "local/team-a", dead_pid(), true);
	knob("run", "1\n");
	assert_int_equal(sp_forget(&paths, &w, &a, &err), 0);
	sp_admission_free(&a);
	assert_knob("run", "0");
	load(&st);
	assert_int_equal(st.n_containers, 0);
	assert_false(st.ksmd_managed);
	sp_state_free(&st);
}

static int merge_any_of(pid_t pid)
{
	struct ksm_proc_stat s;

	assert_int_equal(ksm_proc_stat_read(pid, &s, NULL), 0);
	return s.merge_any;
}

/* A running pid: switched on by injection, recorded, ksmd taken; again
 * finds it on; forget switches it off and puts ksmd back. */
static void test_admit_and_forget_a_pid(void **unused)
{
	struct sp_workload w = { .scope = KSM_SCOPE_PROCESS };
	struct sp_admission a;
	struct sp_container *c;
	struct sp_state st;
	sp_error_t err = NULL;
	char id[32];

	(void)unused;
	if (geteuid() != 0)
		skip();
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		for (;;)
			pause();
	}
	w.pid = child;
	snprintf(id, sizeof(id), "pid:%d", (int)child);

	if (sp_admit(&paths, &w, &a, &err) < 0)
		fail_msg("admit: %s", sp_error_msg(err));
	assert_int_equal(a.sw.backend, KSM_BACKEND_STOCK);
	assert_int_equal(a.sw.changed, 1);
	assert_string_equal(a.domain, "local/default");
	assert_null(a.ksmd_warning);
	sp_admission_free(&a);
	assert_int_equal(merge_any_of(child), 1);
	assert_knob("run", "1");
	load(&st);
	c = sp_state_find(&st, id);
	assert_non_null(c);
	assert_true(c->enabled);
	assert_int_equal(c->pid, child);
	assert_int_equal(c->start_time, start_time_of(child));
	assert_string_equal(c->backend, "stock");
	assert_true(st.ksmd_managed);
	sp_state_free(&st);

	assert_int_equal(sp_admit(&paths, &w, &a, &err), 0);
	assert_int_equal(a.sw.changed, 0);
	assert_int_equal(a.sw.already, 1);
	sp_admission_free(&a);

	if (sp_forget(&paths, &w, &a, &err) < 0)
		fail_msg("forget: %s", sp_error_msg(err));
	assert_int_equal(a.sw.changed, 1);
	sp_admission_free(&a);
	assert_int_equal(merge_any_of(child), 0);
	assert_knob("run", "0");
	load(&st);
	assert_null(sp_state_find(&st, id));
	sp_state_free(&st);
}

/* Two containers with one id (two runtime roots): the poststop of the one
 * that stopped removes its own entry, not the live one's, and ksmd stays
 * taken for the live one. */
static void test_reused_id_keeps_the_live_entry(void **unused)
{
	struct sp_workload w = { .scope = KSM_SCOPE_CONTAINER_INIT, .id = "web" };
	struct sp_admission a;
	struct sp_state st;
	sp_error_t err = NULL;
	pid_t gone = dead_pid();

	(void)unused;
	seed_pid("web", "local/team-a", getpid(), true);
	seed_pid("web", "local/team-a", gone, false);
	knob("run", "1\n");
	load(&st);
	assert_int_equal(st.n_containers, 2);
	sp_state_free(&st);

	w.pid = gone;
	assert_int_equal(sp_forget(&paths, &w, &a, &err), 0);
	sp_admission_free(&a);
	load(&st);
	assert_int_equal(st.n_containers, 1);
	assert_non_null(sp_state_find_entry(&st, "web", getpid(), start_time_of(getpid())));
	assert_true(st.ksmd_managed);
	sp_state_free(&st);
	assert_knob("run", "1");

	/* a poststop without a pid (some runtimes) does the same */
	w.pid = 0;
	assert_int_equal(sp_forget(&paths, &w, &a, &err), 0);
	sp_admission_free(&a);
	load(&st);
	assert_int_equal(st.n_containers, 1);
	sp_state_free(&st);
}

/* Reusing the owner's id does not make a container of another domain the
 * owner: the policy judges it like any other. */
static void test_reused_id_is_judged_by_the_policy(void **unused)
{
	struct sp_workload w = { .scope = KSM_SCOPE_CONTAINER_INIT, .id = "web", .runtime_pid = getpid(),
				 .domain = "local/team-b" };
	struct sp_admission a;
	struct sp_state st;
	sp_error_t err = NULL;

	(void)unused;
	seed("web", "local/team-a", false);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	w.pid = child;
	assert_int_equal(sp_admit(&paths, &w, &a, &err), -EPERM);
	expect_msg(err, "domain `local/team-b` refused");
	assert_true(a.refused);
	sp_error_free(&err);
	sp_admission_free(&a);
	load(&st);
	assert_int_equal(st.n_containers, 2);
	assert_true(sp_state_find_entry(&st, "web", getpid(), start_time_of(getpid()))->enabled);
	assert_false(sp_state_find_entry(&st, "web", child, start_time_of(child))->enabled);
	sp_state_free(&st);
}

/* The state lock is taken with the config's deadline: a holder that never
 * lets go makes admit give up in time, with the lock file named. */
static void test_lock_is_taken_with_a_deadline(void **unused)
{
	struct sp_workload w = { .scope = KSM_SCOPE_PROCESS, .pid = getpid() };
	struct sp_admission a;
	struct timespec t0, t1;
	sp_error_t err = NULL;
	int lock, ret;
	long ms;

	(void)unused;
	write_text(config, "{\"lock_timeout_ms\": 200}\n");
	lock = sp_state_lock(state_dir, &err);
	assert_true(lock >= 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		/* another process: flock is per open file */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = sp_admit(&paths, &w, &a, &err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		_exit(ret == -ETIMEDOUT && ms >= 200 && ms < 1000 && strstr(sp_error_msg(err), "/lock` is held") ? 0 : 1);
	}
	int status;

	assert_int_equal(waitpid(child, &status, 0), child);
	child = -1;
	close(lock);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int fresh(void **unused)
{
	char cmd[400];

	(void)unused;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_dir);
	if (system(cmd) != 0)
		return -1;
	write_text(config, "{\"manage_ksmd\": true, \"advisor_mode\": \"none\"}\n");
	knob("run", "0\n");
	knob("advisor_mode", "[none] scan-time\n");
	knob("pages_to_scan", "100\n");
	return 0;
}

static int reap(void **unused)
{
	(void)unused;
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	child = -1;
	return 0;
}

static int setup(void **unused)
{
	char procdir[300];

	(void)unused;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(state_dir, sizeof(state_dir), "%s/state", tmpdir);
	snprintf(config, sizeof(config), "%s/samepage.conf", tmpdir);
	snprintf(ksm_dir, sizeof(ksm_dir), "%s/ksm", tmpdir);
	if (mkdir(ksm_dir, 0755) < 0)
		return -1;
	/* Never the real /sys/kernel/mm/ksm. */
	setenv("SAMEPAGE_KSM_SYSFS", ksm_dir, 1);
	/* The unattributed gate scans an empty /proc: processes of other
	 * tests on the machine must not decide these admissions
	 * (test-unattributed.c covers the gate). */
	snprintf(procdir, sizeof(procdir), "%s/proc", tmpdir);
	if (mkdir(procdir, 0755) < 0)
		return -1;
	setenv("SAMEPAGE_PROC_ROOT", procdir, 1);
	return 0;
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
		cmocka_unit_test_setup_teardown(test_bad_domain_is_refused_before_anything, fresh, reap),
		cmocka_unit_test_setup_teardown(test_policy_refusal_keeps_eperm, fresh, reap),
		cmocka_unit_test_setup_teardown(test_refused_container_is_recorded, fresh, reap),
		cmocka_unit_test_setup_teardown(test_unconfirmed_init_is_not_touched, fresh, reap),
		cmocka_unit_test_setup_teardown(test_container_admitted_twice_is_left_alone, fresh, reap),
		cmocka_unit_test_setup_teardown(test_forget_last_container_releases_ksmd, fresh, reap),
		cmocka_unit_test_setup_teardown(test_admit_and_forget_a_pid, fresh, reap),
		cmocka_unit_test_setup_teardown(test_reused_id_keeps_the_live_entry, fresh, reap),
		cmocka_unit_test_setup_teardown(test_reused_id_is_judged_by_the_policy, fresh, reap),
		cmocka_unit_test_setup_teardown(test_lock_is_taken_with_a_deadline, fresh, reap),
	};

	return cmocka_run_group_tests_name("admit", tests, setup, teardown);
}
