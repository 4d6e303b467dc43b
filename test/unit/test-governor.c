/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The governor's decisions (node/governor.c, the pure state machine) fed
 * with synthetic ksmd sequences.  Its actuator and the knobs it puts back
 * are tested in test-ksmd.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "node/config.h"
#include "base/fileio.h"
#include "node/governor.h"
#include "node/state.h"

static void default_params(struct gov_params *p)
{
	struct sp_config cfg;

	sp_config_defaults(&cfg);
	gov_params_from_config(p, &cfg.governor);
	/* The figures below assume this boost, whatever the default is. */
	p->boost_pages = 4000;
	p->boost_sleep_ms = 10;
}

static struct gov_sample sample(double t, double cpu, uint64_t merged, uint64_t unshared, uint64_t scans)
{
	struct gov_sample s = {
		.t = t, .cpu = cpu, .pages_shared = merged / 8, .pages_sharing = merged - merged / 8,
		.pages_unshared = unshared, .pages_volatile = 0, .full_scans = scans,
	};
	return s;
}

static void test_idle_at_start(void **state)
{
	struct gov_params p;
	struct gov g;
	struct gov_knobs k;

	(void)state;
	default_params(&p);
	gov_init(&g, &p);
	gov_knobs(&g, &k);
	assert_int_equal(k.pages_to_scan, 100);
	assert_int_equal(k.sleep_ms, 200);
	assert_false(k.smart_scan_off);
	assert_int_equal(g.mode, GOV_IDLE);
	assert_int_equal(gov_next_sample_ms(&g), 5000);
}

static void test_event_boosts(void **state)
{
	struct gov_params p;
	struct gov g;
	struct gov_knobs k;
	struct gov_sample s = sample(100, 50, 0, 0, 7);

	(void)state;
	default_params(&p);
	gov_init(&g, &p);
	gov_feed(&g, &s, &k);
	gov_event(&g, 100.1, &k);
	assert_int_equal(g.mode, GOV_BOOST);
	assert_int_equal(k.pages_to_scan, 4000);
	assert_int_equal(k.sleep_ms, 10);
	assert_true(k.smart_scan_off);
	assert_int_equal(gov_next_sample_ms(&g), 250);
}

/* Merging progresses for 3 s, then stops: the governor decays after two
 * more full scans, not earlier. */
static void test_decay_after_no_progress(void **state)
{
	struct gov_params p;
	struct gov g;
	struct gov_knobs k;
	uint64_t merged = 0, scans = 0;
	double t, cpu = 0, decayed_at = -1;
	int i;

	(void)state;
	default_params(&p);
	gov_init(&g, &p);
	gov_event(&g, 0, &k);
	for (i = 1; i <= 40; i++) {
		struct gov_sample s;

		t = i * 0.25;
		cpu += 0.05; /* 20 % of a core: within the budget */
		if (t <= 3)
			merged += 1000;
		if (i % 2 == 0)
			scans++;
		s = sample(t, cpu, merged, 5000, scans);
		gov_feed(&g, &s, &k);
		if (g.mode == GOV_IDLE && decayed_at < 0)
			decayed_at = t;
		if (t <= 3)
			assert_int_equal(g.mode, GOV_BOOST);
	}
	/* Last progress at t = 3 (scans = 6): idle once scans reach 8, at t = 4. */
	assert_true(decayed_at > 3.9 && decayed_at < 4.1);
	assert_int_equal(k.pages_to_scan, 100);
	assert_int_equal(k.sleep_ms, 200);
	assert_int_equal(gov_next_sample_ms(&g), 5000);
}

/* Under smart_scan a page that did not merge is looked at only every few
 * scans, so the partner of an older container's page may be found late:
 * decay waits nine full scans without progress. */
static void test_smart_scan_settles_later(void **state)
{
	struct gov_params p;
	struct gov g;
	struct gov_knobs k;
	double decayed_at = -1;
	int i;

	(void)state;
	default_params(&p);
	gov_init(&g, &p);
	gov_event(&g, 0, &k);
	for (i = 1; i <= 40; i++) {
		/* One full scan per sample, merged pages flat from the start. */
		struct gov_sample s = sample(i * 0.25, i * 0.01, 2000, 5000, i);

		s.smart_scan = true;
		gov_feed(&g, &s, &k);
		if (g.mode == GOV_IDLE && decayed_at < 0)
			decayed_at = i * 0.25;
	}
	/* Baseline at scans = 1 (t = 0.25), idle at scans = 10 (t = 2.5). */
	assert_true(decayed_at > 2.4 && decayed_at < 2.6);
}

