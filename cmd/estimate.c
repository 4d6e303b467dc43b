/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage estimate [--json] [--domain D] [CONTAINER | --cgroup PATH |
 * --pid PID]...: what KSM could save on the workloads running now, per
 * container, per domain and for the node, before it is turned on.  The
 * counting is node/estimate.h; this file finds the containers, derives
 * their domains as the hook would, and prints.  The JSON layout is
 * documented in docs/estimate.md ("version": 1; fields may be added, never
 * renamed or removed).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "base/json.h"
#include "oci/oci.h"
#include "oci/runtime.h"
#include "cgroupfs/cgroup.h"
#include "host/anon-scan.h"
#include "host/ksm.h"
#include "host/proc.h"
#include "node/config.h"
#include "node/estimate.h"
#include "node/estimate-record.h"
#include "host/sample.h"
#include "cgroupfs/figures.h"
#include "node/report.h"
#include "node/policy.h"
#include "node/state.h"
#include "cmd/verbs.h"

#define UNKNOWN_DOMAIN "unknown"

static void estimate_usage(FILE *f)
{
	fprintf(f,
		"Usage: samepage estimate [--json] [--domain D] [--sample F] [--max-pages N]\n"
		"                         [CONTAINER | --cgroup PATH | --pid PID]...\n"
		"What KSM could save on the workloads running now, per container, per security\n"
		"domain and for the node, before it is turned on: the anonymous pages of every\n"
		"process are read from /proc (never stopped or traced), hashed (XXH3-128) and\n"
		"counted, each physical page once (a page KSM merged already once per mapping,\n"
		"as before the merge).  Without arguments: every container of the runtimes'\n"
		"state (/run/runc, /run/crun) and of samepage's node state.\n"
		"\nOptions:\n"
		"  -j, --json            machine-readable output (see docs/estimate.md)\n"
		"  -d, --domain D        only containers of domain D; --cgroup/--pid targets count as D\n"
		"  -g, --cgroup PATH     the processes of a cgroup directory (repeatable)\n"
		"  -p, --pid PID         a process and its descendants (repeatable)\n"
		"  -s, --sample F        keep only the fraction F (0 < F <= 1) of contents in the\n"
		"                        table, chosen by hash; savings are scaled and carry a\n"
		"                        standard error\n"
		"  -m, --max-pages N     stop after reading N pages (the result says it is partial)\n"
		"  -r, --runtime-root D  a runtime state root to list (repeatable; replaces the defaults)\n"
		"  -q, --quiet           no progress on stderr\n"
		"  -n, --no-save         do not keep the result for status, metrics and doctor\n"
		"  -h, --help            show this help\n"
		"\nThe node-wide and per-domain result is kept in the state dir (estimate.json):\n"
		"status and metrics show it beside what KSM saves now, doctor says where KSM pays.\n"
		"\nCost: every page is read once at nice 19 in the idle I/O class; memory is at\n"
		"most %d bytes per page read (digest table and frame set; less with --sample).\n"
		"Needs root: CAP_SYS_PTRACE to read /proc/<pid>/mem of other users' processes,\n"
		"CAP_SYS_ADMIN to see frame numbers in /proc/<pid>/pagemap.\n"
		"\nExamples:\n"
		"  samepage estimate\n"
		"  samepage estimate --json | jq '.domains[] | {domain, saving_share}'\n"
		"  samepage estimate --cgroup /sys/fs/cgroup/pids/job7 --domain team-a\n"
		"  samepage estimate --sample 0.1 --max-pages 50000000\n",
		EST_BYTES_PER_PAGE);
}

/* A workload to scan: a container of a runtime or of the node state, or a
 * cgroup or process tree named on the command line. */
struct target {
	char *id;
	char *domain;
	char *cgroup;           /* read its processes, or NULL */
	pid_t pid;              /* else this process and its descendants */
	bool explicit_;         /* named by the user */
	struct pid_list pids;
};

struct targets {
	struct target *t;
	size_t n;
};

static void targets_free(struct targets *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++) {
		free(ts->t[i].id);
		free(ts->t[i].domain);
		free(ts->t[i].cgroup);
		pid_list_free(&ts->t[i].pids);
	}
	free(ts->t);
}

