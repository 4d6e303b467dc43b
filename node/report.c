/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "host/ksm.h"
#include "host/proc.h"
#include "cgroupfs/cgroup.h"
#include "cgroupfs/figures.h"
#include "node/backend.h"
#include "node/report.h"
#include "cgroupfs/native-domain.h"

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
	if (c->enabled && sp_state_is_pid_entry(c)) {
		_cleanup_(pid_list_free) struct pid_list l = { 0 };

		return sp_lineage_pids(c, &l, NULL) > 0; /* node/state.h */
	}
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

/* The kernel domain the cgroup is in, against the one recorded. */
static void row_read_kdomain(struct ksm_report_row *row, const struct sp_container *c)
{
	struct ksm_domain_state d;

	row->kdomain = c->kdomain;
	if (ksm_domain_effective(row->cgroup, &d, NULL) < 0)
		return;
	row->kdomain_known = true;
	row->kdomain_deny = d.deny;
	row->kdomain_effective = d.id;
	row->kdomain_mismatch = c->kdomain && c->enabled && (d.deny || d.id != c->kdomain);
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
		/* `samepage enable --pid`: that process and what it forked
		 * (node/state.h), also once it exited. */
		_cleanup_(pid_list_free) struct pid_list l = { 0 };

		ret = sp_lineage_pids(c, &l, &e);
		if (ret > 0)
			ret = 0;
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
	row_read_kdomain(row, c);
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

/* Node-wide, whatever rows were asked for: a self-opting process matters
 * to every domain on the node.  Not being able to tell is not fatal. */
static void report_unattributed(const struct sp_state *st, struct ksm_report *r)
{
	sp_error_t e = NULL;

	if (sp_unattributed_collect(st, false, &r->unattributed, &e) < 0) {
		r->unattributed_error = strdup(sp_error_msg(e));
		sp_error_free(&e);
	}
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
	report_unattributed(st, r);
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
	sp_unattributed_free(&r->unattributed);
	free(r->unattributed_error);
	est_record_free(&r->estimate);
	free(r->estimate_error);
	memset(r, 0, sizeof(*r));
}

const char *ksm_report_row_state(const struct ksm_report_row *row)
{
	if (!row->in_state)
		return "-";
	if (!row->running)
		return "exited";
	if (row->error)
		return "error";
	return row->enabled ? "on" : "refused";
}

bool ksm_report_row_has_figures(const struct ksm_report_row *row)
{
	return row->running && !row->error;
}

void ksm_report_add_estimate(struct ksm_report *r, const char *state_dir)
{
	_cleanup_error_ sp_error_t e = NULL;
	int ret = est_record_load(state_dir, &r->estimate, &e);

	r->now = (int64_t)time(NULL);
	r->has_estimate = ret == 0;
	if (ret < 0 && ret != -ENOENT)
		r->estimate_error = strdup(sp_error_msg(e));
}

int64_t ksm_report_saved_bytes(const struct ksm_report *r, const struct ksm_group_stat *s)
{
	const struct ksm_node_stat *n = &r->node;
	double mapped = (double)(n->pages_shared > 0 ? n->pages_shared : 0) +
			(double)(n->pages_sharing > 0 ? n->pages_sharing : 0);
	double sharing = mapped > 0 ? (double)n->pages_sharing / mapped : 0;

	return est_ksm_saved_bytes(s, sharing, n->page_size);
}

bool ksm_report_estimate_pair(const struct ksm_report *r, const char *domain, int64_t *saved, int64_t *achievable)
{
	const struct est_record_domain *d;
	size_t i;

	if (!r->has_estimate)
		return false;
	if (!domain) {
		*achievable = r->estimate.node.achievable_bytes;
		*saved = ksm_report_saved_bytes(r, &r->total);
		return true;
	}
	if (!(d = est_record_find(&r->estimate, domain)))
		return false;
	*achievable = d->f.achievable_bytes;
	*saved = 0;
	for (i = 0; i < r->n_domains; i++)
		if (strcmp(r->domains[i].domain, domain) == 0)
			*saved = ksm_report_saved_bytes(r, &r->domains[i].stat);
	return true;
}
