/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "base/cleanup.h"
#include "host/ksm.h"
#include "host/sample.h"

/* ksm_stat is six short lines, statm one; anything longer is not them. */
#define PROC_SMALL_MAX 1024

void ksm_group_stat_init(struct ksm_group_stat *s)
{
	memset(s, 0, sizeof(*s));
	s->merge_any_known = true;
}

void ksm_group_stat_add(struct ksm_group_stat *sum, const struct ksm_group_stat *s)
{
	sum->processes += s->processes;
	sum->merge_any += s->merge_any;
	sum->merge_any_known = sum->merge_any_known && s->merge_any_known;
	sum->rmap_items += s->rmap_items;
	sum->merging_pages += s->merging_pages;
	sum->zero_pages += s->zero_pages;
	sum->profit += s->profit;
	sum->anon_bytes += s->anon_bytes;
}

double ksm_group_merged_share(const struct ksm_group_stat *s, long page_size)
{
	double anon_pages = (double)s->anon_bytes / (double)page_size;
	double denom = anon_pages + (double)s->zero_pages;
	double share;

	if (denom <= 0)
		return 0;
	share = ((double)s->merging_pages + (double)s->zero_pages) / denom;
	/* The two files are read a moment apart; never report above 100 %. */
	return share > 1 ? 1 : share;
}

static int parse_statm(const char *text, struct ksm_proc_sample *s)
{
	unsigned long long size, resident, shared;

	if (sscanf(text, "%llu %llu %llu", &size, &resident, &shared) != 3)
		return -EINVAL;
	s->vm_pages = size;
	s->resident_pages = resident;
	/* statm's "shared" is file-backed plus shmem pages: the rest of the
	 * resident set is RssAnon. */
	s->anon_pages = resident > shared ? resident - shared : 0;
	return 0;
}

int ksm_proc_sample_parse(const char *ksm_stat, const char *statm, struct ksm_proc_sample *s)
{
	struct ksm_proc_stat ks;

	/* The kernel prints nothing for a task without an mm. */
	if (ksm_stat[strspn(ksm_stat, " \t\n")] == '\0')
		return -ENODATA;
	ksm_proc_stat_parse(ksm_stat, &ks);
	s->rmap_items = ks.rmap_items;
	s->zero_pages = ks.zero_pages;
	s->merging_pages = ks.merging_pages;
	s->profit = ks.process_profit;
	s->merge_any = ks.merge_any;
	return parse_statm(statm, s);
}

/*
 * Read a small /proc file in one read(): these are single_open seq files,
 * which hand over the whole text in the first read when the buffer holds
 * it, so a short read is the end (the second read would cost as much as the
 * first on a node with a thousand processes).  -ESRCH when the process is
 * gone.
 */
static int read_small(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ESRCH : -errno;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ENOENT || errno == ESRCH ? -ESRCH : -errno;
	if ((size_t)n == size - 1)
		return -EFBIG;
	buf[n] = '\0';
	return (int)n;
}

/* Read one of pid's small /proc files into buf; -ESRCH when it is gone. */
static int read_proc_small(pid_t pid, const char *name, char *buf, size_t size, sp_error_t *err)
{
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	ret = read_small(path, buf, size);
	if (ret < 0 && ret != -ESRCH)
		return sp_error_set(err, -ret, "read `%s`", path);
	return ret;
}

int ksm_proc_sample_read(pid_t pid, struct ksm_proc_sample *s, sp_error_t *err)
{
	char ksm_stat[PROC_SMALL_MAX], statm[PROC_SMALL_MAX];
	int ret;

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	ret = read_proc_small(pid, "ksm_stat", ksm_stat, sizeof(ksm_stat), err);
	if (ret < 0)
		return ret;
	/* A pid reused between the two reads would mix two processes' figures
	 * in one sample; both are momentary readings anyway, and the sums are
	 * a snapshot of a node that keeps changing. */
	ret = read_proc_small(pid, "statm", statm, sizeof(statm), err);
	if (ret < 0)
		return ret;
	/* No mm (exiting, a zombie, a kernel thread) prints nothing or zeros. */
	if (ksm_proc_sample_parse(ksm_stat, statm, s) < 0)
		return -ESRCH;
	return 0;
}

/* Order of samples by everything a shared mm makes equal. */
static int cmp_figures(const struct ksm_proc_sample *a, const struct ksm_proc_sample *b)
{
#define CMP(f)                          \
	if (a->f != b->f)               \
		return a->f < b->f ? -1 : 1;
	CMP(rmap_items) CMP(zero_pages) CMP(merging_pages) CMP(profit) CMP(merge_any) CMP(vm_pages)
	CMP(resident_pages) CMP(anon_pages)
#undef CMP
	return 0;
}