static struct target *targets_find(struct targets *ts, const char *id)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (strcmp(ts->t[i].id, id) == 0)
			return &ts->t[i];
	return NULL;
}

static struct target *targets_add(struct targets *ts, const char *id, const char *domain, sp_error_t *err)
{
	struct target *n = realloc(ts->t, (ts->n + 1) * sizeof(*n)), *t;

	if (!n) {
		sp_error_set(err, ENOMEM, "estimate: `%s`", id);
		return NULL;
	}
	ts->t = n;
	t = &n[ts->n++];
	memset(t, 0, sizeof(*t));
	t->id = strdup(id);
	t->domain = strdup(domain ? domain : UNKNOWN_DOMAIN);
	if (!t->id || !t->domain) {
		sp_error_set(err, ENOMEM, "estimate: `%s`", id);
		return NULL;
	}
	return t;
}

/* The domain the hook derives from a runtime container's annotations
 * (node/domain.h), malloc'd; NULL when the hook would have refused it. */
static char *runtime_domain(const struct oci_state *st, const struct sp_config *cfg)
{
	_cleanup_error_ sp_error_t e = NULL;
	char *domain = NULL;

	return sp_domain_derive(st->annotations, st->n_annotations, cfg, &domain, &e) == 0 ? domain : NULL;
}

static bool entry_alive(const struct sp_container *c)
{
	return c->pid > 0 && (!c->start_time || proc_alive(c->pid, c->start_time));
}

/* Every container the runtimes and samepage's node state know. */
static int targets_from_node(struct targets *ts, const struct sp_state *st, const struct sp_config *cfg,
			     char **roots, size_t n_roots, sp_error_t *err)
{
	size_t r, i;

	for (r = 0; r < n_roots; r++) {
		struct oci_state *list = NULL;
		size_t n = 0;
		int ret = oci_runtime_list(roots[r], &list, &n, err);

		for (i = 0; ret == 0 && i < n; i++) {
			const struct sp_container *c = sp_state_find((struct sp_state *)st, list[i].id);
			_cleanup_free_ char *dom = runtime_domain(&list[i], cfg);
			struct target *t;

			if (list[i].pid <= 0 || targets_find(ts, list[i].id))
				continue; /* stopped, or the same id under two roots */
			t = targets_add(ts, list[i].id, dom ? dom : c ? c->domain : NULL, err);
			if (!t)
				ret = -ENOMEM;
			else
				t->pid = list[i].pid;
		}
		oci_runtime_list_free(list, n);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < st->n_containers; i++) {
		const struct sp_container *c = &st->containers[i];
		struct target *t;

		if (targets_find(ts, c->id) || !entry_alive(c))
			continue;
		t = targets_add(ts, c->id, c->domain, err);
		if (!t)
			return -ENOMEM;
		t->pid = c->pid;
		if (c->cgroup && !(t->cgroup = strdup(c->cgroup)))
			return sp_error_set(err, ENOMEM, "estimate: `%s`", c->id);
	}
	return 0;
}

/* Keep the containers named on the command line (ids of the runtimes or
 * the state, or cgroup directories), in that order. */
static int targets_select(struct targets *ts, char **names, size_t n, sp_error_t *err)
{
	struct targets sel = { 0 };
	size_t i;

	for (i = 0; i < n; i++) {
		struct target *t = targets_find(ts, names[i]), *s;

		if (!t && !cgroup_path_valid(names[i])) {
			targets_free(&sel);
			return sp_error_set(err, ENOENT, "`%s`: no running container of that id, and not a cgroup directory",
					    names[i]);
		}
		s = targets_add(&sel, names[i], t ? t->domain : NULL, err);
		if (!s) {
			targets_free(&sel);
			return -ENOMEM;
		}
		s->pid = t ? t->pid : 0;
		s->explicit_ = !t;
		s->cgroup = t ? (t->cgroup ? strdup(t->cgroup) : NULL) : strdup(names[i]);
	}
	targets_free(ts);
	*ts = sel;
	return 0;
}

