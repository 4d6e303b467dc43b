/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/kcmp.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "node/backend.h"
#include "cgroupfs/cgroup.h"
#include "host/ksm.h"
#include "cgroupfs/native.h"
#include "host/proc.h"
#include "node/stat.h"

/* ksm_stat is six short lines, statm one; anything longer is not them. */
#define PROC_SMALL_MAX 1024
/* A process tree larger than this is not a workload we report on. */
#define TREE_MAX 1000000

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

const char *ksm_format_size(int64_t bytes, char *buf, size_t size)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	uint64_t mag = bytes < 0 ? (uint64_t)(-(bytes + 1)) + 1 : (uint64_t)bytes;
	double v;
	size_t u = 0;

	if (mag < 1024) {
		snprintf(buf, size, "%" PRId64 "B", bytes);
		return buf;
	}
	v = (double)mag / 1024;
	/* 1023.95 KiB would print as "1024.0KiB": move up a unit first. */
	while (v >= 1023.95 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%s%.1f%s", bytes < 0 ? "-" : "", v, units[u]);
	return buf;
}

int ksm_stat_parse_proc(const char *text, struct ksm_proc_sample *s)
{
	const char *line = text;
	bool any = false;

	s->rmap_items = s->zero_pages = s->merging_pages = s->profit = 0;
	s->merge_any = -1;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t klen = strcspn(line, ": \t\n");
		const char *v = line + klen;

		while (*v == ':' || *v == ' ' || *v == '\t')
			v++;
#define KEY(name) (klen == sizeof(name) - 1 && strncmp(line, name, klen) == 0)
		if (KEY("ksm_rmap_items"))
			s->rmap_items = strtoll(v, NULL, 10);
		else if (KEY("ksm_zero_pages"))
			s->zero_pages = strtoll(v, NULL, 10);
		else if (KEY("ksm_merging_pages"))
			s->merging_pages = strtoll(v, NULL, 10);
		else if (KEY("ksm_process_profit"))
			s->profit = strtoll(v, NULL, 10);
		else if (KEY("ksm_merge_any"))
			s->merge_any = strncmp(v, "yes", 3) == 0;
#undef KEY
		any = any || klen > 0;
		line = nl ? nl + 1 : NULL;
	}
	return any ? 0 : -ENODATA;
}

int ksm_stat_parse_statm(const char *text, struct ksm_proc_sample *s)
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

