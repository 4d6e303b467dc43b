/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * samepage metrics [--output FILE]: the figures of `samepage status` in the
 * Prometheus text exposition format (version 0.0.4), for node_exporter's
 * textfile collector.  --output replaces FILE atomically, so the collector
 * never reads half a file.  Metric names are listed in
 * docs/status-metrics.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "node/config.h"
#include "base/fileio.h"
#include "node/state.h"
#include "node/stat.h"
#include "cmd/verbs.h"

static void metrics_usage(FILE *f)
{
	fputs("Usage: samepage metrics [--output FILE]\n"
	      "Print the node, domain and container figures of `samepage status` as\n"
	      "Prometheus metrics (prefix samepage_, labels domain and container).\n"
	      "\nOptions:\n"
	      "  -o, --output FILE   write FILE atomically instead of standard output\n"
	      "  -h, --help          show this help\n"
	      "\nExample (node_exporter --collector.textfile.directory=/var/lib/node_exporter):\n"
	      "  samepage metrics --output /var/lib/node_exporter/samepage.prom\n",
	      f);
}

/* Label values escape backslash, double quote and newline. */
static void put_label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP samepage_%s %s\n# TYPE samepage_%s %s\n", name, help, name, type);
}

static void sample_i(FILE *f, const char *name, int64_t v)
{
	fprintf(f, "samepage_%s %" PRId64 "\n", name, v);
}

/* A node-level gauge or counter from a sysfs file; absent files are left
 * out rather than reported as 0. */
static void node_metric(FILE *f, const char *name, const char *type, const char *help, int64_t v)
{
	if (v < 0)
		return;
	family(f, name, type, help);
	sample_i(f, name, v);
}

static void labels(FILE *f, const char *domain, const char *container)
{
	fputc('{', f);
	if (domain) {
		fputs("domain=\"", f);
		put_label_value(f, domain);
		fputc('"', f);
	}
	if (container) {
		fputs(domain ? ",container=\"" : "container=\"", f);
		put_label_value(f, container);
		fputc('"', f);
	}
	fputc('}', f);
}

enum stat_field {
	F_PROCESSES,
	F_MERGE_ANY,
	F_MERGING,
	F_ZERO,
	F_PROFIT,
	F_ANON,
	F_SHARE,
	F_COUNT,
};

static const struct {
	const char *suffix, *help;
} fields[F_COUNT] = {
	[F_PROCESSES] = { "processes", "Processes (distinct mms)." },
	[F_MERGE_ANY] = { "merge_any_processes", "Processes with whole-process KSM on (ksm_merge_any)." },
	[F_MERGING] = { "merging_pages", "Pages merged by KSM (sum of ksm_merging_pages)." },
	[F_ZERO] = { "zero_pages", "Pages KSM mapped to the zero page (sum of ksm_zero_pages)." },
	[F_PROFIT] = { "profit_bytes", "Memory saved by KSM minus its metadata (sum of ksm_process_profit)." },
	[F_ANON] = { "anon_bytes", "Anonymous resident memory." },
	[F_SHARE] = { "merged_ratio", "Share of anonymous memory merged by KSM (0-1)." },
};

/* Print one field of a group; false when the value is unknown. */
static bool put_value(FILE *f, const struct ksm_group_stat *s, enum stat_field fl, long page_size)
{
	switch (fl) {
	case F_PROCESSES: fprintf(f, " %" PRIu64 "\n", s->processes); break;
	case F_MERGE_ANY:
		if (!s->merge_any_known)
			return false;
		fprintf(f, " %" PRIu64 "\n", s->merge_any);
		break;
	case F_MERGING: fprintf(f, " %" PRIu64 "\n", s->merging_pages); break;
	case F_ZERO: fprintf(f, " %" PRIu64 "\n", s->zero_pages); break;
	case F_PROFIT: fprintf(f, " %" PRId64 "\n", s->profit); break;
	case F_ANON: fprintf(f, " %" PRIu64 "\n", s->anon_bytes); break;
	case F_SHARE: fprintf(f, " %.6f\n", ksm_group_merged_share(s, page_size)); break;
	default: return false;
	}
	return true;
}

static bool row_has_figures(const struct ksm_report_row *row)
{
	return row->running && !row->error;
}

