/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of `samepage estimate`'s counting (node/estimate.h) on synthetic
 * pages: frames counted once, zero pages, savings within domains and
 * ignoring them, each container's share, sampling and its standard error,
 * the page limit; and on real processes (host/anon-scan.h): pages a child
 * shares with its parent after fork count once, a process that has exited
 * is skipped.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "host/anon-scan.h"
#include "node/estimate.h"
#include "node/estimate-record.h"
#include "node/config.h"
#include "node/report.h"

static struct est_digest content(uint64_t n)
{
	uint64_t page[512] = { n + 1 };

	return est_hash_page(page, sizeof(page));
}

static struct est_digest zero_content(void)
{
	static uint64_t page[512];

	return est_hash_page(page, sizeof(page));
}

static size_t add(struct estimate *e, const char *id, const char *domain)
{
	_cleanup_error_ sp_error_t err = NULL;
	size_t idx;

	assert_int_equal(est_add_container(e, id, domain, &idx, &err), 0);
	return idx;
}

static void finish(struct estimate *e)
{
	_cleanup_error_ sp_error_t err = NULL;

	assert_int_equal(est_finish(e, &err), 0);
}

static void test_frames_counted_once(void **state)
{
	struct estimate e;
	struct est_digest d = content(1);
	size_t a, b;

	(void)state;
	est_init(&e);
	a = add(&e, "a", "team");
	b = add(&e, "b", "team");
	/* One frame mapped by two processes after fork. */
	assert_int_equal(est_add_page(&e, a, 1000, &d), 1);
	assert_int_equal(est_add_page(&e, b, 1000, &d), 0);
	assert_int_equal(est_add_page(&e, a, 1000, &d), 0);
	/* Another frame with the same content is a page KSM could save. */
	assert_int_equal(est_add_page(&e, b, 1001, &d), 1);
	finish(&e);
	assert_int_equal(e.containers[a].f.anon_pages, 1);
	assert_int_equal(e.containers[b].f.anon_pages, 1);
	assert_int_equal(e.node.anon_pages, 2);
	assert_int_equal(e.node.frame_pages, 2);
	assert_true(fabs(e.node.saving_pages - 1) < 1e-9);
	assert_true(fabs(e.containers[a].f.saving_pages - 0.5) < 1e-9);
	assert_true(e.pfn_known);
	est_free(&e);
}

/*
 * ksmd merges while the scan runs: twin a is read before the merge (its
 * frame 1000 is an ordinary page), twin b after it (KSM made frame 1000 the
 * KSM page in place, and b maps it now).  Both pages count, as they do when
 * both are read before the merge (3000, 3001) or both after it (2000): the
 * saving is the same whichever side of the merge each twin was read on.
 */
static void test_ksm_frames_count_per_mapping(void **state)
{
	struct estimate e;
	struct est_digest d1 = content(1), d2 = content(2), d3 = content(3);
	size_t a, b;

	(void)state;
	est_init(&e);
	a = add(&e, "a", "team");
	b = add(&e, "b", "team");
	assert_int_equal(est_add_page(&e, a, 1000, &d1), 1);
	assert_int_equal(est_add_ksm_page(&e, b, 1000, &d1), 1);
	assert_int_equal(est_add_ksm_page(&e, a, 2000, &d2), 1);
	assert_int_equal(est_add_ksm_page(&e, b, 2000, &d2), 1);
	assert_int_equal(est_add_page(&e, a, 3000, &d3), 1);
	assert_int_equal(est_add_page(&e, b, 3001, &d3), 1);
	/* An ordinary frame counted before still counts once. */
	assert_int_equal(est_add_page(&e, b, 3000, &d3), 0);
	finish(&e);
	assert_int_equal(e.node.anon_pages, 6);
	assert_int_equal(e.node.ksm_pages, 3);
	/* What the pages take: 1000, 2000, 3000 and 3001. */
	assert_int_equal(e.node.frame_pages, 4);
	assert_int_equal(e.containers[a].f.ksm_pages, 1);
	assert_int_equal(e.containers[b].f.ksm_pages, 2);
	assert_true(fabs(e.node.saving_pages - 3) < 1e-9);
	assert_true(fabs(e.containers[a].f.saving_pages - 1.5) < 1e-9);
	assert_true(e.pfn_known);
	est_free(&e);
}

