/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <string.h>

#include "node/governor.h"

/* Boost at least this long after an event: the hook fires before the
 * entrypoint runs, so the container's memory is still arriving. */
#define GOV_MIN_BOOST_SECS 2.0
/* Samples closer than this give no usable CPU rate (10 ms clock ticks). */
#define GOV_MIN_RATE_DT 0.05

void gov_params_from_config(struct gov_params *p, const struct sp_governor_config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->cpu_budget = cfg->cpu_budget;
	p->window_secs = cfg->window_secs;
	p->boost_pages = cfg->boost_pages;
	p->boost_sleep_ms = cfg->boost_sleep_ms;
	p->idle_pages = cfg->idle_pages;
	p->idle_sleep_ms = cfg->idle_sleep_ms;
	p->boost_sample_ms = 250;
	p->idle_sample_ms = 5000;
	p->settle_scans = 2;
	/* smart_scan skips a page that keeps not merging for up to 8 scans
	 * (skip_age() in mm/ksm.c); one more and every page was looked at. */
	p->settle_scans_smart = 9;
	p->empty_secs = 3.0;
	p->max_stall_secs = 60.0;
	p->progress_pages = 16;
	p->reboost_pages = 1024;
}

const char *gov_mode_name(enum gov_mode m)
{
	return m == GOV_BOOST ? "boost" : "idle";
}

static double idle_pps(const struct gov_params *p)
{
	return p->idle_pages * 1000.0 / p->idle_sleep_ms;
}

static double boost_pps(const struct gov_params *p)
{
	double b = p->boost_pages * 1000.0 / p->boost_sleep_ms;

	return b > idle_pps(p) ? b : idle_pps(p);
}

void gov_init(struct gov *g, const struct gov_params *p)
{
	struct gov_params copy = *p; /* p may point into g (a reset) */

	memset(g, 0, sizeof(*g));
	g->p = copy;
	if (g->p.boost_sleep_ms == 0)
		g->p.boost_sleep_ms = 1;
	if (g->p.idle_sleep_ms == 0)
		g->p.idle_sleep_ms = 1;
	if (g->p.window_secs <= 0)
		g->p.window_secs = 1;
	g->mode = GOV_IDLE;
	g->pps = idle_pps(&g->p);
	g->empty_since = -1;
}

void gov_knobs(const struct gov *g, struct gov_knobs *k)
{
	const struct gov_params *p = &g->p;
	double pps = g->pps, pages, sleep;

	k->smart_scan_off = g->mode == GOV_BOOST;
	if (g->mode == GOV_IDLE || pps <= idle_pps(p) * 1.0001) {
		k->pages_to_scan = p->idle_pages;
		k->sleep_ms = p->idle_sleep_ms;
		return;
	}
	if (pps >= boost_pps(p) * 0.9999) {
		k->pages_to_scan = p->boost_pages;
		k->sleep_ms = p->boost_sleep_ms;
		return;
	}
	/* Keep ksmd's short sleep and scan less per wakeup; below the idle
	 * batch size, keep the batch and sleep longer instead. */
	sleep = p->boost_sleep_ms;
	pages = pps * sleep / 1000.0;
	if (pages < p->idle_pages) {
		pages = p->idle_pages;
		sleep = pages * 1000.0 / pps;
		if (sleep > p->idle_sleep_ms)
			sleep = p->idle_sleep_ms;
	}
	k->pages_to_scan = pages < 1 ? 1 : (unsigned int)(pages + 0.5);
	k->sleep_ms = sleep < 1 ? 1 : (unsigned int)(sleep + 0.5);
}

unsigned int gov_next_sample_ms(const struct gov *g)
{
	return g->mode == GOV_BOOST ? g->p.boost_sample_ms : g->p.idle_sample_ms;
}

static const struct gov_point *ring_at(const struct gov *g, size_t i)
{
	return &g->ring[(g->ring_head + i) % GOV_RING];
}

static void ring_push(struct gov *g, double t, double cpu)
{
	/* Thin the history so the ring always spans two windows. */
	double spacing = g->p.window_secs / (GOV_RING / 2);

	if (g->ring_len > 0 && t - ring_at(g, g->ring_len - 1)->t < spacing)
		return;
	if (g->ring_len == GOV_RING) {
		g->ring_head = (g->ring_head + 1) % GOV_RING;
		g->ring_len--;
	}
	g->ring[(g->ring_head + g->ring_len) % GOV_RING] = (struct gov_point){ .t = t, .cpu = cpu };
	g->ring_len++;
}

/* ksmd's CPU counter at time t0: the newest point at or before t0 (so the
 * interval measured is never shorter than asked), or the oldest point when
 * the history starts later (ksmd's use before we watched is unknown and
 * counted as none). */
static double cpu_at(const struct gov *g, double t0)
{
	size_t i;

	if (g->ring_len == 0)
		return g->have_last ? g->last.cpu : 0;
	for (i = g->ring_len; i-- > 0;)
		if (ring_at(g, i)->t <= t0)
			return ring_at(g, i)->cpu;
	return ring_at(g, 0)->cpu;
}

double gov_window_cpu(const struct gov *g)
{
	if (!g->have_last)
		return 0;
	return g->last.cpu - cpu_at(g, g->last.t - g->p.window_secs);
}

/* CPU seconds ksmd may still use in the next dt seconds without its use
 * over the window ending then exceeding the budget. */