/* The processes of a target: its cgroup (found from its pid when not
 * recorded), else its process tree.  0 processes when it is gone. */
static int target_pids(struct target *t, sp_error_t *err)
{
	_cleanup_error_ sp_error_t e = NULL;
	int ret;

	if (!t->cgroup && t->pid > 0 && cgroup_of_pid(t->pid, &t->cgroup, &e) < 0) {
		t->cgroup = NULL; /* in a root cgroup, or gone: its process tree */
		sp_error_free(&e);
	}
	if (t->cgroup) {
		ret = cgroup_procs_read(t->cgroup, true, &t->pids, &e);
		if (ret == -ENOENT)
			return 0;
	} else {
		ret = ksm_proc_tree(t->pid, &t->pids, &e);
		if (ret == -ESRCH || ret == -ENOENT)
			return 0;
	}
	if (ret < 0) {
		*err = TAKE_PTR(e);
		return sp_error_wrap(err, "`%s`", t->id);
	}
	pid_list_sort_unique(&t->pids);
	return 0;
}

/* Progress on stderr: a bar redrawn in place on a terminal, otherwise a
 * plain line every 10 s (logs of a long run show it is alive). */
struct progress {
	bool tty, quiet, drawn;
	struct timespec start, last;
};

static double seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void progress_show(void *ctx, const struct est_progress *p)
{
	struct progress *pr = ctx;
	double pct = p->pages_expected ? 100.0 * (double)p->pages_read / (double)p->pages_expected : 0;
	double rate = (double)p->pages_read / (seconds_since(&pr->start) + 1e-9);
	int width = 30, fill;

	if (pr->quiet || seconds_since(&pr->last) < (pr->tty ? 0.2 : 10.0))
		return;
	clock_gettime(CLOCK_MONOTONIC, &pr->last);
	if (pct > 100)
		pct = 100;
	if (!pr->tty) {
		fprintf(stderr, "samepage estimate: %" PRIu64 " of ~%" PRIu64 " pages read (%.0f%%), %.0f pages/s\n",
			p->pages_read, p->pages_expected, pct, rate);
		return;
	}
	fill = (int)(pct * width / 100);
	fprintf(stderr, "\r[%.*s%*s] %3.0f%% %" PRIu64 "/~%" PRIu64 " pages, %.0f pages/s ", fill,
		"##############################", width - fill, "", pct, p->pages_read, p->pages_expected, rate);
	pr->drawn = true;
}

static void progress_end(struct progress *pr)
{
	if (pr->drawn)
		fputs("\r\033[K", stderr);
}

/* Resolve every target's processes, then scan them container by container. */
static int scan_targets(struct targets *ts, struct estimate *e, sp_error_t *err)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t i, idx;
	int ret;

	for (i = 0; i < ts->n; i++) {
		struct ksm_group_stat g;

		ret = target_pids(&ts->t[i], err);
		if (ret < 0)
			return ret;
		ksm_group_stat_init(&g);
		if (ksm_stat_pids(ts->t[i].pids.pids, ts->t[i].pids.n, &g, err) < 0)
			return sp_error_wrap(err, "`%s`", ts->t[i].id);
		e->done.pages_expected += g.anon_bytes / (uint64_t)ps;
	}
	for (i = 0; i < ts->n; i++) {
		ret = est_add_container(e, ts->t[i].id, ts->t[i].domain, &idx, err);
		if (ret < 0)
			return ret;
		ret = est_scan_pids(e, idx, ts->t[i].pids.pids, ts->t[i].pids.n, err);
		if (ret == -E2BIG)
			break; /* --max-pages: the rest is not read */
		if (ret < 0)
			return ret;
	}
	return est_finish(e, err);
}

static double share(double part, uint64_t whole)
{
	return whole ? part / (double)whole : 0;
}

/* "12.0MiB ± 0.3MiB" when sampled, "12.0MiB" otherwise. */
static const char *fmt_saving(double pages, double se, long ps, char *buf, size_t size)
{
	char a[32], b[32];

	ksm_format_size((int64_t)llround(pages * (double)ps), a, sizeof(a));
	if (se <= 0) {
		snprintf(buf, size, "%s", a);
		return buf;
	}
	ksm_format_size((int64_t)llround(1.96 * se * (double)ps), b, sizeof(b));
	snprintf(buf, size, "%s ±%s", a, b);
	return buf;
}