static void test_zero_pages(void **state)
{
	struct estimate e;
	struct est_digest z = zero_content(), d = content(7);
	size_t a;
	uint64_t pfn;

	(void)state;
	est_init(&e);
	a = add(&e, "a", "team");
	for (pfn = 1; pfn <= 10; pfn++)
		assert_int_equal(est_add_page(&e, a, pfn, &z), 1);
	assert_int_equal(est_add_page(&e, a, 11, &d), 1);
	finish(&e);
	assert_int_equal(e.node.anon_pages, 11);
	assert_int_equal(e.node.zero_pages, 10);
	assert_true(fabs(e.node.saving_pages - 9) < 1e-9);
	assert_true(fabs(e.node.zero_saving_pages - 9) < 1e-9);
	assert_true(fabs(e.domains[0].f.zero_saving_pages - 9) < 1e-9);
	est_free(&e);
}

/*
 * Domain A: a1 and a2; domain B: b1.  Content X: 2 pages in a1, 1 in a2,
 * 3 in b1.  Content Y: 1 page in a2, 1 in b1.  Content Z: 1 page in b1.
 * Within domains: A saves X 3-1 = 2; B saves X 3-1 = 2 (Y and Z once
 * each): 4.  Ignoring domains: X 6-1 + Y 2-1 = 6.
 */
static void test_two_domains_vs_ignoring_them(void **state)
{
	struct estimate e;
	struct est_digest x = content(1), y = content(2), z = content(3);
	size_t a1, a2, b1;
	uint64_t pfn = 1;

	(void)state;
	est_init(&e);
	a1 = add(&e, "a1", "team-a");
	b1 = add(&e, "b1", "team-b");
	a2 = add(&e, "a2", "team-a");
	est_add_page(&e, a1, pfn++, &x);
	est_add_page(&e, a1, pfn++, &x);
	est_add_page(&e, a2, pfn++, &x);
	est_add_page(&e, a2, pfn++, &y);
	est_add_page(&e, b1, pfn++, &x);
	est_add_page(&e, b1, pfn++, &x);
	est_add_page(&e, b1, pfn++, &x);
	est_add_page(&e, b1, pfn++, &y);
	est_add_page(&e, b1, pfn++, &z);
	finish(&e);
	assert_int_equal(e.n_domains, 2);
	assert_string_equal(e.domains[0].name, "team-a");
	assert_int_equal(e.domains[0].containers, 2);
	assert_int_equal(e.domains[0].f.anon_pages, 4);
	assert_true(fabs(e.domains[0].f.saving_pages - 2) < 1e-9);
	assert_true(fabs(e.domains[1].f.saving_pages - 2) < 1e-9);
	assert_true(fabs(e.node.saving_pages - 4) < 1e-9);
	assert_true(fabs(e.node.saving_any_pages - 6) < 1e-9);
	/* Shares: a1 holds 2 of A's 3 X pages: 2 * 2/3; a2 1 * 2/3. */
	assert_true(fabs(e.containers[a1].f.saving_pages - 4.0 / 3) < 1e-9);
	assert_true(fabs(e.containers[a2].f.saving_pages - 2.0 / 3) < 1e-9);
	assert_true(fabs(e.containers[b1].f.saving_pages - 2) < 1e-9);
	/* Shares ignoring domains add up to the node's figure. */
	assert_true(fabs(e.containers[a1].f.saving_any_pages + e.containers[a2].f.saving_any_pages +
			 e.containers[b1].f.saving_any_pages - 6) < 1e-9);
	assert_true(e.node.saving_se == 0);
	est_free(&e);
}

/* 40000 contents, content k in (k % 4) + 1 pages: 60000 pages saving. */
static void fill_classes(struct estimate *e, size_t idx)
{
	uint64_t k, i, pfn = 1;

	for (k = 0; k < 40000; k++) {
		struct est_digest d = content(k);

		for (i = 0; i <= k % 4; i++)
			assert_true(est_add_page(e, idx, pfn++, &d) >= 0);
	}
}

static void test_sampling(void **state)
{
	struct estimate e, again;
	size_t a;

	(void)state;
	est_init(&e);
	e.sample = 0.1;
	a = add(&e, "a", "team");
	fill_classes(&e, a);
	finish(&e);
	assert_int_equal(e.node.anon_pages, 100000);
	/* About a tenth of the pages, whole classes at a time. */
	assert_true(e.node.sampled_pages > 8000 && e.node.sampled_pages < 12000);
	assert_true(e.node.saving_se > 0);
	/* The truth (60000) within 4 standard errors, and the error is
	 * what the binomial model says: about 1 % of the saving here. */
	assert_true(fabs(e.node.saving_pages - 60000) < 4 * e.node.saving_se);
	assert_true(e.node.saving_se < 0.05 * 60000);
	/* Deterministic: the same pages give the same estimate. */
	est_init(&again);
	again.sample = 0.1;
	a = add(&again, "a", "team");
	fill_classes(&again, a);
	finish(&again);
	assert_true(again.node.saving_pages == e.node.saving_pages);
	/* The table holds only the sample. */
	assert_true(again.table_bytes_peak < e.table_bytes_peak + 1);
	est_free(&e);
	est_free(&again);
}

