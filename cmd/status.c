/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage status [--json] [--domain D] [CONTAINER...]: what KSM does on this
 * node, per container and per security domain.  The figures come from
 * node/report.h, which also builds the JSON document (documented in
 * docs/status-metrics.md); this file prints the table for people.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "node/config.h"
#include "node/state.h"
#include "node/report.h"
#include "cmd/verbs.h"

static void status_usage(FILE *f)
{
	fputs("Usage: samepage status [--json] [--domain D] [CONTAINER...]\n"
	      "Show what KSM merges on this node: ksmd, and per container and security domain\n"
	      "the processes, merge-any processes, merging and zero pages, profit and the share\n"
	      "of anonymous memory merged.  CONTAINER is a container id of the node state or a\n"
	      "cgroup directory.\n"
	      "\nOptions:\n"
	      "  -j, --json        machine-readable output (see docs/status-metrics.md)\n"
	      "  -d, --domain D    only containers of security domain D\n"
	      "  -h, --help        show this help\n"
	      "\nExamples:\n"
	      "  samepage status\n"
	      "  samepage status --json --domain team-a | jq '.domains[0].profit_bytes'\n"
	      "  samepage status /sys/fs/cgroup/pids/mycontainer\n",
	      f);
}

/* An aligned table: the first `left` columns left-aligned, the rest right.
 * Cells are copies of any length (container ids and cgroup paths have no
 * limit); a row that cannot be stored is counted in dropped. */
#define COLS_MAX 12
struct table {
	size_t ncols, left, nrows, cap, dropped;
	char *(*cells)[COLS_MAX];
};

static void table_row(struct table *t, const char *const *cells)
{
	size_t i;

	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		void *n = realloc(t->cells, ncap * sizeof(*t->cells));

		if (!n) {
			t->dropped++;
			return;
		}
		t->cells = n;
		t->cap = ncap;
	}
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows][i] = strdup(cells[i] ? cells[i] : "-");
		if (!t->cells[t->nrows][i]) {
			while (i-- > 0)
				free(t->cells[t->nrows][i]);
			t->dropped++;
			return;
		}
	}
	t->nrows++;
}

static void table_print(struct table *t, FILE *f)
{
	size_t w[COLS_MAX] = { 0 }, r, c;

	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++)
			if (strlen(t->cells[r][c]) > w[c])
				w[c] = strlen(t->cells[r][c]);
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *sep = c + 1 < t->ncols ? "  " : "";

			if (c + 1 == t->ncols && c < t->left)
				fprintf(f, "%s", t->cells[r][c]);
			else if (c < t->left)
				fprintf(f, "%-*s%s", (int)w[c], t->cells[r][c], sep);
			else
				fprintf(f, "%*s%s", (int)w[c], t->cells[r][c], sep);
			free(t->cells[r][c]);
		}
		fputc('\n', f);
	}
	if (t->dropped)
		fprintf(f, "(%zu rows not shown: out of memory)\n", t->dropped);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = t->dropped = 0;
}

/* The figure columns shared by the container, domain and total rows. */
static void stat_cells(const struct ksm_group_stat *s, long page_size, char out[7][32])
{
	snprintf(out[0], 32, "%" PRIu64, s->processes);
	if (s->merge_any_known)
		snprintf(out[1], 32, "%" PRIu64, s->merge_any);
	else
		snprintf(out[1], 32, "?");
	ksm_format_size((int64_t)(s->merging_pages * (uint64_t)page_size), out[2], 32);
	ksm_format_size((int64_t)(s->zero_pages * (uint64_t)page_size), out[3], 32);
	ksm_format_size(s->profit, out[4], 32);
	ksm_format_size((int64_t)s->anon_bytes, out[5], 32);
	snprintf(out[6], 32, "%.1f%%", 100.0 * ksm_group_merged_share(s, page_size));
}

static void print_knob(FILE *f, const char *name, int64_t v)
{
	if (v >= 0)
		fprintf(f, " %s=%" PRId64, name, v);
}

static void print_pages(FILE *f, const char *name, int64_t pages, long page_size)
{
	char b[32];

	if (pages < 0)
		return;
	fprintf(f, "  %-16s %" PRId64 " (%s)\n", name, pages, ksm_format_size(pages * page_size, b, sizeof(b)));
}

