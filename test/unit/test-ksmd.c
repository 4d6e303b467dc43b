/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * node/ksmd (which knobs samepage took, what the governor tuned, the order
 * they go back in, someone else's changes) against a fake
 * /sys/kernel/mm/ksm (SAMEPAGE_KSM_SYSFS), and node/ksmd-gov's look at
 * the real ksmd.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "host/ksm.h"
#include "host/proc.h"
#include "node/config.h"
#include "node/ksmd.h"
#include "node/ksmd-gov.h"
#include "node/state.h"

static char sysfs[] = "/tmp/sp-test-ksmd.XXXXXX";

static void knob(const char *name, const char *value)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", sysfs, name);
	assert_int_equal(write_file_atomic(path, value, strlen(value), 0644, NULL), 0);
}

static void assert_knob(const char *name, const char *want)
{
	_cleanup_free_ char *v = NULL;

	assert_int_equal(ksm_knob_read(name, &v, NULL), 0);
	assert_string_equal(v, want);
}

static const struct sp_knob_change *record(const struct sp_state *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->n_knobs; i++)
		if (strcmp(st->knobs[i].name, name) == 0)
			return &st->knobs[i];
	return NULL;
}

static void add_record(struct sp_state *st, const char *name, const char *saved, const char *set)
{
	struct sp_knob_change *k = &st->knobs[st->n_knobs++];

	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(k->saved, sizeof(k->saved), "%s", saved);
	snprintf(k->set, sizeof(k->set), "%s", set);
}

/* A stopped ksmd with the advisor off, as samepage finds it. */
static int fake_setup(void **unused)
{
	(void)unused;
	strcpy(sysfs, "/tmp/sp-test-ksmd.XXXXXX");
	assert_non_null(mkdtemp(sysfs));
	setenv("SAMEPAGE_KSM_SYSFS", sysfs, 1);
	knob("run", "0\n");
	knob("advisor_mode", "[none] scan-time\n");
	knob("pages_to_scan", "100\n");
	knob("sleep_millisecs", "20\n");
	knob("smart_scan", "1\n");
	return 0;
}

static int fake_teardown(void **unused)
{
	char cmd[300];

	(void)unused;
	unsetenv("SAMEPAGE_KSM_SYSFS");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sysfs);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ksmd as the hook leaves it: it turned run and the advisor on. */
static void hook_took(struct sp_state *st)
{
	memset(st, 0, sizeof(*st));
	st->ksmd_managed = true;
	add_record(st, "pages_to_scan", "100", KSMD_SET_BY_ADVISOR);
	add_record(st, "advisor_mode", "none", "scan-time");
	add_record(st, "run", "0", "1");
	knob("run", "1\n");
	knob("advisor_mode", "none [scan-time]\n");
	knob("pages_to_scan", "500\n");
}

/* The config a governor adopts the records with (smart_scan: off). */
static const struct sp_config *adopt_cfg(const char *advisor_mode)
{
	static struct sp_config cfg;

	sp_config_defaults(&cfg);
	snprintf(cfg.advisor_mode, sizeof(cfg.advisor_mode), "%s", advisor_mode);
	return &cfg;
}

/* The order of the writes to the fake sysfs directory, space-separated. */
static int watch_writes(void)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	assert_true(fd >= 0);
	assert_true(inotify_add_watch(fd, sysfs, IN_CLOSE_WRITE) >= 0);
	return fd;
}

static void assert_writes(int fd, const char *want)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	char got[512] = "";
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n; p += sizeof(struct inotify_event) + ((struct inotify_event *)p)->len) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->len)
				snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", got[0] ? " " : "",
					 ev->name);
		}
	close(fd);
	assert_string_equal(got, want);
}

/* Write-ahead (a hook killed between the knob writes and its save must
 * leave a record): at commit time every knob change is recorded and
 * none is written yet. */