int ksm_proc_sample_read(pid_t pid, struct ksm_proc_sample *s, sp_error_t *err)
{
	char path[64], buf[PROC_SMALL_MAX];
	int ret;

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
	ret = read_small(path, buf, sizeof(buf));
	if (ret == -ESRCH)
		return ret;
	if (ret < 0)
		return sp_error_set(err, -ret, "read `%s`", path);
	if (ksm_stat_parse_proc(buf, s) < 0)
		return -ESRCH; /* no mm: exiting, a zombie, or a kernel thread */
	/* A pid reused between the two reads would mix two processes' figures
	 * in one sample; both are momentary readings anyway, and the sums are
	 * a snapshot of a node that keeps changing. */
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	ret = read_small(path, buf, sizeof(buf));
	if (ret == -ESRCH)
		return ret;
	if (ret < 0)
		return sp_error_set(err, -ret, "read `%s`", path);
	if (ksm_stat_parse_statm(buf, s) < 0)
		return -ESRCH; /* an exiting process prints zeros or nothing */
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

int ksm_stat_cgroup(const char *path, struct ksm_group_stat *out, sp_error_t *err)
{
	_cleanup_(pid_list_free) struct pid_list l = { 0 };
	_cleanup_free_ char *native = NULL;
	int ret;

	ret = cgroup_procs_read(path, true, &l, err);
	if (ret < 0)
		return ret;
	pid_list_sort_unique(&l);
	ret = ksm_stat_pids(l.pids, l.n, out, err);
	if (ret < 0)
		return sp_error_wrap(err, "cgroup `%s`", path);

	/* The native controller sums ksm_stat in the kernel, consistently. */
	if (!ksm_native_available())
		return 0;
	if (asprintf(&native, "%s/ksm.stat", path) < 0)
		return sp_error_set(err, ENOMEM, "cgroup `%s`", path);
	if (access(native, R_OK) == 0) {
		struct ksm_cg_stat cs;

		ret = ksm_native_stat(path, &cs, err);
		if (ret < 0)
			return ret;
		out->processes = cs.nr_processes;
		out->merge_any = cs.nr_merge_any;
		out->merge_any_known = true;
		out->rmap_items = cs.rmap_items;
		out->merging_pages = cs.merging_pages;
		out->zero_pages = cs.zero_pages;
		out->profit = cs.process_profit;
	}
	return 0;
}

static int tree_add_children(pid_t pid, struct pid_list *l, sp_error_t *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0; /* exited */
	while ((de = readdir(d))) {
		_cleanup_free_ char *buf = NULL;
		char file[384];
		const char *p;

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/children", path, de->d_name);
		if (read_file_bounded(AT_FDCWD, file, 1 << 20, &buf, NULL, NULL) < 0)
			continue; /* the thread exited */
		for (p = buf; *p;) {
			char *end;
			long c = strtol(p, &end, 10);

			if (end == p)
				break;
			if (l->n >= TREE_MAX)
				return sp_error_set(err, E2BIG, "process tree of pid %d: more than %d processes",
						    (int)pid, TREE_MAX);
			if (c > 0 && pid_list_add(l, (pid_t)c) < 0)
				return sp_error_set(err, ENOMEM, "process tree of pid %d", (int)pid);
			p = end;
		}
	}
	return 0;
}

int ksm_proc_tree(pid_t pid, struct pid_list *l, sp_error_t *err)
{
	size_t i;
	int ret;

	if (pid_list_add(l, pid) < 0)
		return sp_error_set(err, ENOMEM, "process tree of pid %d", (int)pid);
	/* l grows while we walk it: breadth first. */
	for (i = l->n - 1; i < l->n; i++) {
		ret = tree_add_children(l->pids[i], l, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

const char *ksmd_manager_name(enum ksmd_manager m)
{
	switch (m) {
	case KSMD_SAMEPAGE: return "samepage";
	case KSMD_OTHER: return "other";
	default: return "off";
	}
}

static int64_t knob_num(const char *name)
{
	uint64_t v;

	if (!ksm_knob_exists(name) || ksm_knob_read_u64(name, &v, NULL) < 0)
		return -1;
	return (int64_t)v;
}

int ksm_node_stat_read(const struct sp_state *st, struct ksm_node_stat *n, sp_error_t *err)
{
	struct utsname u;
	_cleanup_free_ char *mode = NULL;
	_cleanup_free_ char *profit = NULL;

	memset(n, 0, sizeof(*n));
	if (uname(&u) == 0)
		snprintf(n->kernel, sizeof(n->kernel), "%s", u.release);
	n->backend = ksm_backend_name(ksm_backend_detect());
	n->page_size = sysconf(_SC_PAGESIZE);
	if (!ksm_knob_exists("run"))
		return sp_error_set(err, ENOENT, "`%s/run` not found: this kernel has no KSM (CONFIG_KSM)",
				    ksm_sysfs_dir());
	n->run = knob_num("run");
	n->pages_to_scan = knob_num("pages_to_scan");
	n->sleep_millisecs = knob_num("sleep_millisecs");
	n->smart_scan = knob_num("smart_scan");
	n->use_zero_pages = knob_num("use_zero_pages");
	n->max_page_sharing = knob_num("max_page_sharing");
	if (ksm_knob_exists("advisor_mode") && ksm_knob_read("advisor_mode", &mode, NULL) == 0)
		snprintf(n->advisor_mode, sizeof(n->advisor_mode), "%s", mode);
	n->pages_shared = knob_num("pages_shared");
	n->pages_sharing = knob_num("pages_sharing");
	n->pages_unshared = knob_num("pages_unshared");
	n->pages_volatile = knob_num("pages_volatile");
	n->ksm_zero_pages = knob_num("ksm_zero_pages");
	n->full_scans = knob_num("full_scans");
	n->stable_node_chains = knob_num("stable_node_chains");
	n->stable_node_dups = knob_num("stable_node_dups");
	/* general_profit is signed: rmap_items can cost more than merging saves. */
	n->general_profit = -1;
	if (ksm_knob_exists("general_profit") && ksm_knob_read("general_profit", &profit, NULL) == 0)
		n->general_profit = strtoll(profit, NULL, 10);
	if (st && st->ksmd_managed)
		n->manager = KSMD_SAMEPAGE;
	else
		n->manager = n->run > 0 ? KSMD_OTHER : KSMD_OFF;
	return 0;
}

static bool entry_running(const struct sp_container *c)
{
	struct proc_info pi;

	if (c->pid <= 0)
		return false;
	if (c->start_time)
		return proc_alive(c->pid, c->start_time);
	/* Refusals recorded before the start time was known. */
	return proc_info_read(c->pid, &pi, NULL) == 0 && pi.state != 'Z' && pi.state != 'X';
}

static char *strdup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void row_set_error(struct ksm_report_row *row, sp_error_t *e)
{
	free(row->error);
	row->error = strdup(sp_error_msg(*e));
	sp_error_free(e);
}

/* What the state says about a container (before any /proc read). */
static void row_init_entry(struct ksm_report_row *row, const struct sp_container *c)
{
	row->id = strdup(c->id);
	row->domain = strdup_or_null(c->domain);
	row->backend = strdup_or_null(c->backend);
	row->reason = strdup_or_null(c->reason);
	row->pid = c->pid;
	row->in_state = true;
	row->enabled = c->enabled;
}

/* Figures of a container of the state. */
static void row_read_entry(struct ksm_report_row *row, const struct sp_container *c)
{
	sp_error_t e = NULL;
	int ret;

	row->running = entry_running(c);
	if (!row->running)
		return;

	if (c->cgroup) {
		row->cgroup = strdup(c->cgroup);
	} else if (strncmp(c->id, "pid:", 4) == 0) {
		/* `samepage enable --pid`: that process and what it forked. */
		_cleanup_(pid_list_free) struct pid_list l = { 0 };

		ret = ksm_proc_tree(c->pid, &l, &e);
		if (ret == 0)
			ret = ksm_stat_pids(l.pids, l.n, &row->stat, &e);
		if (ret < 0)
			row_set_error(row, &e);
		return;
	} else {
		ret = cgroup_of_pid(c->pid, &row->cgroup, &e);
		if (ret < 0) {
			row_set_error(row, &e);
			return;
		}
	}
	if (!row->cgroup) {
		row->error = strdup("out of memory");
		return;
	}
	ret = ksm_stat_cgroup(row->cgroup, &row->stat, &e);
	if (ret < 0) {
		/* The container went away between the two reads. */
		if (!entry_running(c))
			row->running = false;
		else
			row_set_error(row, &e);
		sp_error_free(&e);
	}
}

/* Figures of a row: a state entry, or a cgroup given by path (c NULL). */
static void row_read(struct ksm_report_row *row, const struct sp_container *c)
{
	sp_error_t e = NULL;

	if (c) {
		row_read_entry(row, c);
		return;
	}
	if (ksm_stat_cgroup(row->cgroup, &row->stat, &e) < 0)
		row_set_error(row, &e);
}

/*
 * Rows are independent and reading them is all small /proc and cgroupfs
 * reads, so they are read by a few threads: a hundred containers with a
 * thousand processes take half the time on two CPUs, and a busy node
 * schedules two readers more often than one.
 */
#define READERS_MAX 4
#define ROWS_PER_READER 16

struct read_ctx {
	struct ksm_report_row *rows;
	const struct sp_container **entries;
	size_t n;
	size_t next;
};

static void *read_rows(void *arg)
{
	struct read_ctx *ctx = arg;

	for (;;) {
		size_t i = __atomic_fetch_add(&ctx->next, 1, __ATOMIC_RELAXED);

		if (i >= ctx->n)
			return NULL;
		row_read(&ctx->rows[i], ctx->entries[i]);
	}
}

static void read_all_rows(struct read_ctx *ctx)
{
	pthread_t threads[READERS_MAX - 1];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t want = ctx->n / ROWS_PER_READER, started = 0, i;

	if (want > READERS_MAX)
		want = READERS_MAX;
	if (cpus > 0 && want > (size_t)cpus)
		want = (size_t)cpus;
	/* This thread is one reader; a thread that cannot start is not
	 * needed for correctness. */
	for (i = 1; i < want; i++)
		if (pthread_create(&threads[started], NULL, read_rows, ctx) == 0)
			started++;
	read_rows(ctx);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
}

static const struct sp_container *find_by_cgroup(const struct sp_state *st, const char *path)
{
	size_t i;

	for (i = 0; i < st->n_containers; i++)
		if (st->containers[i].cgroup && strcmp(st->containers[i].cgroup, path) == 0)
			return &st->containers[i];
	return NULL;
}

static int cmp_str_null(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int cmp_rows(const void *x, const void *y)
{
	const struct ksm_report_row *a = x, *b = y;
	int c = cmp_str_null(a->domain, b->domain);

	return c ? c : strcmp(a->id, b->id);
}

static int report_add_row(struct ksm_report *r, size_t *cap, struct ksm_report_row **row)
{
	if (r->n_rows == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct ksm_report_row *nr = realloc(r->rows, ncap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		r->rows = nr;
		*cap = ncap;
	}
	*row = &r->rows[r->n_rows++];
	memset(*row, 0, sizeof(**row));
	ksm_group_stat_init(&(*row)->stat);
	return 0;
}

static int report_domains(struct ksm_report *r)
{
	size_t i;

	/* Rows are sorted by domain: one domain row per run. */
	for (i = 0; i < r->n_rows; i++) {
		const struct ksm_report_row *row = &r->rows[i];
		struct ksm_report_domain *d;

		ksm_group_stat_add(&r->total, &row->stat);
		if (!row->domain)
			continue;
		if (r->n_domains == 0 || strcmp(r->domains[r->n_domains - 1].domain, row->domain) != 0) {
			struct ksm_report_domain *nd = realloc(r->domains, (r->n_domains + 1) * sizeof(*nd));

			if (!nd)
				return -ENOMEM;
			r->domains = nd;
			d = &r->domains[r->n_domains++];
			memset(d, 0, sizeof(*d));
			ksm_group_stat_init(&d->stat);
			d->domain = strdup(row->domain);
			if (!d->domain)
				return -ENOMEM;
		}
		d = &r->domains[r->n_domains - 1];
		d->containers++;
		ksm_group_stat_add(&d->stat, &row->stat);
	}
	return 0;
}

static int add_job(struct ksm_report *r, size_t *cap, const struct sp_container ***entries,
		   const struct sp_container *c, struct ksm_report_row **row)
{
	size_t old_cap = *cap;

	if (report_add_row(r, cap, row) < 0)
		return -ENOMEM;
	if (*cap != old_cap) {
		const struct sp_container **n = realloc(*entries, *cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		*entries = n;
	}
	(*entries)[r->n_rows - 1] = c;
	return 0;
}

int ksm_report_collect(const struct sp_state *st, const char *domain, char *const *targets, size_t n_targets,
		       struct ksm_report *r, sp_error_t *err)
{
	_cleanup_free_ const struct sp_container **entries = NULL;
	struct ksm_report_row *row;
	size_t i, cap = 0;
	int ret;

	memset(r, 0, sizeof(*r));
	ksm_group_stat_init(&r->total);
	ret = ksm_node_stat_read(st, &r->node, err);
	if (ret < 0)
		return ret;

	/* First the rows as the state and the arguments define them... */
	if (n_targets == 0) {
		for (i = 0; i < st->n_containers; i++) {
			const struct sp_container *c = &st->containers[i];

			if (domain && cmp_str_null(c->domain, domain) != 0)
				continue;
			if (add_job(r, &cap, &entries, c, &row) < 0)
				return sp_error_set(err, ENOMEM, "status report");
			row_init_entry(row, c);
		}
	}
	for (i = 0; i < n_targets; i++) {
		const struct sp_container *c = sp_state_find((struct sp_state *)st, targets[i]);

		if (!c && !cgroup_path_valid(targets[i]))
			return sp_error_set(err, ENOENT, "`%s`: no such container in the node state, and not a cgroup directory",
					    targets[i]);
		if (!c)
			c = find_by_cgroup(st, targets[i]);
		if (domain && (!c || cmp_str_null(c->domain, domain) != 0))
			continue;
		if (add_job(r, &cap, &entries, c, &row) < 0)
			return sp_error_set(err, ENOMEM, "status report");
		if (c) {
			row_init_entry(row, c);
			continue;
		}
		row->id = strdup(targets[i]);
		row->cgroup = strdup(targets[i]);
		row->running = true;
		if (!row->cgroup)
			return sp_error_set(err, ENOMEM, "status report");
	}
	for (i = 0; i < r->n_rows; i++)
		if (!r->rows[i].id)
			return sp_error_set(err, ENOMEM, "status report");

	/* ...then their figures. */
	struct read_ctx ctx = { .rows = r->rows, .entries = entries, .n = r->n_rows };
	read_all_rows(&ctx);

	if (r->n_rows > 1)
		qsort(r->rows, r->n_rows, sizeof(*r->rows), cmp_rows);
	if (report_domains(r) < 0)
		return sp_error_set(err, ENOMEM, "status report");
	return 0;
}

void ksm_report_free(struct ksm_report *r)
{
	size_t i;

	for (i = 0; i < r->n_rows; i++) {
		struct ksm_report_row *row = &r->rows[i];

		free(row->id);
		free(row->domain);
		free(row->cgroup);
		free(row->backend);
		free(row->reason);
		free(row->error);
	}
	free(r->rows);
	for (i = 0; i < r->n_domains; i++)
		free(r->domains[i].domain);
	free(r->domains);
	memset(r, 0, sizeof(*r));
}
