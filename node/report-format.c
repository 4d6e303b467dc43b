/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The report's formats: sizes for people, the JSON document of `status
 * --json`, and the Prometheus text of `metrics`. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "node/report.h"

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

static json_object *json_num_or_null(int64_t v)
{
	return v < 0 ? NULL : json_object_new_int64(v);
}

static json_object *json_str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void json_stat(json_object *o, const struct ksm_group_stat *s, long page_size)
{
	json_object_object_add(o, "processes", json_object_new_int64((int64_t)s->processes));
	json_object_object_add(o, "merge_any_processes",
			       s->merge_any_known ? json_object_new_int64((int64_t)s->merge_any) : NULL);
	json_object_object_add(o, "rmap_items", json_object_new_int64((int64_t)s->rmap_items));
	json_object_object_add(o, "merging_pages", json_object_new_int64((int64_t)s->merging_pages));
	json_object_object_add(o, "zero_pages", json_object_new_int64((int64_t)s->zero_pages));
	json_object_object_add(o, "profit_bytes", json_object_new_int64(s->profit));
	json_object_object_add(o, "anon_bytes", json_object_new_int64((int64_t)s->anon_bytes));
	json_object_object_add(o, "merged_share", json_object_new_double(ksm_group_merged_share(s, page_size)));
}

static json_object *json_node(const struct ksm_node_stat *n)
{
	json_object *o = json_object_new_object(), *k = json_object_new_object();

	json_object_object_add(o, "kernel", json_object_new_string(n->kernel));
	json_object_object_add(o, "backend", json_object_new_string(n->backend));
	json_object_object_add(o, "page_size", json_object_new_int64(n->page_size));
	json_object_object_add(k, "managed_by", json_object_new_string(ksmd_manager_name(n->manager)));
	json_object_object_add(k, "run", json_num_or_null(n->run));
	json_object_object_add(k, "pages_to_scan", json_num_or_null(n->pages_to_scan));
	json_object_object_add(k, "sleep_millisecs", json_num_or_null(n->sleep_millisecs));
	json_object_object_add(k, "advisor_mode", n->advisor_mode[0] ? json_object_new_string(n->advisor_mode) : NULL);
	json_object_object_add(k, "smart_scan", json_num_or_null(n->smart_scan));
	json_object_object_add(k, "use_zero_pages", json_num_or_null(n->use_zero_pages));
	json_object_object_add(k, "max_page_sharing", json_num_or_null(n->max_page_sharing));
	json_object_object_add(k, "full_scans", json_num_or_null(n->full_scans));
	json_object_object_add(o, "ksmd", k);
	json_object_object_add(o, "pages_shared", json_num_or_null(n->pages_shared));
	json_object_object_add(o, "pages_sharing", json_num_or_null(n->pages_sharing));
	json_object_object_add(o, "pages_unshared", json_num_or_null(n->pages_unshared));
	json_object_object_add(o, "pages_volatile", json_num_or_null(n->pages_volatile));
	json_object_object_add(o, "ksm_zero_pages", json_num_or_null(n->ksm_zero_pages));
	json_object_object_add(o, "stable_node_chains", json_num_or_null(n->stable_node_chains));
	json_object_object_add(o, "stable_node_dups", json_num_or_null(n->stable_node_dups));
	/* general_profit may be negative; -1 marks only "absent" in the
	 * unlikely case it is exactly -1 byte, which costs nothing. */
	json_object_object_add(o, "general_profit_bytes",
			       n->general_profit == -1 ? NULL : json_object_new_int64(n->general_profit));
	return o;
}

static json_object *json_tristate(int v)
{
	return v < 0 ? NULL : json_object_new_boolean(v);
}

static json_object *json_unattributed_proc(const struct sp_unattributed_proc *up)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pid", json_object_new_int(up->p.pid));
	json_object_object_add(o, "comm", json_object_new_string(up->p.comm));
	json_object_object_add(o, "evidence", json_object_new_string(ksm_scan_proc_evidence(&up->p)));
	json_object_object_add(o, "merge_any", json_tristate(up->p.merge_any));
	json_object_object_add(o, "mergeable", json_tristate(up->p.mergeable));
	json_object_object_add(o, "merging_pages", json_object_new_int64(up->p.merging_pages));
	json_object_object_add(o, "cgroup", json_str_or_null(up->cgroup));
	json_object_object_add(o, "container", json_str_or_null(up->container));
	return o;
}

static json_object *json_unattributed(const struct ksm_report *r)
{
	const struct sp_unattributed *u = &r->unattributed;
	json_object *o = json_object_new_object(), *procs = json_object_new_array();
	size_t i;

	json_object_object_add(o, "pages", json_num_or_null(u->pages));
	json_object_object_add(o, "node_pages", json_num_or_null(u->node_pages));
	json_object_object_add(o, "attributed_pages", json_object_new_int64(u->attributed_pages));
	for (i = 0; i < u->n; i++)
		json_object_array_add(procs, json_unattributed_proc(&u->procs[i]));
	json_object_object_add(o, "processes", procs);
	json_object_object_add(o, "error", json_str_or_null(r->unattributed_error));
	return o;
}

static json_object *json_estimate_pair(const struct ksm_report *r, const char *domain,
				       const struct est_record_figures *f)
{
	json_object *o = json_object_new_object();
	int64_t saved = 0, achievable = 0;
	double q;

	ksm_report_estimate_pair(r, domain, &saved, &achievable);
	q = est_record_ratio(saved, achievable);
	if (domain)
		json_object_object_add(o, "domain", json_object_new_string(domain));
	json_object_object_add(o, "anon_bytes", json_object_new_int64(f->anon_bytes));
	json_object_object_add(o, "achievable_bytes", json_object_new_int64(f->achievable_bytes));
	json_object_object_add(o, "achievable_stderr_bytes", json_object_new_int64(f->achievable_stderr_bytes));
	json_object_object_add(o, "saved_bytes", json_object_new_int64(saved));
	json_object_object_add(o, "ratio", q < 0 ? NULL : json_object_new_double(q));
	return o;
}

/* The last estimate beside the saving now, null when there is none. */
static json_object *json_estimate(const struct ksm_report *r)
{
	json_object *o, *ds;
	size_t i;

	if (r->estimate_error) {
		o = json_object_new_object();
		json_object_object_add(o, "error", json_object_new_string(r->estimate_error));
		return o;
	}
	if (!r->has_estimate)
		return NULL;
	o = json_object_new_object();
	ds = json_object_new_array();
	json_object_object_add(o, "time", json_object_new_int64(r->estimate.time));
	json_object_object_add(o, "age_seconds", json_object_new_int64(r->now - r->estimate.time));
	json_object_object_add(o, "complete", json_object_new_boolean(r->estimate.complete));
	json_object_object_add(o, "sample", json_object_new_double(r->estimate.sample));
	json_object_object_add(o, "node", json_estimate_pair(r, NULL, &r->estimate.node));
	for (i = 0; i < r->estimate.n_domains; i++)
		json_object_array_add(ds, json_estimate_pair(r, r->estimate.domains[i].domain,
							     &r->estimate.domains[i].f));
	json_object_object_add(o, "domains", ds);
	return o;
}

/* {"recorded": 3, "effective": "3" | "deny", "mismatch": false}, or
 * null where neither samepage nor the kernel has a domain for it. */
static json_object *json_kdomain(const struct ksm_report_row *row)
{
	json_object *o;
	char eff[24];

	if (!row->kdomain && !row->kdomain_known)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "recorded", row->kdomain ? json_object_new_uint64(row->kdomain) : NULL);
	snprintf(eff, sizeof(eff), "%" PRIu64, row->kdomain_effective);
	json_object_object_add(o, "effective",
			       !row->kdomain_known ? NULL : json_object_new_string(row->kdomain_deny ? "deny" : eff));
	json_object_object_add(o, "mismatch", json_object_new_boolean(row->kdomain_mismatch));
	return o;
}

json_object *ksm_report_json(const struct ksm_report *r)
{
	json_object *o = json_object_new_object(), *rows = json_object_new_array(),
		    *doms = json_object_new_array(), *total = json_object_new_object();
	long ps = r->node.page_size;
	size_t i;

	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "node", json_node(&r->node));
	for (i = 0; i < r->n_rows; i++) {
		const struct ksm_report_row *row = &r->rows[i];
		json_object *c = json_object_new_object();

		json_object_object_add(c, "id", json_object_new_string(row->id));
		json_object_object_add(c, "domain", json_str_or_null(row->domain));
		json_object_object_add(c, "state", json_object_new_string(ksm_report_row_state(row)));
		json_object_object_add(c, "in_state", json_object_new_boolean(row->in_state));
		json_object_object_add(c, "enabled", json_object_new_boolean(row->enabled));
		json_object_object_add(c, "running", json_object_new_boolean(row->running));
		json_object_object_add(c, "backend", json_str_or_null(row->backend));
		json_object_object_add(c, "pid", row->pid > 0 ? json_object_new_int(row->pid) : NULL);
		json_object_object_add(c, "cgroup", json_str_or_null(row->cgroup));
		json_object_object_add(c, "reason", json_str_or_null(row->reason));
		json_object_object_add(c, "error", json_str_or_null(row->error));
		json_object_object_add(c, "kernel_domain", json_kdomain(row));
		json_stat(c, &row->stat, ps);
		json_object_array_add(rows, c);
	}
	for (i = 0; i < r->n_domains; i++) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "domain", json_object_new_string(r->domains[i].domain));
		json_object_object_add(d, "containers", json_object_new_int64((int64_t)r->domains[i].containers));
		json_stat(d, &r->domains[i].stat, ps);
		json_object_array_add(doms, d);
	}
	json_object_object_add(total, "containers", json_object_new_int64((int64_t)r->n_rows));
	json_stat(total, &r->total, ps);
	json_object_object_add(o, "containers", rows);
	json_object_object_add(o, "domains", doms);
	json_object_object_add(o, "total", total);
	json_object_object_add(o, "unattributed", json_unattributed(r));
	json_object_object_add(o, "estimate", json_estimate(r));
	return o;
}


/* --- Prometheus text exposition format -------------------------------- */

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

/* "# HELP" and "# TYPE" of samepage_<prefix><name>. */
static void family(FILE *f, const char *prefix, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP samepage_%s%s %s\n# TYPE samepage_%s%s %s\n", prefix, name, help, prefix, name, type);
}

/* A node-level gauge or counter from a sysfs file; absent files are left
 * out rather than reported as 0. */
static void node_metric(FILE *f, const char *name, const char *type, const char *help, int64_t v)
{
	if (v < 0)
		return;
	family(f, "", name, type, help);
	fprintf(f, "samepage_%s %" PRId64 "\n", name, v);
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

/* false when the kernel does not tell the value: the series is left out. */
static bool value_known(const struct ksm_group_stat *s, enum stat_field fl)
{
	return fl != F_MERGE_ANY || s->merge_any_known;
}

/* One sample: name, labels, value.  The caller checked value_known(). */
static void sample(FILE *f, const char *prefix, enum stat_field fl, const char *domain, const char *container,
		   const struct ksm_group_stat *s, long page_size)
{
	fprintf(f, "samepage_%s%s", prefix, fields[fl].suffix);
	labels(f, domain, container);
	switch (fl) {
	case F_PROCESSES: fprintf(f, " %" PRIu64 "\n", s->processes); break;
	case F_MERGE_ANY: fprintf(f, " %" PRIu64 "\n", s->merge_any); break;
	case F_MERGING: fprintf(f, " %" PRIu64 "\n", s->merging_pages); break;
	case F_ZERO: fprintf(f, " %" PRIu64 "\n", s->zero_pages); break;
	case F_PROFIT: fprintf(f, " %" PRId64 "\n", s->profit); break;
	case F_ANON: fprintf(f, " %" PRIu64 "\n", s->anon_bytes); break;
	case F_SHARE:
	default: fprintf(f, " %.6f\n", ksm_group_merged_share(s, page_size)); break;
	}
}

static void prom_node(FILE *f, const struct ksm_node_stat *n)
{
	family(f, "", "node_info", "gauge", "Kernel release and samepage backend (always 1).");
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
		family(f, "", "node_general_profit_bytes", "gauge",
		       "Memory saved by KSM node-wide minus its metadata (general_profit).");
		fprintf(f, "samepage_node_general_profit_bytes %" PRId64 "\n", n->general_profit);
	}
	node_metric(f, "ksmd_full_scans_total", "counter", "Full scans ksmd completed (full_scans).", n->full_scans);
	node_metric(f, "ksmd_run", "gauge", "ksmd run mode (0 off, 1 on, 2 unmerge).", n->run);
	node_metric(f, "ksmd_pages_to_scan", "gauge", "Pages ksmd scans per batch (pages_to_scan).", n->pages_to_scan);
	node_metric(f, "ksmd_sleep_milliseconds", "gauge", "ksmd sleep between batches (sleep_millisecs).",
		    n->sleep_millisecs);
	family(f, "", "ksmd_managed", "gauge",
	       "1 when samepage manages ksmd, 0 when ksmd is off or someone else runs it.");
	fprintf(f, "samepage_ksmd_managed{manager=\"%s\"} %d\n", ksmd_manager_name(n->manager),
		n->manager == KSMD_SAMEPAGE);
}

/* Kernel domains, only where a cgroup has one (node/domain-kernel.h). */
static void prom_kdomains(FILE *f, const struct ksm_report *r)
{
	bool any = false;
	size_t i;

	for (i = 0; i < r->n_rows; i++)
		any |= r->rows[i].kdomain_known && r->rows[i].in_state;
	if (!any)
		return;
	family(f, "", "container_kernel_domain_mismatch", "gauge",
	       "1 when the container's ksm.domain.effective differs from the kernel domain samepage recorded.");
	for (i = 0; i < r->n_rows; i++) {
		const struct ksm_report_row *row = &r->rows[i];

		if (!row->kdomain_known || !row->in_state)
			continue;
		fputs("samepage_container_kernel_domain_mismatch", f);
		labels(f, row->domain ? row->domain : "", row->id);
		fprintf(f, " %d\n", row->kdomain_mismatch);
	}
}

static void prom_containers(FILE *f, const struct ksm_report *r)
{
	size_t i;
	int fl;

	family(f, "", "container_enabled", "gauge", "1 when samepage enabled KSM for the container, 0 when it refused.");
	for (i = 0; i < r->n_rows; i++) {
		const struct ksm_report_row *row = &r->rows[i];

		if (!ksm_report_row_has_figures(row) || !row->in_state)
			continue;
		fputs("samepage_container_enabled", f);
		labels(f, row->domain ? row->domain : "", row->id);
		fprintf(f, " %d\n", row->enabled);
	}
	prom_kdomains(f, r);
	for (fl = 0; fl < F_COUNT; fl++) {
		family(f, "container_", fields[fl].suffix, "gauge", fields[fl].help);
		for (i = 0; i < r->n_rows; i++) {
			const struct ksm_report_row *row = &r->rows[i];

			if (ksm_report_row_has_figures(row) && value_known(&row->stat, fl))
				sample(f, "container_", fl, row->domain ? row->domain : "", row->id, &row->stat,
				       r->node.page_size);
		}
	}
}

static void prom_domains(FILE *f, const struct ksm_report *r)
{
	size_t i;
	int fl;

	family(f, "", "domain_containers", "gauge", "Containers of the domain known to samepage.");
	for (i = 0; i < r->n_domains; i++) {
		fputs("samepage_domain_containers", f);
		labels(f, r->domains[i].domain, NULL);
		fprintf(f, " %zu\n", r->domains[i].containers);
	}
	for (fl = 0; fl < F_COUNT; fl++) {
		family(f, "domain_", fields[fl].suffix, "gauge", fields[fl].help);
		for (i = 0; i < r->n_domains; i++)
			if (value_known(&r->domains[i].stat, fl))
				sample(f, "domain_", fl, r->domains[i].domain, NULL, &r->domains[i].stat,
				       r->node.page_size);
	}
}

/* Left out when they could not be read: absent, not 0, as for the node's
 * files. */
static void prom_unattributed(FILE *f, const struct ksm_report *r)
{
	const struct sp_unattributed *u = &r->unattributed;

	if (r->unattributed_error)
		return;
	node_metric(f, "unattributed_pages", "gauge",
		    "Merged KSM pages (pages_shared + pages_sharing) not attributable to workloads samepage enabled.",
		    u->pages);
	node_metric(f, "unattributed_processes", "gauge",
		    "Processes outside samepage's record whose memory KSM may merge (self-opt-in).", (int64_t)u->n);
}

/* The last estimate: left out when there is none (absent, not 0). */
static void prom_estimate(FILE *f, const struct ksm_report *r)
{
	int64_t saved, achievable;
	size_t i;

	if (!r->has_estimate)
		return;
	node_metric(f, "estimate_age_seconds", "gauge", "Seconds since the last `samepage estimate` finished.",
		    r->now > r->estimate.time ? r->now - r->estimate.time : 0);
	node_metric(f, "estimate_node_achievable_bytes", "gauge",
		    "What KSM could save at most on the containers of the last estimate, inside their domains.",
		    r->estimate.node.achievable_bytes);
	family(f, "", "estimate_achievable_bytes", "gauge",
	       "What KSM could save at most inside the domain, by the last `samepage estimate`.");
	for (i = 0; i < r->estimate.n_domains; i++) {
		fputs("samepage_estimate_achievable_bytes", f);
		labels(f, r->estimate.domains[i].domain, NULL);
		fprintf(f, " %" PRId64 "\n", r->estimate.domains[i].f.achievable_bytes);
	}
	family(f, "", "estimate_saved_bytes", "gauge",
	       "What KSM saves now in the domain, comparable with samepage_estimate_achievable_bytes.");
	for (i = 0; i < r->estimate.n_domains; i++) {
		if (!ksm_report_estimate_pair(r, r->estimate.domains[i].domain, &saved, &achievable))
			continue;
		fputs("samepage_estimate_saved_bytes", f);
		labels(f, r->estimate.domains[i].domain, NULL);
		fprintf(f, " %" PRId64 "\n", saved);
	}
}

int ksm_report_prometheus(const struct ksm_report *r, char **text, size_t *len, sp_error_t *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	FILE *f;

	/* A memory stream grows with what is written: label values (container
	 * ids, domains) have no length limit here. */
	f = open_memstream(&buf, &n);
	if (!f)
		return sp_error_set(err, errno, "metrics: open_memstream");
	prom_node(f, &r->node);
	prom_containers(f, r);
	prom_domains(f, r);
	prom_unattributed(f, r);
	prom_estimate(f, r);
	if (ferror(f)) {
		fclose(f);
		return sp_error_set(err, ENOMEM, "metrics: format");
	}
	if (fclose(f) != 0)
		return sp_error_set(err, errno, "metrics: format");
	*text = TAKE_PTR(buf);
	*len = n;
	return 0;
}