static int commit_sees_nothing_written(struct sp_state *st, void *arg, sp_error_t *err)
{
	int *calls = arg;

	(void)err;
	(*calls)++;
	assert_true(st->ksmd_managed);
	assert_string_equal(ksmd_saved(st, "run"), "0");
	assert_string_equal(ksmd_saved(st, "smart_scan"), "1");
	assert_knob("run", "0");
	assert_knob("smart_scan", "1");
	return 0;
}

static int commit_fails(struct sp_state *st, void *arg, sp_error_t *err)
{
	(void)st;
	(void)arg;
	return sp_error_set(err, ENOSPC, "state dir full");
}

static void test_take_write_ahead(void **unused)
{
	struct sp_state st = { 0 };
	struct sp_config cfg;
	sp_error_t err = NULL;
	int calls = 0;

	(void)unused;
	sp_config_defaults(&cfg);
	knob("smart_scan", "1");
	/* a failed commit writes nothing and records nothing */
	assert_true(ksmd_take_logged(&st, &cfg, commit_fails, NULL, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "state dir full"));
	sp_error_free(&err);
	assert_false(st.ksmd_managed);
	assert_int_equal(st.n_knobs, 0);
	assert_knob("run", "0");
	assert_int_equal(ksmd_take_logged(&st, &cfg, commit_sees_nothing_written, &calls, &err), 1);
	assert_int_equal(calls, 1);
	assert_knob("run", "1");
	assert_knob("smart_scan", "0");
	/* the records written ahead still say what was there before */
	assert_string_equal(ksmd_saved(&st, "run"), "0");
	assert_true(ksmd_release(&st, &err) >= 1);
	assert_knob("run", "0");
	assert_knob("smart_scan", "1");
}

static void test_take_release(void **unused)
{
	struct sp_state st = { 0 };
	struct sp_config cfg;
	sp_error_t err = NULL;

	(void)unused;
	sp_config_defaults(&cfg);
	assert_int_equal(ksmd_take(&st, &cfg, &err), 1);
	assert_true(st.ksmd_managed);
	assert_knob("run", "1");
	assert_knob("advisor_mode", "scan-time");
	assert_knob("smart_scan", "0");
	/* taking again changes nothing */
	assert_int_equal(ksmd_take(&st, &cfg, &err), 0);
	/* the advisor sizes pages_to_scan; it goes back with the advisor */
	knob("pages_to_scan", "2500");
	assert_int_equal(ksmd_release(&st, &err), 4);
	assert_knob("pages_to_scan", "100");
	assert_false(st.ksmd_managed);
	assert_knob("run", "0");
	assert_knob("advisor_mode", "none");
	assert_knob("smart_scan", "1");
	assert_int_equal(st.n_knobs, 0);
	sp_error_free(&err);
}

static void test_someone_elses(void **unused)
{
	struct sp_state st = { 0 };
	struct sp_config cfg;
	sp_error_t err = NULL;

	(void)unused;
	sp_config_defaults(&cfg);
	/* ksmd already running: not ours, nothing changes */
	knob("run", "1\n");
	assert_int_equal(ksmd_take(&st, &cfg, &err), 0);
	assert_false(st.ksmd_managed);
	assert_knob("advisor_mode", "none");

	/* config forbids it */
	knob("run", "0\n");
	cfg.manage_ksmd = false;
	assert_int_equal(ksmd_take(&st, &cfg, &err), 0);
	assert_knob("run", "0");

	/* someone changes a knob after samepage: theirs is kept, and the
	 * advisor's pages_to_scan stays with their advisor */
	cfg.manage_ksmd = true;
	assert_int_equal(ksmd_take(&st, &cfg, &err), 1);
	knob("advisor_mode", "none scan-time [other]\n");
	knob("pages_to_scan", "700\n");
	knob("smart_scan", "1\n");
	assert_int_equal(ksmd_release(&st, &err), 1);
	assert_knob("smart_scan", "1");
	assert_knob("run", "0");
	assert_knob("advisor_mode", "other");
	assert_knob("pages_to_scan", "700");

	/* advisor_mode none and smart_scan keep: only run is touched */
	knob("advisor_mode", "[none] scan-time\n");
	strcpy(cfg.advisor_mode, "none");
	cfg.smart_scan_off = false;
	memset(&st, 0, sizeof(st));
	assert_int_equal(ksmd_take(&st, &cfg, &err), 1);
	assert_int_equal(st.n_knobs, 1);
	assert_string_equal(st.knobs[0].name, "run");
	assert_int_equal(ksmd_release(&st, &err), 1);
	sp_error_free(&err);
}