static double allowance(const struct gov *g, double dt)
{
	if (!g->have_last)
		return g->p.cpu_budget * g->p.window_secs;
	return g->p.cpu_budget * g->p.window_secs - (g->last.cpu - cpu_at(g, g->last.t + dt - g->p.window_secs));
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void start_boost(struct gov *g, double t)
{
	double dt = g->p.boost_sample_ms / 1000.0;
	double a = allowance(g, dt);

	/* Full speed when the window can pay for a whole sampling period at
	 * one core, else a share of it; an ongoing (throttled) boost keeps
	 * its rate. */
	if (g->mode != GOV_BOOST)
		g->pps = idle_pps(&g->p) + (boost_pps(&g->p) - idle_pps(&g->p)) * clamp(a / dt, 0, 1);
	else if (a >= dt)
		g->pps = boost_pps(&g->p);
	g->mode = GOV_BOOST;
	g->boost_since = t;
	g->progress_t = t;
	g->have_baseline = false;
	g->empty_since = -1;
}

void gov_event(struct gov *g, double t, struct gov_knobs *k)
{
	start_boost(g, t);
	gov_knobs(g, k);
}

static void to_idle(struct gov *g)
{
	g->mode = GOV_IDLE;
	g->pps = idle_pps(&g->p);
	g->throttled = false;
}

/* The scan rate ksmd achieved over the last interval: what was asked
 * unless ksmd could not keep up.  Without pages_scanned, a ksmd using a
 * whole core is assumed to manage half of what it was asked. */
static double achieved_pps(const struct gov *g, const struct gov_sample *s, const struct gov_sample *prev, double rate)
{
	double asked = g->pps;

	if (prev && s->has_pages_scanned && prev->has_pages_scanned && s->t > prev->t &&
	    s->pages_scanned >= prev->pages_scanned) {
		double done = (s->pages_scanned - prev->pages_scanned) / (s->t - prev->t);

		return done > 0 && done < asked ? done : asked;
	}
	return rate >= 0.9 ? asked / 2 : asked;
}

static void boost_step(struct gov *g, const struct gov_sample *s, const struct gov_sample *prev, double rate)
{
	const struct gov_params *p = &g->p;
	uint64_t merged = s->pages_shared + s->pages_sharing;
	uint64_t tracked = merged + s->pages_unshared + s->pages_volatile;
	double dt = p->boost_sample_ms / 1000.0, allowed;

	if (!g->have_baseline || !prev) {
		g->have_baseline = true;
		g->best_merged = merged;
		g->progress_scans = s->full_scans;
		g->progress_t = s->t;
	} else {
		uint64_t last_tracked = prev->pages_shared + prev->pages_sharing + prev->pages_unshared +
					prev->pages_volatile;

		/* Progress: more pages merged than ever in this boost, or
		 * more pages for ksmd to look at (memory still arriving). */
		if (merged >= g->best_merged + p->progress_pages || tracked >= last_tracked + p->progress_pages) {
			g->progress_scans = s->full_scans;
			g->progress_t = s->t;
		}
		if (merged > g->best_merged)
			g->best_merged = merged;
	}

	if (tracked == 0) {
		if (g->empty_since < 0)
			g->empty_since = s->t;
	} else {
		g->empty_since = -1;
	}

	if (s->t - g->boost_since >= GOV_MIN_BOOST_SECS) {
		unsigned int settle = s->smart_scan ? p->settle_scans_smart : p->settle_scans;
		bool settled = s->full_scans >= g->progress_scans + settle;
		bool empty = g->empty_since >= 0 && s->t - g->empty_since >= p->empty_secs;
		bool stalled = s->t - g->progress_t >= p->max_stall_secs;

		if (settled || empty || stalled) {
			to_idle(g);
			return;
		}
	}

	if (rate < 0)
		return;
	allowed = allowance(g, dt) / dt;
	g->throttled = false;
	if (allowed <= 0) {
		g->pps = idle_pps(p);
		g->throttled = true;
	} else if (rate > allowed) {
		g->pps = achieved_pps(g, s, prev, rate) * allowed / rate;
		g->throttled = true;
	} else if (rate < 0.7 * allowed && g->pps < boost_pps(p)) {
		g->pps *= clamp(0.8 * allowed / (rate > 0.01 ? rate : 0.01), 1, 2);
	}
	g->pps = clamp(g->pps, idle_pps(p), boost_pps(p));
}

static void idle_step(struct gov *g, const struct gov_sample *s, const struct gov_sample *prev)
{
	const struct gov_params *p = &g->p;
	uint64_t merged = s->pages_shared + s->pages_sharing;
	uint64_t tracked = merged + s->pages_unshared + s->pages_volatile;
	uint64_t last_merged = prev->pages_shared + prev->pages_sharing;
	uint64_t last_tracked = last_merged + prev->pages_unshared + prev->pages_volatile;
	uint64_t threshold = p->reboost_pages;

	if (tracked / 100 > threshold)
		threshold = tracked / 100;
	/* Memory became mergeable without an event (a workload that fills
	 * its memory late, `samepage enable` on a running one): boost. */
	if (merged >= last_merged + threshold || tracked >= last_tracked + threshold)
		start_boost(g, s->t);
}

bool gov_feed(struct gov *g, const struct gov_sample *s, struct gov_knobs *k)
{
	struct gov_knobs before;
	struct gov_sample prev = g->last;
	bool had_prev = g->have_last;
	double rate = -1;

	gov_knobs(g, &before);
	if (had_prev && s->t - prev.t >= GOV_MIN_RATE_DT)
		rate = (s->cpu - prev.cpu) / (s->t - prev.t);
	ring_push(g, s->t, s->cpu);
	g->last = *s;
	g->have_last = true;

	if (g->mode == GOV_BOOST)
		boost_step(g, s, had_prev ? &prev : NULL, rate);
	else if (had_prev)
		idle_step(g, s, &prev);

	gov_knobs(g, k);
	return k->pages_to_scan != before.pages_to_scan || k->sleep_ms != before.sleep_ms ||
	       k->smart_scan_off != before.smart_scan_off;
}