static void print_node(const struct ksm_node_stat *n, FILE *f)
{
	char b[32];

	fprintf(f, "Node\n  %-16s %s\n  %-16s %s\n", "kernel", n->kernel, "backend", n->backend);
	fprintf(f, "  %-16s %s\n", "ksmd",
		n->manager == KSMD_SAMEPAGE ? "running, managed by samepage"
		: n->manager == KSMD_OTHER  ? "running, configured by someone else (samepage leaves it alone)"
					    : "off (run=0): nothing merges");
	fprintf(f, "  %-16s", "knobs");
	print_knob(f, "run", n->run);
	print_knob(f, "pages_to_scan", n->pages_to_scan);
	print_knob(f, "sleep_millisecs", n->sleep_millisecs);
	if (n->advisor_mode[0])
		fprintf(f, " advisor_mode=%s", n->advisor_mode);
	print_knob(f, "smart_scan", n->smart_scan);
	print_knob(f, "use_zero_pages", n->use_zero_pages);
	fputc('\n', f);
	print_pages(f, "pages_shared", n->pages_shared, n->page_size);
	print_pages(f, "pages_sharing", n->pages_sharing, n->page_size);
	print_pages(f, "pages_unshared", n->pages_unshared, n->page_size);
	print_pages(f, "pages_volatile", n->pages_volatile, n->page_size);
	print_pages(f, "ksm_zero_pages", n->ksm_zero_pages, n->page_size);
	if (n->general_profit != -1)
		fprintf(f, "  %-16s %s\n", "general_profit", ksm_format_size(n->general_profit, b, sizeof(b)));
	if (n->full_scans >= 0)
		fprintf(f, "  %-16s %" PRId64 "\n", "full_scans", n->full_scans);
}

/* Kernel domains as the kernel sees them (node/domain-kernel.h), with the
 * containers not in the domain their record says. */
static void print_kdomains(const struct ksm_report *r, FILE *f)
{
	bool head = false;
	size_t i;

	for (i = 0; i < r->n_rows; i++) {
		const struct ksm_report_row *row = &r->rows[i];

		if (!row->kdomain_known && !row->kdomain)
			continue;
		if (!head)
			fprintf(f, "\nKernel domains (ksm.domain.effective)\n");
		head = true;
		fprintf(f, "  %s: ", row->id);
		if (!row->kdomain_known)
			fprintf(f, "unknown");
		else if (row->kdomain_deny)
			fprintf(f, "deny");
		else
			fprintf(f, "%" PRIu64, row->kdomain_effective);
		if (row->kdomain)
			fprintf(f, " (recorded %" PRIu64 ")", row->kdomain);
		fputs(row->kdomain_mismatch ? "  MISMATCH: not in the domain its record says\n" : "\n", f);
	}
}

/* Self-opt-in: KSM memory samepage did not enable (node/unattributed.h). */
static void print_unattributed(const struct ksm_report *r, FILE *f)
{
	const struct sp_unattributed *u = &r->unattributed;
	char b[32];
	size_t i;

	fprintf(f, "\nUnattributed (KSM outside samepage's record)\n");
	if (r->unattributed_error) {
		fprintf(f, "  cannot tell: %s\n", r->unattributed_error);
		return;
	}
	if (u->pages >= 0)
		fprintf(f, "  %-16s %" PRId64 " (%s) of %" PRId64 " merged pages\n", "merged pages", u->pages,
			ksm_format_size(u->pages * r->node.page_size, b, sizeof(b)), u->node_pages);
	fprintf(f, "  %-16s %zu\n", "processes", u->n);
	for (i = 0; i < u->n; i++) {
		const struct sp_unattributed_proc *up = &u->procs[i];

		fprintf(f, "  pid %d (%s): %s, %" PRId64 " merging pages, cgroup %s%s%s\n", (int)up->p.pid,
			up->p.comm[0] ? up->p.comm : "?", ksm_scan_proc_evidence(&up->p), up->p.merging_pages,
			up->cgroup ? up->cgroup : "-", up->container ? ", container " : "",
			up->container ? up->container : "");
	}
}

/* The last `samepage estimate` beside what KSM saves now. */
static void print_estimate(const struct ksm_report *r, FILE *f)
{
	struct table t = { .ncols = 4, .left = 1 };
	static const char *const head[] = { "DOMAIN", "SAVED", "ACHIEVABLE", "SAVED/ACHIEVABLE" };
	char sv[32], ac[32], q[32];
	int64_t saved, achievable;
	size_t i;

	if (r->estimate_error) {
		fprintf(f, "\nEstimate: cannot read the last one: %s\n", r->estimate_error);
		return;
	}
	if (!r->has_estimate) {
		fputs("\nEstimate: none yet (`samepage estimate` tells what KSM could save)\n", f);
		return;
	}
	fprintf(f, "\nEstimate (samepage estimate, %" PRId64 "s ago%s)\n", r->now - r->estimate.time,
		r->estimate.complete ? "" : ", partial: --max-pages");
	table_row(&t, head);
	for (i = 0; i <= r->estimate.n_domains; i++) {
		const char *dom = i < r->estimate.n_domains ? r->estimate.domains[i].domain : NULL;
		double ratio;

		ksm_report_estimate_pair(r, dom, &saved, &achievable);
		ratio = est_record_ratio(saved, achievable);
		ksm_format_size(saved, sv, sizeof(sv));
		ksm_format_size(achievable, ac, sizeof(ac));
		if (ratio < 0)
			snprintf(q, sizeof(q), "-");
		else
			snprintf(q, sizeof(q), "%.0f%%", 100 * ratio);
		const char *cells[] = { dom ? dom : "NODE", sv, ac, q };
		table_row(&t, cells);
	}
	table_print(&t, f);
}