static void test_set_knob_keeps_first_saved(void **unused)
{
	struct sp_state st = { 0 };

	(void)unused;
	assert_int_equal(ksmd_set_knob(&st, "pages_to_scan", "4000", NULL), 0);
	assert_int_equal(ksmd_set_knob(&st, "pages_to_scan", "500", NULL), 0);
	assert_int_equal(st.n_knobs, 1);
	assert_string_equal(st.knobs[0].saved, "100");
	assert_string_equal(st.knobs[0].set, "500");
	assert_int_equal(ksmd_release(&st, NULL), 1);
	assert_knob("pages_to_scan", "100");
}

/* config smart_scan: off (the default) switches smart scan off before
 * run, and release puts it back; keep, or a kernel without the knob,
 * leaves it; the governor settles with the value before samepage and,
 * stopped, puts back the hook's off. */
static void test_smart_scan_off(void **unused)
{
	struct ksmd_undo u = { 0 };
	struct sp_state st = { 0 };
	struct sp_config cfg;
	sp_error_t err = NULL;
	char path[300];
	int fd;

	(void)unused;
	sp_config_defaults(&cfg);
	assert_true(cfg.smart_scan_off);
	fd = watch_writes();
	assert_int_equal(ksmd_take(&st, &cfg, &err), 1);
	assert_writes(fd, "advisor_mode smart_scan run");
	assert_string_equal(ksmd_saved(&st, "smart_scan"), "1");
	assert_null(ksmd_saved(&st, "sleep_millisecs"));

	/* The governor adopts the hook's records, settles with smart scan
	 * on, and stopped puts back the hook's off; release then puts 1. */
	ksmd_undo_adopt(&u, &st, &cfg);
	assert_int_equal(ksmd_undo_set(&u, &st, "smart_scan", "1", &err), 0);
	assert_null(ksmd_undo_changed(&u));
	assert_int_equal(ksmd_undo_restore(&u, &st, &err), 1);
	assert_knob("smart_scan", "0");
	assert_string_equal(ksmd_saved(&st, "smart_scan"), "1");
	fd = watch_writes();
	assert_int_equal(ksmd_release(&st, &err), 3);
	assert_writes(fd, "advisor_mode smart_scan run");
	assert_knob("smart_scan", "1");

	/* keep: not touched */
	cfg.smart_scan_off = false;
	assert_int_equal(ksmd_take(&st, &cfg, &err), 1);
	assert_knob("smart_scan", "1");
	assert_null(ksmd_saved(&st, "smart_scan"));
	assert_int_equal(ksmd_release(&st, &err), 2);

	/* a kernel before 6.7 has no smart_scan: ksmd still goes on */
	cfg.smart_scan_off = true;
	snprintf(path, sizeof(path), "%s/smart_scan", sysfs);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ksmd_take(&st, &cfg, &err), 1);
	assert_knob("run", "1");
	assert_null(ksmd_saved(&st, "smart_scan"));
	assert_int_equal(ksmd_release(&st, &err), 2);
	sp_error_free(&err);
}

/* Whatever order the records were made in, they go back in ksmd.h's:
 * the advisor off first, the scan rate, run; an advisor that goes back
 * on comes last and keeps pages_to_scan. */