static void print_row(const char *name, const char *domain, const struct est_figures *f, long ps)
{
	char anon[32], zero[32], sav[80], any[80], now[32];

	ksm_format_size((int64_t)(f->anon_pages * (uint64_t)ps), anon, sizeof(anon));
	ksm_format_size((int64_t)(f->zero_pages * (uint64_t)ps), zero, sizeof(zero));
	fmt_saving(f->saving_pages, f->saving_se, ps, sav, sizeof(sav));
	fmt_saving(f->saving_any_pages, f->saving_any_se, ps, any, sizeof(any));
	ksm_format_size(f->ksm_now.profit, now, sizeof(now));
	printf("%-24s %-16s %10s %10s %20s %6.1f%% %20s %10s\n", name, domain, anon, zero, sav,
	       100 * share(f->saving_pages, f->anon_pages), any, now);
}

#define HEAD_FMT "%-24s %-16s %10s %10s %20s %7s %20s %10s\n"

static void print_table(const struct estimate *e, long ps)
{
	size_t i;

	if (e->n_containers == 0) {
		puts("No running containers (give --cgroup PATH or --pid PID to estimate a workload).");
		return;
	}
	printf(HEAD_FMT, "CONTAINER", "DOMAIN", "ANON", "ZERO", "SAVING", "SHARE", "IGNORING-DOMAINS", "KSM-NOW");
	for (i = 0; i < e->n_containers; i++)
		print_row(e->containers[i].id, e->domains[e->containers[i].domain].name, &e->containers[i].f, ps);
	printf("\n");
	printf(HEAD_FMT, "DOMAIN", "", "ANON", "ZERO", "SAVING", "SHARE", "IGNORING-DOMAINS", "KSM-NOW");
	for (i = 0; i < e->n_domains; i++)
		print_row(e->domains[i].name, "", &e->domains[i].f, ps);
	print_row("NODE", "", &e->node, ps);
	printf("\nSAVING: what KSM could save at most inside each domain (pages minus distinct contents),\n"
	       "including what it saves already (pages KSM merged count as before the merge);\n"
	       "IGNORING-DOMAINS: the same if every container shared one domain; KSM-NOW: ksm_process_profit.\n");
	if (e->sample < 1)
		printf("Sampled %.4g of contents: savings are estimates, ± is 1.96 standard errors (95%%).\n", e->sample);
	if (e->truncated)
		printf("Stopped after %" PRIu64 " pages (--max-pages): the figures cover only what was read.\n",
		       e->done.pages_read);
	if (e->pfn_known && e->ksm_unknown)
		printf("KSM pages could not be told apart (no /proc/kpageflags, or one that marks every\n"
		       "anonymous page KSM, as Linux 6.10-6.12 do): a page KSM merged already counts once,\n"
		       "and the kept result adds what ksm_stat says KSM saved.\n");
	if (!e->pfn_known && e->node.anon_pages)
		printf("Frame numbers were not visible (needs CAP_SYS_ADMIN): pages shared by fork\n"
		       "are counted once per process, which overstates both memory and saving.\n");
}