static void test_max_pages(void **state)
{
	struct estimate e;
	struct est_digest d = content(1);
	size_t a;

	(void)state;
	est_init(&e);
	e.max_pages = 3;
	a = add(&e, "a", "team");
	assert_int_equal(est_add_page(&e, a, 1, &d), 1);
	assert_int_equal(est_add_page(&e, a, 2, &d), 1);
	assert_int_equal(est_add_page(&e, a, 3, &d), 1);
	assert_int_equal(est_add_page(&e, a, 4, &d), -E2BIG);
	assert_true(e.truncated);
	finish(&e);
	assert_int_equal(e.node.anon_pages, 3);
	est_free(&e);
}

static void test_maps_and_pagemap_parsing(void **state)
{
	struct anon_vma v;
	uint64_t pfn;

	(void)state;
	assert_int_equal(anon_maps_parse_line("7f00-7f10 rw-p 00000000 00:00 0 \n", &v), 0);
	assert_true(v.start == 0x7f00 && v.end == 0x7f10 && anon_vma_eligible(&v));
	assert_int_equal(anon_maps_parse_line("5600-5700 rw-p 00000000 00:00 0          [heap]\n", &v), 0);
	assert_true(anon_vma_eligible(&v));
	assert_int_equal(anon_maps_parse_line("7fff-8000 r--p 00000000 00:00 0     [vvar]\n", &v), 0);
	assert_false(anon_vma_eligible(&v));
	assert_int_equal(anon_maps_parse_line("7000-8000 rw-s 00000000 00:05 123  /dev/zero (deleted)\n", &v), 0);
	assert_false(anon_vma_eligible(&v));
	assert_int_equal(anon_maps_parse_line("garbage\n", &v), -EINVAL);

	assert_true(anon_pagemap_entry_wanted(PAGEMAP_PRESENT | 1234, 99, &pfn));
	assert_int_equal(pfn, 1234);
	assert_false(anon_pagemap_entry_wanted(PAGEMAP_PRESENT | 99, 99, &pfn));          /* zero page */
	assert_false(anon_pagemap_entry_wanted(PAGEMAP_PRESENT | PAGEMAP_FILE_OR_SHARED | 5, 0, &pfn));
	assert_false(anon_pagemap_entry_wanted(PAGEMAP_SWAPPED | 5, 0, &pfn));
	assert_false(anon_pagemap_entry_wanted(0, 0, &pfn));
	/* Only a frame mapped more than once may be a KSM page worth a lookup. */
	assert_true(anon_pagemap_entry_maybe_ksm(PAGEMAP_PRESENT | 1234, 1234));
	assert_false(anon_pagemap_entry_maybe_ksm(PAGEMAP_PRESENT | PAGEMAP_EXCLUSIVE | 1234, 1234));
	assert_false(anon_pagemap_entry_maybe_ksm(PAGEMAP_PRESENT, 0)); /* frames not visible */
}

#define REGION_PAGES 8192

/* Fill distinct pages, fork a child that only sleeps, and scan both as
 * one container: with frames visible the shared pages count once. */
static void test_fork_shared_pages_counted_once(void **state)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct estimate self, both;
	long ps = sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, REGION_PAGES * (size_t)ps, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t pids[2] = { getpid(), 0 };
	size_t i, a;

	(void)state;
	if (geteuid() != 0)
		skip(); /* frames are visible to CAP_SYS_ADMIN only */
	assert_true(p != MAP_FAILED);
	for (i = 0; i < REGION_PAGES; i++)
		memset(p + i * (size_t)ps, (int)(i % 251) + 1, (size_t)ps);
	pids[1] = fork();
	assert_true(pids[1] >= 0);
	if (pids[1] == 0) {
		pause();
		_exit(0);
	}
	est_init(&self);
	a = add(&self, "self", "d");
	assert_int_equal(est_scan_pids(&self, a, pids, 1, &err), 0);
	finish(&self);
	est_init(&both);
	a = add(&both, "both", "d");
	assert_int_equal(est_scan_pids(&both, a, pids, 2, &err), 0);
	finish(&both);
	kill(pids[1], SIGKILL);
	waitpid(pids[1], NULL, 0);

	print_message("self %lu pages, self+child %lu pages\n", (unsigned long)self.node.anon_pages, (unsigned long)both.node.anon_pages);
	assert_true(self.pfn_known);
	assert_true(self.node.anon_pages >= REGION_PAGES);
	/* The child adds only the pages either wrote after fork (stack, the
	 * heap of this scan); counted per process it would add the region. */
	assert_true(both.node.anon_pages < self.node.anon_pages + REGION_PAGES / 4);
	assert_int_equal(both.containers[0].processes, 2);
	/* 251 distinct fillings in the region: all but 251 pages to save. */
	assert_true(self.node.saving_pages >= REGION_PAGES - 251);
	est_free(&self);
	est_free(&both);
	munmap(p, REGION_PAGES * (size_t)ps);
}