static void test_release_order(void **unused)
{
	struct sp_state st = { 0 };
	sp_error_t err = NULL;
	int fd;

	(void)unused;
	/* The hook took ksmd, the governor tuned it and died. */
	hook_took(&st);
	add_record(&st, "smart_scan", "1", "0");
	add_record(&st, "sleep_millisecs", "20", "10");
	strcpy(st.knobs[0].set, "3001");
	strcpy(st.knobs[1].set, "none");
	knob("advisor_mode", "[none] scan-time\n");
	knob("pages_to_scan", "3001\n");
	knob("sleep_millisecs", "10\n");
	knob("smart_scan", "0\n");
	fd = watch_writes();
	assert_int_equal(ksmd_release(&st, &err), 4);
	assert_writes(fd, "pages_to_scan sleep_millisecs smart_scan run");

	/* (the fake does not reset pages_to_scan with the advisor as the
	 * kernel does: it still holds the advisor's value, put back too) */
	hook_took(&st);
	fd = watch_writes();
	assert_int_equal(ksmd_release(&st, &err), 3);
	assert_writes(fd, "advisor_mode pages_to_scan run");

	/* The governor (governor.manage) switched someone's advisor off:
	 * their advisor comes back last, after pages_to_scan. */
	memset(&st, 0, sizeof(st));
	add_record(&st, "advisor_mode", "scan-time", "none");
	add_record(&st, "pages_to_scan", "500", "51");
	knob("advisor_mode", "[none] scan-time\n");
	knob("pages_to_scan", "51\n");
	fd = watch_writes();
	assert_int_equal(ksmd_release(&st, &err), 2);
	assert_writes(fd, "pages_to_scan advisor_mode");
	assert_knob("advisor_mode", "scan-time");
	sp_error_free(&err);
}

/* The governor switches the advisor off, boosts, decays; stopped, it
 * leaves ksmd as the hook left it and the records as the hook made them. */
static void test_undo_restores_hook_setting(void **unused)
{
	struct ksmd_undo u = { 0 };
	struct sp_state st;
	sp_error_t err = NULL;
	int fd;

	(void)unused;
	hook_took(&st);
	ksmd_undo_adopt(&u, &st, adopt_cfg("scan-time"));
	assert_int_equal(ksmd_undo_set(&u, &st, "advisor_mode", "none", &err), 0);
	knob("pages_to_scan", "100\n"); /* what the kernel does when the advisor goes off */
	assert_int_equal(ksmd_undo_set(&u, &st, "sleep_millisecs", "10", &err), 0);
	assert_int_equal(ksmd_undo_set(&u, &st, "pages_to_scan", "4000", &err), 0);
	assert_int_equal(ksmd_undo_set(&u, &st, "smart_scan", "0", &err), 0);
	assert_int_equal(ksmd_undo_set(&u, &st, "pages_to_scan", "100", &err), 0);
	assert_int_equal(ksmd_undo_set(&u, &st, "sleep_millisecs", "200", &err), 0);
	assert_int_equal(ksmd_undo_set(&u, &st, "smart_scan", "1", &err), 0);
	assert_null(ksmd_undo_changed(&u));
	assert_int_equal(st.n_knobs, 5);
	assert_string_equal(record(&st, "advisor_mode")->set, "none");
	assert_string_equal(record(&st, "sleep_millisecs")->saved, "20");
	assert_string_equal(record(&st, "pages_to_scan")->saved, "100");
	assert_int_equal(u.n, 4);

	/* pages_to_scan and smart_scan already hold their values: 2 writes,
	 * the advisor last. */
	fd = watch_writes();
	assert_int_equal(ksmd_undo_restore(&u, &st, &err), 2);
	assert_writes(fd, "sleep_millisecs advisor_mode");
	assert_knob("sleep_millisecs", "20");
	assert_knob("advisor_mode", "scan-time");
	assert_int_equal(u.n, 0);
	assert_int_equal(st.n_knobs, 3);
	assert_string_equal(record(&st, "advisor_mode")->set, "scan-time");
	assert_string_equal(record(&st, "pages_to_scan")->set, KSMD_SET_BY_ADVISOR);
	assert_null(record(&st, "sleep_millisecs"));
	assert_null(record(&st, "smart_scan"));

	/* And the hook's last poststop then restores the original ksmd. */
	knob("pages_to_scan", "500\n");
	assert_int_equal(ksmd_release(&st, &err), 3);
	assert_knob("pages_to_scan", "100");
	assert_knob("run", "0");
	assert_knob("advisor_mode", "none");
	sp_error_free(&err);
}