static void json_figures(json_object *o, const struct est_figures *f, long ps)
{
	json_object *now = json_object_new_object();

	json_object_object_add(o, "anon_pages", json_object_new_int64((int64_t)f->anon_pages));
	json_object_object_add(o, "anon_bytes", json_object_new_int64((int64_t)(f->anon_pages * (uint64_t)ps)));
	json_object_object_add(o, "zero_pages", json_object_new_int64((int64_t)f->zero_pages));
	json_object_object_add(o, "ksm_pages", json_object_new_int64((int64_t)f->ksm_pages));
	json_object_object_add(o, "frame_pages", json_object_new_int64((int64_t)f->frame_pages));
	json_object_object_add(o, "frame_bytes", json_object_new_int64((int64_t)(f->frame_pages * (uint64_t)ps)));
	json_object_object_add(o, "sampled_pages", json_object_new_int64((int64_t)f->sampled_pages));
	json_object_object_add(o, "saving_pages", json_object_new_double(f->saving_pages));
	json_object_object_add(o, "saving_bytes", json_object_new_int64(llround(f->saving_pages * (double)ps)));
	json_object_object_add(o, "saving_stderr_bytes", json_object_new_int64(llround(f->saving_se * (double)ps)));
	json_object_object_add(o, "saving_share", json_object_new_double(share(f->saving_pages, f->anon_pages)));
	json_object_object_add(o, "zero_saving_bytes", json_object_new_int64(llround(f->zero_saving_pages * (double)ps)));
	json_object_object_add(o, "saving_ignoring_domains_bytes",
			       json_object_new_int64(llround(f->saving_any_pages * (double)ps)));
	json_object_object_add(o, "saving_ignoring_domains_stderr_bytes",
			       json_object_new_int64(llround(f->saving_any_se * (double)ps)));
	json_object_object_add(now, "merging_pages", json_object_new_int64((int64_t)f->ksm_now.merging_pages));
	json_object_object_add(now, "zero_pages", json_object_new_int64((int64_t)f->ksm_now.zero_pages));
	json_object_object_add(now, "profit_bytes", json_object_new_int64(f->ksm_now.profit));
	json_object_object_add(o, "ksm_now", now);
}

static json_object *json_estimate(const struct estimate *e, long ps)
{
	json_object *o = json_object_new_object(), *cs = json_object_new_array(), *ds = json_object_new_array(),
		    *node = json_object_new_object();
	size_t i;

	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "page_size", json_object_new_int64(ps));
	json_object_object_add(o, "sample", json_object_new_double(e->sample));
	json_object_object_add(o, "max_pages", e->max_pages ? json_object_new_int64((int64_t)e->max_pages) : NULL);
	json_object_object_add(o, "complete", json_object_new_boolean(!e->truncated));
	json_object_object_add(o, "frames_known", json_object_new_boolean(e->pfn_known));
	json_object_object_add(o, "ksm_frames_known", json_object_new_boolean(e->pfn_known && !e->ksm_unknown));
	json_object_object_add(o, "pages_read", json_object_new_int64((int64_t)e->done.pages_read));
	json_object_object_add(o, "table_bytes_peak", json_object_new_int64((int64_t)e->table_bytes_peak));
	json_object_object_add(o, "bytes_per_page_max", json_object_new_int(EST_BYTES_PER_PAGE));
	for (i = 0; i < e->n_containers; i++) {
		const struct est_container *c = &e->containers[i];
		json_object *j = json_object_new_object();

		json_object_object_add(j, "id", json_object_new_string(c->id));
		json_object_object_add(j, "domain", json_object_new_string(e->domains[c->domain].name));
		json_object_object_add(j, "processes", json_object_new_int64((int64_t)c->processes));
		json_object_object_add(j, "exited_processes", json_object_new_int64((int64_t)c->exited));
		json_figures(j, &c->f, ps);
		json_object_array_add(cs, j);
	}
	for (i = 0; i < e->n_domains; i++) {
		json_object *j = json_object_new_object();

		json_object_object_add(j, "domain", json_object_new_string(e->domains[i].name));
		json_object_object_add(j, "containers", json_object_new_int64((int64_t)e->domains[i].containers));
		json_figures(j, &e->domains[i].f, ps);
		json_object_array_add(ds, j);
	}
	json_object_object_add(node, "containers", json_object_new_int64((int64_t)e->n_containers));
	json_figures(node, &e->node, ps);
	json_object_object_add(o, "containers", cs);
	json_object_object_add(o, "domains", ds);
	json_object_object_add(o, "node", node);
	return o;
}

struct estimate_opts {
	bool json, quiet, no_save;
	char *domain;               /* full form: local/X for --domain X */
	char **roots;               /* --runtime-root, or the defaults */
	size_t n_roots;
	char **cgroups, **names;
	size_t n_cgroups, n_names;
	pid_t *pids;
	size_t n_pids;
};