static int cmp_samples(const void *x, const void *y)
{
	const struct ksm_proc_sample *a = x, *b = y;
	int c = cmp_figures(a, b);

	return c ? c : (a->pid > b->pid) - (a->pid < b->pid);
}

/* kcmp orders mms by an obfuscated kernel pointer: 0 same, 1 a < b, 2 a > b. */
static int kcmp_vm(pid_t a, pid_t b)
{
	long r = syscall(SYS_kcmp, a, b, KCMP_VM, 0, 0);

	return r == 0 ? 0 : r == 1 ? -1 : r == 2 ? 1 : -2;
}

static void add_sample(struct ksm_group_stat *out, const struct ksm_proc_sample *s, long page_size)
{
	out->processes++;
	if (s->merge_any < 0)
		out->merge_any_known = false;
	else
		out->merge_any += (uint64_t)s->merge_any;
	out->rmap_items += (uint64_t)(s->rmap_items > 0 ? s->rmap_items : 0);
	out->merging_pages += (uint64_t)(s->merging_pages > 0 ? s->merging_pages : 0);
	out->zero_pages += (uint64_t)(s->zero_pages > 0 ? s->zero_pages : 0);
	out->profit += s->profit;
	out->anon_bytes += s->anon_pages * (uint64_t)page_size;
}

/*
 * Within a run of samples with identical figures, keep the distinct mms in
 * an array ordered by kcmp and binary-search each newcomer: n log n kcmp
 * calls where comparing every pair would be n^2 for many idle processes of
 * one image.  A process kcmp cannot compare (it exited, or kcmp is missing)
 * counts as distinct.
 */
static void sum_run(struct ksm_proc_sample *run, size_t n, ksm_same_mm_fn same_mm, long page_size,
		    struct ksm_group_stat *out)
{
	_cleanup_free_ pid_t *reps = NULL;
	size_t n_reps = 0, i;

	if (n == 1 || (same_mm == NULL && !(reps = malloc(n * sizeof(*reps))))) {
		for (i = 0; i < n; i++)
			add_sample(out, &run[i], page_size);
		return;
	}
	for (i = 0; i < n; i++) {
		size_t lo = 0, hi = n_reps;
		bool dup = false, incomparable = false;

		if (same_mm) {
			/* Test hook: a plain equality, compared with each. */
			for (size_t j = 0; j < i && !dup; j++)
				dup = run[j].pid != 0 && same_mm(run[i].pid, run[j].pid);
			if (!dup)
				add_sample(out, &run[i], page_size);
			else
				run[i].pid = 0;
			continue;
		}
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = kcmp_vm(run[i].pid, reps[mid]);

			if (c == -2) {
				incomparable = true;
				break;
			}
			if (c == 0) {
				dup = true;
				break;
			}
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
		if (dup)
			continue;
		add_sample(out, &run[i], page_size);
		if (incomparable)
			continue;
		memmove(reps + lo + 1, reps + lo, (n_reps - lo) * sizeof(*reps));
		reps[lo] = run[i].pid;
		n_reps++;
	}
}

void ksm_stat_sum_samples(struct ksm_proc_sample *samples, size_t n, ksm_same_mm_fn same_mm,
			  struct ksm_group_stat *out)
{
	long page_size = sysconf(_SC_PAGESIZE);
	size_t i = 0;

	ksm_group_stat_init(out);
	if (n > 1)
		qsort(samples, n, sizeof(*samples), cmp_samples);
	while (i < n) {
		size_t j = i + 1;

		while (j < n && cmp_figures(&samples[i], &samples[j]) == 0)
			j++;
		sum_run(samples + i, j - i, same_mm, page_size, out);
		i = j;
	}
}

static int read_samples(const pid_t *pids, size_t n, struct ksm_proc_sample **out, size_t *n_out, sp_error_t *err)
{
	_cleanup_free_ struct ksm_proc_sample *s = NULL;
	size_t i, k = 0;

	s = calloc(n ? n : 1, sizeof(*s));
	if (!s)
		return sp_error_set(err, ENOMEM, "read %zu processes", n);
	for (i = 0; i < n; i++) {
		int ret = ksm_proc_sample_read(pids[i], &s[k], err);

		if (ret == -ESRCH)
			continue;
		if (ret < 0)
			return ret;
		k++;
	}
	*out = TAKE_PTR(s);
	*n_out = k;
	return 0;
}

int ksm_stat_pids(const pid_t *pids, size_t n, struct ksm_group_stat *out, sp_error_t *err)
{
	_cleanup_free_ struct ksm_proc_sample *s = NULL;
	size_t k = 0;
	int ret;

	ret = read_samples(pids, n, &s, &k, err);
	if (ret < 0)
		return ret;
	ksm_stat_sum_samples(s, k, NULL, out);
	return 0;
}