static void write_metrics(FILE *f, const struct ksm_report *r)
{
	const struct ksm_node_stat *n = &r->node;
	long ps = n->page_size;
	size_t i;
	int fl;

	family(f, "node_info", "gauge", "Kernel release and samepage backend (always 1).");
	fputs("samepage_node_info{kernel=\"", f);
	put_label_value(f, n->kernel);
	fputs("\",backend=\"", f);
	put_label_value(f, n->backend);
	fputs("\"} 1\n", f);
	node_metric(f, "node_pages_shared", "gauge", "KSM pages in use (pages_shared).", n->pages_shared);
	node_metric(f, "node_pages_sharing", "gauge", "Page table entries pointing at KSM pages (pages_sharing).",
		    n->pages_sharing);
	node_metric(f, "node_pages_unshared", "gauge", "Pages unique but checked repeatedly (pages_unshared).",
		    n->pages_unshared);
	node_metric(f, "node_pages_volatile", "gauge", "Pages changing too fast to merge (pages_volatile).",
		    n->pages_volatile);
	node_metric(f, "node_ksm_zero_pages", "gauge", "Pages KSM mapped to the zero page (ksm_zero_pages).",
		    n->ksm_zero_pages);
	if (n->general_profit != -1) {
		family(f, "node_general_profit_bytes", "gauge", "Memory saved by KSM node-wide minus its metadata (general_profit).");
		sample_i(f, "node_general_profit_bytes", n->general_profit);
	}
	node_metric(f, "ksmd_full_scans_total", "counter", "Full scans ksmd completed (full_scans).", n->full_scans);
	node_metric(f, "ksmd_run", "gauge", "ksmd run mode (0 off, 1 on, 2 unmerge).", n->run);
	node_metric(f, "ksmd_pages_to_scan", "gauge", "Pages ksmd scans per batch (pages_to_scan).", n->pages_to_scan);
	node_metric(f, "ksmd_sleep_milliseconds", "gauge", "ksmd sleep between batches (sleep_millisecs).",
		    n->sleep_millisecs);
	family(f, "ksmd_managed", "gauge", "1 when samepage manages ksmd, 0 when ksmd is off or someone else runs it.");
	fprintf(f, "samepage_ksmd_managed{manager=\"%s\"} %d\n", ksmd_manager_name(n->manager),
		n->manager == KSMD_SAMEPAGE);

	family(f, "container_enabled", "gauge", "1 when samepage enabled KSM for the container, 0 when it refused.");
	for (i = 0; i < r->n_rows; i++) {
		const struct ksm_report_row *row = &r->rows[i];

		if (!row_has_figures(row) || !row->in_state)
			continue;
		fputs("samepage_container_enabled", f);
		labels(f, row->domain ? row->domain : "", row->id);
		fprintf(f, " %d\n", row->enabled);
	}
	for (fl = 0; fl < F_COUNT; fl++) {
		char name[64];

		snprintf(name, sizeof(name), "container_%s", fields[fl].suffix);
		family(f, name, "gauge", fields[fl].help);
		for (i = 0; i < r->n_rows; i++) {
			const struct ksm_report_row *row = &r->rows[i];
			char line[256];
			FILE *mf;

			if (!row_has_figures(row))
				continue;
			/* Build the line aside: an unknown value drops it. */
			mf = fmemopen(line, sizeof(line), "w");
			if (!mf)
				continue;
			fprintf(mf, "samepage_%s", name);
			labels(mf, row->domain ? row->domain : "", row->id);
			if (put_value(mf, &row->stat, fl, ps) && fflush(mf) == 0 && ftell(mf) < (long)sizeof(line) - 1) {
				fclose(mf);
				fputs(line, f);
			} else {
				fclose(mf);
			}
		}
	}
	family(f, "domain_containers", "gauge", "Containers of the domain known to samepage.");
	for (i = 0; i < r->n_domains; i++) {
		fputs("samepage_domain_containers", f);
		labels(f, r->domains[i].domain, NULL);
		fprintf(f, " %zu\n", r->domains[i].containers);
	}
	for (fl = 0; fl < F_COUNT; fl++) {
		char name[64];

		snprintf(name, sizeof(name), "domain_%s", fields[fl].suffix);
		family(f, name, "gauge", fields[fl].help);
		for (i = 0; i < r->n_domains; i++) {
			if (fl == F_MERGE_ANY && !r->domains[i].stat.merge_any_known)
				continue;
			fprintf(f, "samepage_%s", name);
			labels(f, r->domains[i].domain, NULL);
			put_value(f, &r->domains[i].stat, fl, ps);
		}
	}
}

int verb_metrics(int argc, char **argv, const struct sp_global_opts *g)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	_cleanup_(sp_state_free) struct sp_state st = { 0 };
	_cleanup_(ksm_report_free) struct ksm_report r = { 0 };
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_free_ char *buf = NULL;
	const char *output = NULL;
	size_t len = 0;
	FILE *mf;
	int c;

	while ((c = getopt_long(argc, argv, "+o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'h':
			metrics_usage(stdout);
			return 0;
		default:
			metrics_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		sp_cli_error("metrics: unexpected argument `%s`", argv[optind]);
		return 2;
	}
	if (sp_state_load(sp_state_dir(g->state_dir), &st, &err) < 0 ||
	    ksm_report_collect(&st, NULL, NULL, 0, &r, &err) < 0) {
		sp_cli_error("metrics: %s", sp_error_msg(err));
		return 1;
	}
	mf = open_memstream(&buf, &len);
	if (!mf) {
		sp_cli_error("metrics: %s", strerror(errno));
		return 1;
	}
	write_metrics(mf, &r);
	if (fclose(mf) != 0) {
		sp_cli_error("metrics: %s", strerror(errno));
		return 1;
	}
	if (!output) {
		fwrite(buf, 1, len, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (write_file_atomic(output, buf, len, 0644, &err) < 0) {
		sp_cli_error("metrics: %s", sp_error_msg(err));
		return 1;
	}
	return 0;
}