/* The hook fires before the entrypoint runs: tiny memory, scans complete
 * quickly, but the boost lasts at least 2 s. */
static void test_minimum_boost(void **state)
{
	struct gov_params p;
	struct gov g;
	struct gov_knobs k;
	int i;

	(void)state;
	default_params(&p);
	gov_init(&g, &p);
	gov_event(&g, 0, &k);
	for (i = 1; i <= 12; i++) {
		struct gov_sample s = sample(i * 0.25, i * 0.01, 0, 50, i * 10);

		gov_feed(&g, &s, &k);
		if (i * 0.25 < 2.0)
			assert_int_equal(g.mode, GOV_BOOST);
	}
	assert_int_equal(g.mode, GOV_IDLE);
}

/* Memory still arriving (more pages tracked) counts as progress. */
static void test_memory_arriving_keeps_boost(void **state)
{
	struct gov_params p;
	struct gov g;
	struct gov_knobs k;
	int i;

	(void)state;
	default_params(&p);
	gov_init(&g, &p);
	gov_event(&g, 0, &k);
	for (i = 1; i <= 40; i++) {
		struct gov_sample s = sample(i * 0.25, i * 0.02, 0, 1000 * i, i * 3);

		gov_feed(&g, &s, &k);
		assert_int_equal(g.mode, GOV_BOOST);
	}
}

/* Nothing for ksmd to scan (no merge-any process has memory yet, so
 * full_scans does not even advance): back to idle after empty_secs. */
static void test_nothing_to_scan_decays(void **state)
{
	struct gov_params p;
	struct gov g;
	struct gov_knobs k;
	int i;

	(void)state;
	default_params(&p);
	gov_init(&g, &p);
	gov_event(&g, 0, &k);
	for (i = 1; i <= 16; i++) {
		struct gov_sample s = sample(i * 0.25, 0, 0, 0, 0);

		gov_feed(&g, &s, &k);
		if (i * 0.25 < 3.25)
			assert_int_equal(g.mode, GOV_BOOST);
	}
	assert_int_equal(g.mode, GOV_IDLE);
}

/* Progress that never settles (a scan never completes) still ends after
 * max_stall_secs without new merges. */
static void test_stall_decays(void **state)
{
	struct gov_params p;
	struct gov g;
	struct gov_knobs k;
	int i;

	(void)state;
	default_params(&p);
	p.max_stall_secs = 10;
	gov_init(&g, &p);
	gov_event(&g, 0, &k);
	for (i = 1; i <= 60; i++) {
		struct gov_sample s = sample(i * 0.25, i * 0.01, 500, 9000, 1);

		gov_feed(&g, &s, &k);
		if (i * 0.25 < 10)
			assert_int_equal(g.mode, GOV_BOOST);
	}
	assert_int_equal(g.mode, GOV_IDLE);
}

/* A simulated ksmd whose CPU use is proportional to its scan rate, up to a
 * whole core at 100000 pages/s; merging keeps progressing for 120 s so the
 * governor stays in boost.  The budget must hold over every window, the
 * first burst must run at full speed, and the throttled rate must not
 * starve ksmd. */