static void test_exited_process_is_skipped(void **state)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct estimate e;
	pid_t pid = fork();
	size_t a;

	(void)state;
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0); /* reaped: the pid is gone */
	est_init(&e);
	a = add(&e, "gone", "d");
	assert_int_equal(est_scan_pids(&e, a, &pid, 1, &err), 0);
	assert_int_equal(e.containers[a].exited, 1);
	assert_int_equal(e.containers[a].processes, 0);
	finish(&e);
	assert_int_equal(e.node.anon_pages, 0);
	est_free(&e);
}

/* Two domains as in test_two_domains_vs_ignoring_them, finished. */
static void two_domains(struct estimate *e)
{
	struct est_digest x = content(1), y = content(2), z = content(3);
	size_t a1, a2, b1;
	uint64_t pfn = 1;

	est_init(e);
	a1 = add(e, "a1", "team-a");
	b1 = add(e, "b1", "team-b");
	a2 = add(e, "a2", "team-a");
	est_add_page(e, a1, pfn++, &x);
	est_add_page(e, a1, pfn++, &x);
	est_add_page(e, a2, pfn++, &x);
	est_add_page(e, a2, pfn++, &y);
	est_add_page(e, b1, pfn++, &x);
	est_add_page(e, b1, pfn++, &x);
	est_add_page(e, b1, pfn++, &x);
	est_add_page(e, b1, pfn++, &y);
	est_add_page(e, b1, pfn++, &z);
	finish(e);
}

static void test_record_round_trip(void **state)
{
	char dir[] = "/tmp/sp-test-estrec.XXXXXX";
	_cleanup_error_ sp_error_t err = NULL;
	struct est_record r, back;
	const struct est_record_domain *d;
	struct estimate e;
	char path[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(est_record_load(dir, &back, &err), -ENOENT);
	assert_null(err);
	two_domains(&e);
	/* team-a had 4 pages merged by KSM into one already (sharing 3/4: 3
	 * saved, which the scan counted already, each mapping as a page) and 2
	 * pages merged into the shared zero page, which the scan cannot see. */
	e.domains[0].f.ksm_now.merging_pages = 4;
	e.node.ksm_now.merging_pages = 4;
	e.domains[0].f.ksm_now.zero_pages = 2;
	e.node.ksm_now.zero_pages = 2;
	assert_int_equal(est_record_from(&e, 4096, 0.75, 1700000000, &r, &err), 0);
	est_free(&e);
	assert_int_equal(est_record_save(dir, &r, &err), 0);
	assert_int_equal(est_record_load(dir, &back, &err), 0);
	assert_int_equal(back.time, 1700000000);
	assert_true(back.complete);
	assert_int_equal(back.containers, 3);
	assert_int_equal(back.node.anon_bytes, (9 + 2) * 4096);
	assert_int_equal(back.node.achievable_bytes, (4 + 2) * 4096);
	assert_int_equal(back.node.saved_at_scan_bytes, (3 + 2) * 4096);
	assert_int_equal(back.node.achievable_any_bytes, (6 + 2) * 4096);
	d = est_record_find(&back, "team-a");
	assert_non_null(d);
	assert_int_equal(d->f.achievable_bytes, (2 + 2) * 4096);
	assert_int_equal(back.n_domains, 2);
	d = est_record_find(&back, "team-b");
	assert_non_null(d);
	assert_int_equal(d->containers, 1);
	assert_int_equal(d->f.anon_bytes, 5 * 4096); /* nothing merged in team-b */
	assert_int_equal(d->f.achievable_bytes, 2 * 4096);
	assert_null(est_record_find(&back, "team-c"));
	est_record_free(&r);
	est_record_free(&back);

	/* A kernel whose kpageflags cannot tell KSM frames apart: the scan
	 * counted the merged frame once, so all KSM saved comes from ksm_stat. */
	two_domains(&e);
	e.ksm_unknown = true;
	e.domains[0].f.ksm_now.merging_pages = 4;
	e.node.ksm_now.merging_pages = 4;
	e.domains[0].f.ksm_now.zero_pages = 2;
	e.node.ksm_now.zero_pages = 2;
	assert_int_equal(est_record_from(&e, 4096, 0.75, 1700000000, &r, &err), 0);
	est_free(&e);
	assert_int_equal(r.node.anon_bytes, (9 + 3 + 2) * 4096);
	assert_int_equal(r.node.achievable_bytes, (4 + 3 + 2) * 4096);
	assert_int_equal(r.node.saved_at_scan_bytes, (3 + 2) * 4096);
	est_record_free(&r);

	/* A file of another version is an error naming it, not a zero. */
	snprintf(path, sizeof(path), "%s/%s", dir, EST_RECORD_FILE);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"version\": 2, \"time\": 1}", f);
	fclose(f);
	assert_int_equal(est_record_load(dir, &back, &err), -EINVAL);
	assert_non_null(strstr(sp_error_msg(err), "estimate.json"));
	unlink(path);
	rmdir(dir);
}