/* The governor died without restoring: the hook's release still puts
 * every knob back from the records the governor made. */
static void test_release_after_governor_crash(void **unused)
{
	struct ksmd_undo u = { 0 };
	struct sp_state st;
	sp_error_t err = NULL;

	(void)unused;
	hook_took(&st);
	assert_int_equal(ksmd_undo_set(&u, &st, "advisor_mode", "none", &err), 0);
	knob("pages_to_scan", "100\n");
	assert_int_equal(ksmd_undo_set(&u, &st, "sleep_millisecs", "10", &err), 0);
	assert_int_equal(ksmd_undo_set(&u, &st, "pages_to_scan", "4000", &err), 0);
	/* no ksmd_undo_restore: crash */
	assert_int_equal(ksmd_release(&st, &err), 3);
	assert_knob("run", "0");
	assert_knob("pages_to_scan", "100");
	assert_knob("sleep_millisecs", "20");
	assert_knob("advisor_mode", "none");
	assert_int_equal(st.n_knobs, 0);
	sp_error_free(&err);
}

/* A knob someone else changed while the governor ran stays theirs. */
static void test_undo_leaves_foreign_change(void **unused)
{
	struct ksmd_undo u = { 0 };
	struct sp_state st;
	sp_error_t err = NULL;

	(void)unused;
	memset(&st, 0, sizeof(st));
	st.ksmd_managed = true;
	add_record(&st, "run", "0", "1");
	knob("run", "1\n");
	assert_int_equal(ksmd_undo_set(&u, &st, "sleep_millisecs", "10", &err), 0);
	assert_int_equal(ksmd_undo_set(&u, &st, "pages_to_scan", "4000", &err), 0);
	knob("sleep_millisecs", "50\n"); /* the operator */
	assert_string_equal(ksmd_undo_changed(&u), "sleep_millisecs");
	assert_int_equal(ksmd_undo_restore(&u, &st, &err), 1);
	assert_knob("sleep_millisecs", "50");
	assert_knob("pages_to_scan", "100");
	assert_null(record(&st, "pages_to_scan"));
	/* The stale record cannot make the hook touch the operator's value. */
	assert_int_equal(ksmd_release(&st, &err), 1); /* run only */
	assert_knob("sleep_millisecs", "50");
	sp_error_free(&err);
}

/* A restarted governor adopts what its previous run recorded, and its
 * restore still ends where the hook left ksmd. */
static void test_adopt_records(void **unused)
{
	struct ksmd_undo u = { 0 };
	struct sp_state st;
	sp_error_t err = NULL;

	(void)unused;
	hook_took(&st);
	strcpy(st.knobs[0].set, "4000");
	strcpy(st.knobs[1].set, "none");
	add_record(&st, "sleep_millisecs", "20", "10");
	knob("advisor_mode", "[none] scan-time\n");
	knob("pages_to_scan", "4000\n");
	knob("sleep_millisecs", "10\n");
	ksmd_undo_adopt(&u, &st, adopt_cfg("scan-time"));
	assert_int_equal(u.n, 3);
	assert_null(ksmd_undo_changed(&u));
	assert_int_equal(ksmd_undo_restore(&u, &st, &err), 3);
	assert_knob("pages_to_scan", "100");
	assert_knob("sleep_millisecs", "20");
	assert_knob("advisor_mode", "scan-time");
	assert_int_equal(st.n_knobs, 3);
	assert_string_equal(record(&st, "pages_to_scan")->set, KSMD_SET_BY_ADVISOR);
	assert_string_equal(record(&st, "advisor_mode")->set, "scan-time");

	/* A governor record under advisor_mode none in the config: dropped. */
	memset(&st, 0, sizeof(st));
	add_record(&st, "pages_to_scan", "100", "51");
	knob("advisor_mode", "[none] scan-time\n");
	knob("pages_to_scan", "51\n");
	ksmd_undo_adopt(&u, &st, adopt_cfg("none"));
	assert_int_equal(ksmd_undo_restore(&u, &st, &err), 1);
	assert_int_equal(st.n_knobs, 0);
	sp_error_free(&err);
}