static void budget_throttles(bool with_scanned)
{
	enum { N = 480 };
	struct gov_params p;
	struct gov g;
	struct gov_knobs k;
	double cum[N + 1], t[N + 1];
	double cpu = 0, worst = 0, late = 0, scanned = 0;
	bool throttled = false;
	struct gov_sample s;
	int i, j;

	default_params(&p);
	gov_init(&g, &p);
	s = sample(0, 0, 0, 100000, 0);
	s.has_pages_scanned = with_scanned;
	gov_feed(&g, &s, &k);
	gov_event(&g, 0, &k);
	cum[0] = 0;
	t[0] = 0;
	for (i = 1; i <= N; i++) {
		double pps = k.pages_to_scan * 1000.0 / k.sleep_ms;
		double rate = pps / 100000.0 > 1 ? 1 : pps / 100000.0;

		scanned += rate * 100000 * 0.25;
		cpu += rate * 0.25;
		t[i] = i * 0.25;
		cum[i] = cpu;
		if (t[i] <= 2.0)
			assert_int_equal(k.pages_to_scan, 4000); /* burst allowance */
		s = sample(t[i], cpu, 1000 * i, 100000, i / 20);
		s.pages_scanned = (uint64_t)scanned;
		s.has_pages_scanned = with_scanned;
		gov_feed(&g, &s, &k);
		assert_int_equal(g.mode, GOV_BOOST);
		throttled |= g.throttled;
	}
	assert_true(throttled);
	/* Every 10 s window (40 samples). */
	for (i = 40; i <= N; i++) {
		double used = cum[i] - cum[i - 40];

		if (used > worst)
			worst = used;
	}
	/* The budget is 2.5 CPU-s per window; one sampling period of lag at
	 * most 0.25 CPU-s. */
	print_message("worst window: %.3f CPU-s\n", worst);
	assert_true(worst <= 2.5 + 0.25);
	/* Not starved: over the last minute ksmd got most of its budget. */
	for (j = N - 240; j < N; j++)
		late += cum[j + 1] - cum[j];
	print_message("last 60 s: %.3f CPU-s (budget 15)\n", late);
	assert_true(late >= 0.6 * 15);
	assert_true(late <= 15 * 1.1);
}

static void test_budget_throttles(void **state)
{
	(void)state;
	budget_throttles(true);
}

/* Kernels before 6.7 have no pages_scanned counter. */
static void test_budget_throttles_without_pages_scanned(void **state)
{
	(void)state;
	budget_throttles(false);
}

/* Idle, memory becomes mergeable without an event: boost again. */
static void test_reboost_from_idle(void **state)
{
	struct gov_params p;
	struct gov g;
	struct gov_knobs k;
	struct gov_sample s;

	(void)state;
	default_params(&p);
	gov_init(&g, &p);
	s = sample(0, 1, 10000, 500, 10);
	gov_feed(&g, &s, &k);
	s = sample(5, 1.01, 10000, 600, 11);
	assert_false(gov_feed(&g, &s, &k));
	assert_int_equal(g.mode, GOV_IDLE);
	s = sample(10, 1.02, 10000, 8000, 12);
	assert_true(gov_feed(&g, &s, &k));
	assert_int_equal(g.mode, GOV_BOOST);
	assert_int_equal(k.pages_to_scan, 4000);
}

/* An event while the window is already spent does not grant a burst. */
static void test_event_respects_spent_budget(void **state)
{
	struct gov_params p;
	struct gov g;
	struct gov_knobs k;
	struct gov_sample s;
	int i;

	(void)state;
	default_params(&p);
	gov_init(&g, &p);
	/* ksmd ran at a full core for 10 s (someone else's boost). */
	for (i = 0; i <= 40; i++) {
		s = sample(i * 0.25, i * 0.25, 0, 0, 0);
		gov_feed(&g, &s, &k);
	}
	gov_event(&g, 10.1, &k);
	assert_int_equal(g.mode, GOV_BOOST);
	assert_true(k.pages_to_scan < 4000 || k.sleep_ms > 10);
}

/* The daemon resets the machine with its own parameters. */
static void test_reset_keeps_params(void **state)
{
	struct gov_params p;
	struct gov g;
	struct gov_knobs k;

	(void)state;
	default_params(&p);
	gov_init(&g, &p);
	gov_event(&g, 0, &k);
	gov_init(&g, &g.p);
	assert_int_equal(g.mode, GOV_IDLE);
	assert_true(g.p.window_secs == p.window_secs);
	gov_event(&g, 1, &k);
	assert_int_equal(k.pages_to_scan, 4000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idle_at_start),
		cmocka_unit_test(test_event_boosts),
		cmocka_unit_test(test_decay_after_no_progress),
		cmocka_unit_test(test_minimum_boost),
		cmocka_unit_test(test_smart_scan_settles_later),
		cmocka_unit_test(test_memory_arriving_keeps_boost),
		cmocka_unit_test(test_nothing_to_scan_decays),
		cmocka_unit_test(test_stall_decays),
		cmocka_unit_test(test_budget_throttles),
		cmocka_unit_test(test_budget_throttles_without_pages_scanned),
		cmocka_unit_test(test_reboost_from_idle),
		cmocka_unit_test(test_event_respects_spent_budget),
		cmocka_unit_test(test_reset_keeps_params),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