static void test_saved_beside_achievable(void **state)
{
	struct ksm_report r = { 0 };
	struct est_record_domain dom = { .domain = "team-a", .f = { .achievable_bytes = 8 * 4096 } };
	struct ksm_report_domain rd = { .domain = "team-a" };
	int64_t saved, achievable;

	(void)state;
	/* One KSM page mapped 4 times saves 3 pages; 2 zero pages save 2. */
	r.node.page_size = 4096;
	r.node.pages_shared = 1;
	r.node.pages_sharing = 3;
	rd.stat.merging_pages = 4;
	rd.stat.zero_pages = 2;
	r.domains = &rd;
	r.n_domains = 1;
	r.total = rd.stat;
	assert_int_equal(ksm_report_saved_bytes(&r, &rd.stat), 5 * 4096);
	assert_false(ksm_report_estimate_pair(&r, "team-a", &saved, &achievable));
	r.has_estimate = true;
	r.estimate.domains = &dom;
	r.estimate.n_domains = 1;
	r.estimate.node.achievable_bytes = 10 * 4096;
	assert_true(ksm_report_estimate_pair(&r, "team-a", &saved, &achievable));
	assert_int_equal(saved, 5 * 4096);
	assert_int_equal(achievable, 8 * 4096);
	assert_false(ksm_report_estimate_pair(&r, "team-b", &saved, &achievable));
	assert_true(ksm_report_estimate_pair(&r, NULL, &saved, &achievable));
	assert_int_equal(achievable, 10 * 4096);
	assert_true(fabs(est_record_ratio(saved, achievable) - 0.5) < 1e-9);
	assert_true(est_record_ratio(5, 0) < 0);
	assert_true(est_record_ratio(20, 10) == 1);
}

static void test_config_estimate_block(void **state)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct sp_config cfg;

	(void)state;
	sp_config_defaults(&cfg);
	assert_int_equal(sp_config_parse("{}", "t", &cfg, &err), 0);
	assert_true(cfg.estimate.pays_percent == 5);
	assert_int_equal(cfg.estimate.max_age_secs, 86400);
	assert_int_equal(sp_config_parse("{\"estimate\": {\"pays_percent\": 12.5, \"max_age_secs\": 60}}", "t", &cfg,
					 &err), 0);
	assert_true(cfg.estimate.pays_percent == 12.5);
	assert_int_equal(cfg.estimate.max_age_secs, 60);
	sp_config_free(&cfg);
	assert_true(sp_config_parse("{\"estimate\": {\"pays_percent\": 0}}", "t", &cfg, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "estimate.pays_percent"));
	sp_error_free(&err);
	assert_true(sp_config_parse("{\"estimate\": {\"pays\": 3}}", "t", &cfg, &err) < 0);
	assert_non_null(strstr(sp_error_msg(err), "estimate.pays"));
	sp_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_counted_once),
		cmocka_unit_test(test_ksm_frames_count_per_mapping),
		cmocka_unit_test(test_zero_pages),
		cmocka_unit_test(test_two_domains_vs_ignoring_them),
		cmocka_unit_test(test_sampling),
		cmocka_unit_test(test_max_pages),
		cmocka_unit_test(test_maps_and_pagemap_parsing),
		cmocka_unit_test(test_fork_shared_pages_counted_once),
		cmocka_unit_test(test_exited_process_is_skipped),
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_saved_beside_achievable),
		cmocka_unit_test(test_config_estimate_block),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