/* test/ksm-knobs.bash, the shell's save/restore: every knob samepage may
 * change, first and in samepage's order, advisor_mode last. */
static void test_shell_list_matches(void **unused)
{
	char path[512];
	const char *here = __FILE__, *tail = strstr(here, "test/unit/test-ksmd.c");
	_cleanup_free_ char *text = NULL;
	char *line, *save = NULL, *tok;
	size_t i = 0, n_shell = 0, n_c = 0;
	const char *last = NULL;

	(void)unused;
	assert_non_null(tail);
	snprintf(path, sizeof(path), "%.*stest/ksm-knobs.bash", (int)(tail - here), here);
	assert_int_equal(read_file_bounded(AT_FDCWD, path, 1 << 16, &text, NULL, NULL), 0);
	line = strstr(text, "\nKSM_KNOBS=\"");
	assert_non_null(line);
	line += strlen("\nKSM_KNOBS=\"");
	*strchr(line, '"') = '\0';
	while (ksmd_knobs[n_c])
		n_c++;
	for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save), n_shell++) {
		if (i + 1 < n_c) {
			assert_string_equal(tok, ksmd_knobs[i]);
			i++;
		}
		last = tok;
	}
	assert_int_equal(i, n_c - 1);
	assert_string_equal(ksmd_knobs[n_c - 1], "advisor_mode");
	assert_string_equal(last, "advisor_mode");
	assert_true(n_shell > n_c);
}

static void test_find_ksmd(void **unused)
{
	sp_error_t err = NULL;
	double secs = -1;
	int pid;

	(void)unused;
	if (access("/sys/kernel/mm/ksm/run", F_OK) != 0)
		skip();
	pid = ksmd_find_pid(&err);
	assert_true(pid > 2);
	assert_int_equal(ksmd_cpu_seconds(pid, &secs, &err), 0);
	assert_true(secs >= 0);
	sp_error_free(&err);
}

/* ksmd's CPU time: utime and stime, fields 14 and 15 of its stat line. */
static void test_stat_cpu_fields(void **unused)
{
	struct proc_info pi;

	(void)unused;
	assert_int_equal(proc_info_parse("37 (ksmd) S 2 0 0 0 -1 2129984 0 0 0 0 150 2350 0 0 25 5 1 0 12 0 0 "
					 "18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 1 0 0 0 0 0",
					 &pi),
			 0);
	assert_int_equal(pi.utime, 150);
	assert_int_equal(pi.stime, 2350);
	assert_int_equal(pi.ppid, 2);
	assert_string_equal(pi.comm, "ksmd");
	assert_int_equal(proc_info_parse("1 (a) b) S 2 0 0 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 99", &pi), 0);
	assert_int_equal(pi.utime + pi.stime, 10);
	assert_int_equal(proc_info_parse("1 (x) S 2", &pi), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_take_release, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_take_write_ahead, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_someone_elses, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_set_knob_keeps_first_saved, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_smart_scan_off, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_release_order, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_undo_restores_hook_setting, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_release_after_governor_crash, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_undo_leaves_foreign_change, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_adopt_records, fake_setup, fake_teardown),
		cmocka_unit_test(test_shell_list_matches),
		cmocka_unit_test(test_find_ksmd),
		cmocka_unit_test(test_stat_cpu_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