static void print_table(const struct ksm_report *r, FILE *f)
{
	static const char *const head[] = { "CONTAINER", "DOMAIN", "STATE", "PROCS", "MERGE-ANY", "MERGING",
					    "ZERO", "PROFIT", "ANON", "MERGED" };
	static const char *const dhead[] = { "DOMAIN", "CONTAINERS", "PROCS", "MERGE-ANY", "MERGING",
					     "ZERO", "PROFIT", "ANON", "MERGED" };
	struct table t = { .ncols = 10, .left = 3 };
	char s[7][32], count[32];
	size_t i;
	bool any_note = false;

	print_node(&r->node, f);
	print_unattributed(r, f);
	print_kdomains(r, f);
	print_estimate(r, f);
	fputc('\n', f);
	if (r->n_rows == 0) {
		fputs("No containers (none enabled or refused by samepage; give a cgroup path to see one).\n", f);
		return;
	}
	table_row(&t, head);
	for (i = 0; i < r->n_rows; i++) {
		const struct ksm_report_row *row = &r->rows[i];
		bool figures = ksm_report_row_has_figures(row);

		stat_cells(&row->stat, r->node.page_size, s);
		const char *cells[] = { row->id, row->domain, ksm_report_row_state(row),
					figures ? s[0] : NULL, figures ? s[1] : NULL, figures ? s[2] : NULL,
					figures ? s[3] : NULL, figures ? s[4] : NULL, figures ? s[5] : NULL,
					figures ? s[6] : NULL };
		table_row(&t, cells);
	}
	table_print(&t, f);

	fputc('\n', f);
	t = (struct table){ .ncols = 9, .left = 1 };
	table_row(&t, dhead);
	for (i = 0; i < r->n_domains; i++) {
		const struct ksm_report_domain *d = &r->domains[i];

		stat_cells(&d->stat, r->node.page_size, s);
		snprintf(count, sizeof(count), "%zu", d->containers);
		const char *cells[] = { d->domain, count, s[0], s[1], s[2], s[3], s[4], s[5], s[6] };
		table_row(&t, cells);
	}
	stat_cells(&r->total, r->node.page_size, s);
	snprintf(count, sizeof(count), "%zu", r->n_rows);
	const char *tcells[] = { "TOTAL", count, s[0], s[1], s[2], s[3], s[4], s[5], s[6] };
	table_row(&t, tcells);
	table_print(&t, f);

	for (i = 0; i < r->n_rows; i++) {
		const struct ksm_report_row *row = &r->rows[i];
		const char *what = row->error ? row->error : (!row->enabled && row->reason) ? row->reason : NULL;

		if (!what)
			continue;
		if (!any_note)
			fputs("\nNotes\n", f);
		any_note = true;
		fprintf(f, "  %s (%s): %s: %s\n", row->id, row->domain ? row->domain : "no domain",
			row->error ? "cannot read" : "refused", what);
	}
}

int verb_status(int argc, char **argv, const struct sp_global_opts *g)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "domain", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_(ksm_report_free) struct ksm_report r = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	const char *domain = NULL;
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "+jd:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'd':
			domain = optarg;
			break;
		case 'h':
			status_usage(stdout);
			return 0;
		default:
			status_usage(stderr);
			return 2;
		}
	}

	/* Readers need no lock: the state is replaced by rename. */
	if (sp_state_load(sp_state_dir(g->state_dir), &st, &err) < 0 ||
	    ksm_report_collect(&st, domain, argv + optind, (size_t)(argc - optind), &r, &err) < 0) {
		sp_cli_error("status: %s", sp_error_msg(err));
		return 1;
	}
	ksm_report_add_estimate(&r, sp_state_dir(g->state_dir));
	if (json) {
		_cleanup_(json_object_putp) json_object *o = ksm_report_json(&r);

		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		print_table(&r, stdout);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
