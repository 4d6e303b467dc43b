/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/cleanup.h"
#include "host/anon-scan.h"
#include "node/estimate.h"

/* One distinct (content, container) pair of the sample; count 0 = empty. */
struct est_slot {
	struct est_digest d;
	uint32_t container;
	uint32_t count;
};

_Static_assert(sizeof(struct est_slot) == EST_DIGEST_SLOT_BYTES, "digest slot size is documented");

#define PROGRESS_EVERY 4096

void est_init(struct estimate *e)
{
	long ps = sysconf(_SC_PAGESIZE);
	_cleanup_free_ void *zero = calloc(1, (size_t)ps);

	memset(e, 0, sizeof(*e));
	e->sample = 1.0;
	if (zero)
		e->zero_digest = est_hash_page(zero, (size_t)ps);
	ksm_group_stat_init(&e->node.ksm_now);
}

void est_free(struct estimate *e)
{
	size_t i;

	for (i = 0; i < e->n_containers; i++)
		free(e->containers[i].id);
	for (i = 0; i < e->n_domains; i++)
		free(e->domains[i].name);
	free(e->containers);
	free(e->domains);
	free(e->slots);
	free(e->pfns);
	memset(e, 0, sizeof(*e));
}

static int find_or_add_domain(struct estimate *e, const char *name, size_t *idx)
{
	struct est_domain *n;
	size_t i;

	for (i = 0; i < e->n_domains; i++) {
		if (strcmp(e->domains[i].name, name) == 0) {
			*idx = i;
			return 0;
		}
	}
	n = realloc(e->domains, (e->n_domains + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	e->domains = n;
	memset(&n[e->n_domains], 0, sizeof(*n));
	ksm_group_stat_init(&n[e->n_domains].f.ksm_now);
	n[e->n_domains].name = strdup(name);
	if (!n[e->n_domains].name)
		return -ENOMEM;
	*idx = e->n_domains++;
	return 0;
}

int est_add_container(struct estimate *e, const char *id, const char *domain, size_t *idx, sp_error_t *err)
{
	struct est_container *n, *c;
	size_t d;

	if (e->n_containers >= UINT32_MAX)
		return sp_error_set(err, E2BIG, "estimate: too many containers");
	if (find_or_add_domain(e, domain, &d) < 0)
		return sp_error_set(err, ENOMEM, "estimate: domain `%s`", domain);
	n = realloc(e->containers, (e->n_containers + 1) * sizeof(*n));
	if (!n)
		return sp_error_set(err, ENOMEM, "estimate: container `%s`", id);
	e->containers = n;
	c = &n[e->n_containers];
	memset(c, 0, sizeof(*c));
	ksm_group_stat_init(&c->f.ksm_now);
	c->domain = d;
	c->id = strdup(id);
	if (!c->id)
		return sp_error_set(err, ENOMEM, "estimate: container `%s`", id);
	e->domains[d].containers++;
	*idx = e->n_containers++;
	return 0;
}

struct est_digest est_hash_page(const void *data, size_t page_size)
{
	XXH128_hash_t h = XXH3_128bits(data, page_size);

	return (struct est_digest){ .lo = h.low64, .hi = h.high64 };
}

static size_t tables_bytes(const struct estimate *e)
{
	return e->n_slots * sizeof(struct est_slot) + e->n_pfns * sizeof(uint64_t);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* Open addressing, linear probing; both tables double at 3/4 full. */
static int pfn_set_grow(struct estimate *e)
{
	size_t n = e->n_pfns ? e->n_pfns * 2 : 4096, i, j;
	uint64_t *t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; i < e->n_pfns; i++) {
		if (!e->pfns[i])
			continue;
		for (j = mix64(e->pfns[i]) & (n - 1); t[j]; j = (j + 1) & (n - 1))
			;
		t[j] = e->pfns[i];
	}
	free(e->pfns);
	e->pfns = t;
	e->n_pfns = n;
	return 0;
}

/* 1 when pfn was new (and is now in the set), 0 when seen before. */
static int pfn_set_insert(struct estimate *e, uint64_t pfn, bool insert)
{
	size_t j;

	if ((e->used_pfns + 1) * 4 > e->n_pfns * 3 && pfn_set_grow(e) < 0)
		return -ENOMEM;
	for (j = mix64(pfn) & (e->n_pfns - 1); e->pfns[j]; j = (j + 1) & (e->n_pfns - 1))
		if (e->pfns[j] == pfn)
			return 0;
	if (insert) {
		e->pfns[j] = pfn;
		e->used_pfns++;
	}
	return 1;
}

static size_t slot_index(const struct est_digest *d, uint32_t container, size_t n)
{
	return (size_t)(d->lo ^ mix64(container + 1)) & (n - 1);
}

static int slots_grow(struct estimate *e)
{
	size_t n = e->n_slots ? e->n_slots * 2 : 4096, i, j;
	struct est_slot *t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (i = 0; i < e->n_slots; i++) {
		const struct est_slot *s = &e->slots[i];

		if (!s->count)
			continue;
		for (j = slot_index(&s->d, s->container, n); t[j].count; j = (j + 1) & (n - 1))
			;
		t[j] = *s;
	}
	free(e->slots);
	e->slots = t;
	e->n_slots = n;
	return 0;
}

static bool digest_eq(const struct est_digest *a, const struct est_digest *b)
{
	return a->lo == b->lo && a->hi == b->hi;
}

static int slots_add(struct estimate *e, const struct est_digest *d, uint32_t container)
{
	size_t j;

	if ((e->used_slots + 1) * 4 > e->n_slots * 3 && slots_grow(e) < 0)
		return -ENOMEM;
	for (j = slot_index(d, container, e->n_slots); e->slots[j].count; j = (j + 1) & (e->n_slots - 1)) {
		if (e->slots[j].container == container && digest_eq(&e->slots[j].d, d)) {
			e->slots[j].count++;
			return 0;
		}
	}
	e->slots[j] = (struct est_slot){ .d = *d, .container = container, .count = 1 };
	e->used_slots++;
	return 0;
}

static bool in_sample(const struct estimate *e, const struct est_digest *d)
{
	/* hi, not lo: lo places the slot, and the sample must not skew it. */
	return e->sample >= 1.0 || (double)d->hi < e->sample * 18446744073709551616.0;
}

static int add_page(struct estimate *e, size_t idx, uint64_t pfn, bool ksm, const struct est_digest *d)
{
	struct est_figures *f = &e->containers[idx].f;
	int ret;

	if (e->finished)
		return -EALREADY;
	if (e->max_pages && e->done.pages_read >= e->max_pages) {
		e->truncated = true;
		return -E2BIG;
	}
	if (pfn) {
		/* KSM frames go into the set too (frame_pages), but each of
		 * their mappings counts. */
		ret = pfn_set_insert(e, pfn, true);
		if (ret < 0 || (ret == 0 && !ksm))
			return ret;
		e->pfn_known = true;
	} else {
		ret = 1;
	}
	if (in_sample(e, d)) {
		if (slots_add(e, d, (uint32_t)idx) < 0)
			return -ENOMEM;
		f->sampled_pages++;
	}
	f->anon_pages++;
	if (ksm)
		f->ksm_pages++;
	if (ret == 1)
		f->frame_pages++;
	if (digest_eq(d, &e->zero_digest))
		f->zero_pages++;
	if (tables_bytes(e) > e->table_bytes_peak)
		e->table_bytes_peak = tables_bytes(e);
	e->done.pages_read++;
	if (e->progress && e->done.pages_read % PROGRESS_EVERY == 0)
		e->progress(e->progress_ctx, &e->done);
	return 1;
}

int est_add_page(struct estimate *e, size_t idx, uint64_t pfn, const struct est_digest *d)
{
	return add_page(e, idx, pfn, false, d);
}

int est_add_ksm_page(struct estimate *e, size_t idx, uint64_t pfn, const struct est_digest *d)
{
	return add_page(e, idx, pfn, true, d);
}

struct scan_ctx {
	struct estimate *e;
	size_t idx;
	long ps;
};

static bool scan_want(void *ctx, const struct anon_page *p)
{
	struct scan_ctx *s = ctx;

	/* Reading a frame counted before would cost I/O for nothing; every
	 * mapping of a KSM frame counts. */
	return p->ksm || !p->pfn || !s->e->pfns || pfn_set_insert(s->e, p->pfn, false) != 0;
}

static int scan_page(void *ctx, const struct anon_page *p, const void *data)
{
	struct scan_ctx *s = ctx;
	struct est_digest d = est_hash_page(data, (size_t)s->ps);
	int ret = add_page(s->e, s->idx, p->pfn, p->ksm, &d);

	return ret < 0 ? ret : 0;
}

int est_scan_pids(struct estimate *e, size_t idx, const pid_t *pids, size_t n, sp_error_t *err)
{
	static const struct anon_scan_ops ops = { .want = scan_want, .page = scan_page };
	struct scan_ctx ctx = { .e = e, .idx = idx, .ps = sysconf(_SC_PAGESIZE) };
	struct est_container *c = &e->containers[idx];
	struct anon_scan_result res;
	size_t i;
	int ret;

	/* What KSM saves now, before our reads disturb nothing but caches. */
	ret = ksm_stat_pids(pids, n, &c->f.ksm_now, err);
	if (ret < 0)
		return sp_error_wrap(err, "container `%s`", c->id);
	for (i = 0; i < n; i++) {
		ret = anon_scan_pid(pids[i], &ops, &ctx, &res, err);
		if (ret == -ESRCH) {
			c->exited++;
			continue;
		}
		if (ret == -E2BIG)
			return ret;
		if (ret == -ENOMEM)
			return sp_error_set(err, ENOMEM, "estimate: digest table (%zu bytes)", tables_bytes(e));
		if (ret < 0)
			return sp_error_wrap(err, "container `%s`", c->id);
		if (res.present && !res.ksm_known)
			e->ksm_unknown = true;
		c->processes++;
	}
	return 0;
}

/* Sorted by content, then domain, then container: a content class is one
 * run, and its domain classes are runs inside it. */
static int cmp_slots(const void *x, const void *y, void *arg)
{
	const struct estimate *e = arg;
	const struct est_slot *a = x, *b = y;
	size_t da = e->containers[a->container].domain, db = e->containers[b->container].domain;

	if (a->d.lo != b->d.lo)
		return a->d.lo < b->d.lo ? -1 : 1;
	if (a->d.hi != b->d.hi)
		return a->d.hi < b->d.hi ? -1 : 1;
	if (da != db)
		return da < db ? -1 : 1;
	return (a->container > b->container) - (a->container < b->container);
}

/* Per content class, what each level saves: x for the domain-aware saving,
 * x_any ignoring domains, zero when the class is the zero page.  The
 * *_se fields hold sums of squares until fig_scale turns them into
 * standard errors. */
static void fig_add(struct est_figures *f, double x, double x_any, bool zero)
{
	f->saving_pages += x;
	f->saving_se += x * x;
	f->saving_any_pages += x_any;
	f->saving_any_se += x_any * x_any;
	if (zero)
		f->zero_saving_pages += x;
}

static size_t slot_domain(const struct estimate *e, const struct est_slot *s)
{
	return e->containers[s->container].domain;
}

/* One content class: slots [a, b), c_all pages in all; within it each
 * domain is one run of c_dom pages, of which KSM keeps one. */
static void finish_class(struct estimate *e, const struct est_slot *a, const struct est_slot *b)
{
	const struct est_slot *s, *r;
	bool zero = digest_eq(&a->d, &e->zero_digest);
	double c_all = 0, node_x = 0;

	for (s = a; s < b; s++)
		c_all += s->count;
	for (s = a; s < b; s = r) {
		size_t dom = slot_domain(e, s);
		double c_dom = 0;

		for (r = s; r < b && slot_domain(e, r) == dom; r++)
			c_dom += r->count;
		for (r = s; r < b && slot_domain(e, r) == dom; r++)
			fig_add(&e->containers[r->container].f, r->count * (c_dom - 1) / c_dom,
				r->count * (c_all - 1) / c_all, zero);
		fig_add(&e->domains[dom].f, c_dom - 1, c_dom * (c_all - 1) / c_all, zero);
		node_x += c_dom - 1;
	}
	fig_add(&e->node, node_x, c_all - 1, zero);
}

/* Scale a level's sampled sums to estimates; sums of squares become
 * standard errors (Horvitz-Thompson with whole classes as the unit:
 * Var = (1 - f) / f^2 * sum x^2). */
static void fig_scale(struct est_figures *f, double sample)
{
	double k = (1 - sample) / (sample * sample);

	f->saving_pages /= sample;
	f->saving_any_pages /= sample;
	f->zero_saving_pages /= sample;
	f->saving_se = sqrt(k * f->saving_se);
	f->saving_any_se = sqrt(k * f->saving_any_se);
}

static void fig_sum_counts(struct est_figures *sum, const struct est_figures *f)
{
	sum->anon_pages += f->anon_pages;
	sum->zero_pages += f->zero_pages;
	sum->ksm_pages += f->ksm_pages;
	sum->frame_pages += f->frame_pages;
	sum->sampled_pages += f->sampled_pages;
	ksm_group_stat_add(&sum->ksm_now, &f->ksm_now);
}

/* Domains and the node: sums of their containers' exact counts. */
static void finish_counts(struct estimate *e)
{
	size_t i;

	memset(&e->node, 0, sizeof(e->node));
	ksm_group_stat_init(&e->node.ksm_now);
	for (i = 0; i < e->n_domains; i++) {
		memset(&e->domains[i].f, 0, sizeof(e->domains[i].f));
		ksm_group_stat_init(&e->domains[i].f.ksm_now);
	}
	for (i = 0; i < e->n_containers; i++) {
		fig_sum_counts(&e->domains[e->containers[i].domain].f, &e->containers[i].f);
		fig_sum_counts(&e->node, &e->containers[i].f);
	}
}

int est_finish(struct estimate *e, sp_error_t *err)
{
	size_t i, used = 0, a, b;

	if (e->finished)
		return sp_error_set(err, EALREADY, "estimate: already finished");
	e->finished = true;
	finish_counts(e);
	/* The table is not needed as a table any more: compact and sort it
	 * in place, so finishing costs no memory. */
	for (i = 0; i < e->n_slots; i++)
		if (e->slots[i].count)
			e->slots[used++] = e->slots[i];
	qsort_r(e->slots, used, sizeof(*e->slots), cmp_slots, e);
	for (a = 0; a < used; a = b) {
		for (b = a + 1; b < used && digest_eq(&e->slots[b].d, &e->slots[a].d); b++)
			;
		finish_class(e, &e->slots[a], &e->slots[b]);
	}
	for (i = 0; i < e->n_containers; i++)
		fig_scale(&e->containers[i].f, e->sample);
	for (i = 0; i < e->n_domains; i++)
		fig_scale(&e->domains[i].f, e->sample);
	fig_scale(&e->node, e->sample);
	free(e->slots);
	e->slots = NULL;
	e->n_slots = e->used_slots = 0;
	return 0;
}