/* The targets the options name, or every container of the node. */
static int collect_targets(const struct estimate_opts *o, const struct sp_state *st, struct targets *ts,
			   sp_error_t *err)
{
	bool explicit_only = o->n_names == 0 && (o->n_cgroups || o->n_pids);
	struct targets keep = { 0 };
	size_t i;
	int ret;

	if (!explicit_only) {
		_cleanup_(sp_config_free) struct sp_config cfg = { 0 };

		ret = sp_config_load(sp_config_path(NULL), &cfg, err);
		if (ret == 0)
			ret = targets_from_node(ts, st, &cfg, o->roots, o->n_roots, err);
		if (ret == 0 && o->n_names)
			ret = targets_select(ts, o->names, o->n_names, err);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < ts->n; i++) {
		struct target *t = &ts->t[i], *k;

		if (o->domain && !t->explicit_ && strcmp(t->domain, o->domain) != 0)
			continue;
		if (!(k = targets_add(&keep, t->id, t->explicit_ && o->domain ? o->domain : t->domain, err)))
			return targets_free(&keep), -ENOMEM;
		k->pid = t->pid;
		k->cgroup = TAKE_PTR(t->cgroup);
	}
	targets_free(ts);
	*ts = keep;
	for (i = 0; i < o->n_cgroups + o->n_pids; i++) {
		char name[32];
		const char *id = i < o->n_cgroups ? o->cgroups[i] : name;
		struct target *t;

		if (i >= o->n_cgroups)
			snprintf(name, sizeof(name), "pid:%d", (int)o->pids[i - o->n_cgroups]);
		else if (!cgroup_path_valid(id))
			return sp_error_set(err, ENOENT, "`%s` is not a cgroup directory", id);
		if (!(t = targets_add(ts, id, o->domain, err)))
			return -ENOMEM;
		if (i < o->n_cgroups && !(t->cgroup = strdup(id)))
			return sp_error_set(err, ENOMEM, "estimate: `%s`", id);
		if (i >= o->n_cgroups)
			t->pid = o->pids[i - o->n_cgroups];
	}
	return 0;
}

static int add_arg(char ***list, size_t *n, char *arg)
{
	char **g = realloc(*list, (*n + 1) * sizeof(*g));

	if (!g)
		return -ENOMEM;
	g[(*n)++] = arg;
	*list = g;
	return 0;
}

static int add_pid(pid_t **list, size_t *n, pid_t pid)
{
	pid_t *g = realloc(*list, (*n + 1) * sizeof(*g));

	if (!g)
		return -ENOMEM;
	g[(*n)++] = pid;
	*list = g;
	return 0;
}

static int parse_opts(int argc, char **argv, struct estimate_opts *o, struct estimate *e)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },	    { "domain", required_argument, NULL, 'd' },
		{ "cgroup", required_argument, NULL, 'g' }, { "pid", required_argument, NULL, 'p' },
		{ "sample", required_argument, NULL, 's' }, { "max-pages", required_argument, NULL, 'm' },
		{ "runtime-root", required_argument, NULL, 'r' }, { "quiet", no_argument, NULL, 'q' },
		{ "no-save", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },	    { NULL, 0, NULL, 0 },
	};
	long v;
	char *end;
	int c, ret = 0;

	while (ret == 0 && (c = getopt_long(argc, argv, "+jd:g:p:s:m:r:qnh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'n':
			o->no_save = true;
			break;
		case 'd': {
			_cleanup_error_ sp_error_t derr = NULL;

			free(o->domain);
			o->domain = NULL;
			if (sp_domain_from_option(optarg, &o->domain, &derr) < 0)
				return sp_cli_error("estimate: --domain: %s", sp_error_msg(derr)), 2;
			break;
		}
		case 'g':
			ret = add_arg(&o->cgroups, &o->n_cgroups, optarg);
			break;
		case 'r':
			ret = add_arg(&o->roots, &o->n_roots, optarg);
			break;
		case 'p':
			if (parse_long(optarg, 1, INT_MAX, &v) < 0)
				return sp_cli_error("estimate: invalid pid `%s`", optarg), 2;
			ret = add_pid(&o->pids, &o->n_pids, (pid_t)v);
			break;
		case 's':
			e->sample = strtod(optarg, &end);
			if (*end || !(e->sample > 0 && e->sample <= 1))
				return sp_cli_error("estimate: --sample wants a fraction 0 < F <= 1, not `%s`", optarg), 2;
			break;
		case 'm':
			if (parse_long(optarg, 1, LONG_MAX, &v) < 0)
				return sp_cli_error("estimate: invalid --max-pages `%s`", optarg), 2;
			e->max_pages = (uint64_t)v;
			break;
		case 'h':
			estimate_usage(stdout);
			return -1;
		default:
			estimate_usage(stderr);
			return 2;
		}
	}
	if (ret < 0)
		return sp_cli_error("estimate: out of memory"), 1;
	o->names = argv + optind;
	o->n_names = (size_t)(argc - optind);
	return 0;
}

