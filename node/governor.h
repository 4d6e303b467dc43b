/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ksmd governor's decisions, as a pure state machine: it is fed samples
 * of ksmd's counters and CPU time and "a KSM container started" events, and
 * answers with the scan rate (pages_to_scan, sleep_millisecs) ksmd should
 * run at and when it wants the next sample.  It reads no files and keeps no
 * clock of its own, so tests feed it recorded sequences.
 *
 *   idle   ksmd crawls at the idle rate (default 100 pages / 200 ms, well
 *          under 1 % of a core); samples every few seconds only to notice
 *          memory that became mergeable without an event;
 *   boost  after an event, ksmd runs at the boost rate (default 20000 pages
 *          / 10 ms), with smart_scan off, so the new container's duplicates
 *          merge within seconds; back to idle once merging stops making
 *          progress: two more full scans without new merged pages (nine
 *          if smart_scan stayed on: it looks at a page that did not merge
 *          only every 1-8 scans), or nothing to scan at all.
 *
 * The CPU budget applies in both modes: ksmd's CPU time over any sliding
 * window of window_secs may not exceed cpu_budget * window_secs.  A ksmd
 * that was idle may therefore burst (2.5 CPU-seconds with the defaults),
 * and is throttled towards the budget as the window fills.  The rate is
 * scaled proportionally to the CPU ksmd measurably used at the rate it
 * really scanned at (pages_scanned; a boost rate can exceed what one core
 * manages, and then asking for less changes nothing).
 */
#ifndef SP_GOVERNOR_H
#define SP_GOVERNOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/config.h"

struct gov_params {
	double cpu_budget;            /* share of one core, (0, 1] */
	double window_secs;           /* sliding window of the budget */
	unsigned int boost_pages;     /* pages_to_scan while boosting */
	unsigned int boost_sleep_ms;  /* sleep_millisecs while boosting */
	unsigned int idle_pages;
	unsigned int idle_sleep_ms;
	unsigned int boost_sample_ms; /* sampling period while boosting (250) */
	unsigned int idle_sample_ms;  /* sampling period while idle (5000) */
	unsigned int settle_scans;    /* full scans without progress before decay (2) */
	unsigned int settle_scans_smart; /* the same under smart_scan (9) */
	double empty_secs;            /* boost ends when nothing is scanned for this long (3) */
	double max_stall_secs;        /* boost ends after this long without progress (60) */
	uint64_t progress_pages;      /* growth of merged pages that counts as progress (16) */
	uint64_t reboost_pages;       /* growth between idle samples that re-boosts (1024) */
};

/* Parameters from samepage.conf's governor section, plus the fixed ones. */
void gov_params_from_config(struct gov_params *p, const struct sp_governor_config *cfg);

/* One look at ksmd.  t: monotonic seconds; cpu: ksmd's CPU seconds
 * (utime + stime); the rest are /sys/kernel/mm/ksm counters. */
struct gov_sample {
	double t;
	double cpu;
	uint64_t pages_shared;
	uint64_t pages_sharing;
	uint64_t pages_unshared;
	uint64_t pages_volatile;
	uint64_t full_scans;
	uint64_t pages_scanned;       /* 0 when has_pages_scanned is false */
	bool has_pages_scanned;       /* the kernel has the counter (>= 6.7) */
	bool smart_scan;              /* /sys/kernel/mm/ksm/smart_scan is 1 */
};

struct gov_knobs {
	unsigned int pages_to_scan;
	unsigned int sleep_ms;
	/* Switch smart_scan off: while boosting every page is looked at in
	 * every scan, so a new page meets its partner in an older container
	 * (which smart_scan would skip for up to 8 scans) within two scans,
	 * and "no progress for two scans" really means done. */
	bool smart_scan_off;
};

enum gov_mode {
	GOV_IDLE,
	GOV_BOOST,
};

#define GOV_RING 4096

struct gov_point {
	double t;
	double cpu;
};

struct gov {
	struct gov_params p;
	enum gov_mode mode;
	double pps;                /* scan rate asked for, pages per second */
	bool throttled;            /* the budget lowered the rate at the last sample */
	bool have_last;
	struct gov_sample last;
	/* progress tracking while boosting */
	bool have_baseline;
	uint64_t best_merged;
	uint64_t progress_scans;
	double progress_t;
	double boost_since;
	double empty_since;        /* < 0: something to scan */
	/* ksmd CPU history for the sliding window */
	struct gov_point ring[GOV_RING];
	size_t ring_head, ring_len;
};

void gov_init(struct gov *g, const struct gov_params *p);

/* A KSM-enabled container started at time t: boost.  *k receives the
 * knobs to apply now. */
void gov_event(struct gov *g, double t, struct gov_knobs *k);

/* Feed a sample; *k receives the knobs ksmd should run at from now on.
 * Returns true when they differ from what the previous call returned. */
bool gov_feed(struct gov *g, const struct gov_sample *s, struct gov_knobs *k);

/* Knobs for the current mode and rate. */
void gov_knobs(const struct gov *g, struct gov_knobs *k);

/* Milliseconds until the governor wants the next sample. */
unsigned int gov_next_sample_ms(const struct gov *g);

/* ksmd CPU seconds used in the window ending at the last sample. */
double gov_window_cpu(const struct gov *g);

const char *gov_mode_name(enum gov_mode m);

#endif
