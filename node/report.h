/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The status report of the node, behind `samepage status` and `samepage
 * metrics`: ksmd's knobs and counters, one row per container of the node
 * state (or per cgroup given by path), one per security domain, and the
 * total.  The figures of a row come from cgroupfs/figures.h and
 * host/sample.h.  Both machine formats are here, next to the data they
 * show, because docs/status-metrics.md promises them: the JSON document of
 * `status --json` and the Prometheus text of `metrics`.
 */
#ifndef SP_REPORT_H
#define SP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>
#include "base/error.h"
#include "host/sample.h"
#include "node/state.h"
#include "node/unattributed.h"
#include "node/estimate-record.h"

/* Bytes for people, as status prints them: "512B", "1.5KiB", "12.0MiB",
 * "-3.0GiB" (binary units, one decimal).  Returns buf; 16 bytes always
 * suffice. */
const char *ksm_format_size(int64_t bytes, char *buf, size_t size);

/* The node: kernel, backend, ksmd knobs and global counters.  Numbers are
 * -1 and strings "" where this kernel has no such file. */
enum ksmd_manager {
	KSMD_OFF,        /* run is 0 */
	KSMD_SAMEPAGE,   /* samepage turned it on (state ksmd.managed) */
	KSMD_OTHER,      /* running, configured by someone else */
};

struct ksm_node_stat {
	char kernel[65];
	const char *backend;     /* "native" or "stock" */
	long page_size;
	int64_t run, pages_to_scan, sleep_millisecs, smart_scan, use_zero_pages, max_page_sharing;
	char advisor_mode[32];
	int64_t pages_shared, pages_sharing, pages_unshared, pages_volatile, ksm_zero_pages, general_profit,
		full_scans, stable_node_chains, stable_node_dups;
	enum ksmd_manager manager;
};

const char *ksmd_manager_name(enum ksmd_manager m);
int ksm_node_stat_read(const struct sp_state *st, struct ksm_node_stat *n, sp_error_t *err);

/* A row of the report: a container of the node state, or a cgroup given by
 * path. */
struct ksm_report_row {
	char *id;
	char *domain;            /* NULL for a cgroup not in the state */
	char *cgroup;            /* the cgroup read, or NULL (process tree) */
	char *backend;           /* from the state, or NULL */
	char *reason;            /* why it was refused, or NULL */
	pid_t pid;
	bool in_state;
	bool enabled;
	bool running;            /* its recorded process is alive */
	char *error;             /* why its figures could not be read, or NULL */
	struct ksm_group_stat stat;
	/* Kernel domains (node/domain-kernel.h): the id samepage wrote to the
	 * cgroup's ksm.domain (0: none), what ksm.domain.effective says when
	 * the cgroup has it, and whether the two differ (a container that is
	 * not in the domain its record says). */
	uint64_t kdomain;
	bool kdomain_known;
	bool kdomain_deny;
	uint64_t kdomain_effective;
	bool kdomain_mismatch;
};

struct ksm_report_domain {
	char *domain;
	size_t containers;
	struct ksm_group_stat stat;
};

struct ksm_report {
	struct ksm_node_stat node;
	struct ksm_report_row *rows;
	size_t n_rows;
	struct ksm_report_domain *domains;
	size_t n_domains;
	struct ksm_group_stat total;
	/* Self-opt-in: KSM memory outside the enabled entries of the state
	 * (node/unattributed.h), or why it could not be read. */
	struct sp_unattributed unattributed;
	char *unattributed_error;
	/* The last `samepage estimate` (node/estimate-record.h), when
	 * ksm_report_add_estimate() found one; else why not, or NULL when
	 * there is none. */
	bool has_estimate;
	struct est_record estimate;
	char *estimate_error;
	int64_t now;             /* when the estimate was read, for its age */
};

/*
 * Collect the report: the node, then every container of st (only those of
 * domain when not NULL), or only the targets when n_targets > 0 (a container
 * id of the state, or a cgroup directory path).  Rows are sorted by domain,
 * then id; a domain row sums its containers; total sums all rows.  A
 * container whose figures cannot be read keeps an error in its row.
 */
int ksm_report_collect(const struct sp_state *st, const char *domain, char *const *targets, size_t n_targets,
		       struct ksm_report *r, sp_error_t *err);
void ksm_report_free(struct ksm_report *r);

/* Read the last estimate of state_dir into r (absent is not an error). */
void ksm_report_add_estimate(struct ksm_report *r, const char *state_dir);

/* What KSM saves now for a group, comparable with the estimate's
 * achievable saving: est_ksm_saved_bytes() with the node's counters. */
int64_t ksm_report_saved_bytes(const struct ksm_report *r, const struct ksm_group_stat *s);

/* The estimate's figures beside the saving now: saved and achievable
 * bytes of domain (NULL: the node, i.e. all domains of the report).
 * false when the estimate has no such domain. */
bool ksm_report_estimate_pair(const struct ksm_report *r, const char *domain, int64_t *saved, int64_t *achievable);

/* The row's state word: "on", "refused", "exited", "error", or "-" for a
 * cgroup not in the state. */
const char *ksm_report_row_state(const struct ksm_report_row *row);

/* true when the row has figures to show (running and read without error). */
bool ksm_report_row_has_figures(const struct ksm_report_row *row);

/* The document of `samepage status --json` ("version": 1, see
 * docs/status-metrics.md).  NULL when out of memory. */
json_object *ksm_report_json(const struct ksm_report *r);

/* The report in the Prometheus text exposition format (0.0.4), every series
 * whatever the length of its labels: *text is malloc'd, *len its length. */
int ksm_report_prometheus(const struct ksm_report *r, char **text, size_t *len, sp_error_t *err);

#endif