static void opts_free(struct estimate_opts *o)
{
	free(o->roots);
	free(o->domain);
	free(o->cgroups);
	free(o->pids);
}

/* Keep the result for status, metrics and doctor (node/estimate-record.h).
 * A reader-only run (no write access to the state dir) still prints. */
static void save_result(const struct estimate *e, const struct sp_global_opts *g, long ps, bool quiet)
{
	_cleanup_(est_record_free) struct est_record r = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	uint64_t shared = 0, sharing = 0;
	double frac;

	/* Absent counters (no KSM) mean nothing is merged. */
	if (ksm_knob_read_u64("pages_shared", &shared, NULL) < 0 || ksm_knob_read_u64("pages_sharing", &sharing, NULL) < 0)
		shared = sharing = 0;
	frac = shared + sharing ? (double)sharing / (double)(shared + sharing) : 0;
	if (est_record_from(e, ps, frac, (int64_t)time(NULL), &r, &err) < 0 ||
	    est_record_save(sp_state_dir(g->state_dir), &r, &err) < 0) {
		if (!quiet)
			fprintf(stderr, "samepage: warning: estimate: %s\n", sp_error_msg(err));
	}
}

static int run_estimate(const struct estimate_opts *o, const struct sp_global_opts *g, struct estimate *e)
{
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_(targets_free) struct targets ts = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_error_ sp_error_t polite = NULL;
	struct progress pr = { .tty = isatty(STDERR_FILENO), .quiet = o->quiet };
	long ps = sysconf(_SC_PAGESIZE);
	int ret;

	/* A reader never fails for want of politeness, but says so. */
	if (anon_scan_be_polite(&polite) < 0 && !o->quiet)
		fprintf(stderr, "samepage: warning: estimate: %s\n", sp_error_msg(polite));
	clock_gettime(CLOCK_MONOTONIC, &pr.start);
	pr.last = pr.start;
	e->progress = progress_show;
	e->progress_ctx = &pr;
	ret = sp_state_load(sp_state_dir(g->state_dir), &st, &err);
	if (ret == 0)
		ret = collect_targets(o, &st, &ts, &err);
	if (ret == 0)
		ret = scan_targets(&ts, e, &err);
	progress_end(&pr);
	if (ret < 0) {
		sp_cli_error("estimate: %s", sp_error_msg(err));
		return 1;
	}
	if (!o->no_save)
		save_result(e, g, ps, o->quiet);
	if (o->json) {
		_cleanup_(json_object_putp) json_object *j = json_estimate(e, ps);

		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		print_table(e, ps);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

int verb_estimate(int argc, char **argv, const struct sp_global_opts *g)
{
	static char *default_roots[] = OCI_RUNTIME_ROOTS;
	_cleanup_(est_free) struct estimate e;
	_cleanup_(opts_free) struct estimate_opts o = { 0 };
	int ret;

	est_init(&e);
	ret = parse_opts(argc, argv, &o, &e);
	if (ret != 0)
		return ret < 0 ? 0 : ret;
	if (o.n_roots == 0) {
		o.roots = NULL;
		if (add_arg(&o.roots, &o.n_roots, default_roots[0]) < 0 ||
		    add_arg(&o.roots, &o.n_roots, default_roots[1]) < 0)
			return 1;
	}
	return run_estimate(&o, g, &e);
}
