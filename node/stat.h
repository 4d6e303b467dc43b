/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What KSM saves, per process group (a container, a cgroup, a domain, the
 * node), for `samepage status` and `samepage metrics`.
 *
 * A group's figures are the sums of /proc/<pid>/ksm_stat over its processes
 * (stock kernels), or the cgroup's ksm.stat where the native controller
 * provides one, plus the anonymous memory of the same processes from
 * /proc/<pid>/statm (resident - shared = RssAnon).  Every mm is counted once:
 * cgroup.procs lists thread-group leaders, not threads, and processes that
 * share an mm without being threads (CLONE_VM) are found with
 * kcmp(KCMP_VM) among processes whose figures are identical.  A process that
 * exits while it is read is left out, not an error.
 */
#ifndef SP_STAT_H
#define SP_STAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"
#include "node/state.h"
#include "cgroupfs/cgroup.h"

struct ksm_group_stat {
	uint64_t processes;      /* distinct mms */
	uint64_t merge_any;      /* of them with ksm_merge_any: yes */
	bool merge_any_known;    /* false when the kernel does not say (<= 6.12) */
	uint64_t rmap_items;
	uint64_t merging_pages;
	uint64_t zero_pages;
	int64_t profit;          /* bytes (ksm_process_profit; may be negative) */
	uint64_t anon_bytes;     /* anonymous resident memory */
};

/* An empty group (merge_any_known true, everything 0). */
void ksm_group_stat_init(struct ksm_group_stat *s);
void ksm_group_stat_add(struct ksm_group_stat *sum, const struct ksm_group_stat *s);

/* Share of the anonymous memory that KSM merged:
 * (merging_pages + zero_pages) / (anon pages + zero_pages), 0 when empty.
 * ksm_zero_pages are no longer counted as resident, so they are added back. */
double ksm_group_merged_share(const struct ksm_group_stat *s, long page_size);

/* Bytes for people, as status prints them: "512B", "1.5KiB", "12.0MiB",
 * "-3.0GiB" (binary units, one decimal).  Returns buf. */
const char *ksm_format_size(int64_t bytes, char *buf, size_t size);

/* One process as read from /proc. */
struct ksm_proc_sample {
	pid_t pid;
	int64_t rmap_items, zero_pages, merging_pages, profit;
	int merge_any;           /* 1, 0, or -1 when not printed */
	uint64_t vm_pages, resident_pages, anon_pages; /* statm */
};

/* Parse the text of /proc/<pid>/ksm_stat ("key value" or "key: value"
 * lines); -ENODATA for an empty file (no mm: a zombie or a kernel thread). */
int ksm_stat_parse_proc(const char *text, struct ksm_proc_sample *s);
/* Parse the text of /proc/<pid>/statm. */
int ksm_stat_parse_statm(const char *text, struct ksm_proc_sample *s);

/* Read pid's sample.  -ESRCH when it is gone or has no mm (no message);
 * other errors name the file. */
int ksm_proc_sample_read(pid_t pid, struct ksm_proc_sample *s, sp_error_t *err);

/*
 * Sum samples into out, counting each mm once.  same_mm decides whether two
 * processes with identical figures share one mm; NULL uses kcmp(KCMP_VM)
 * (processes it cannot compare count as distinct).  Reorders samples.
 */
typedef bool (*ksm_same_mm_fn)(pid_t a, pid_t b);
void ksm_stat_sum_samples(struct ksm_proc_sample *samples, size_t n, ksm_same_mm_fn same_mm,
			  struct ksm_group_stat *out);

/* Read and sum the given processes (exited ones are skipped). */
int ksm_stat_pids(const pid_t *pids, size_t n, struct ksm_group_stat *out, sp_error_t *err);

/* The processes of a cgroup directory and its descendants.  Where the
 * directory has a native ksm.stat, the KSM figures come from it. */
int ksm_stat_cgroup(const char *path, struct ksm_group_stat *out, sp_error_t *err);

/* pid and its descendants (from /proc/<pid>/task/<tid>/children). */
int ksm_proc_tree(pid_t pid, struct pid_list *l, sp_error_t *err);

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

#endif
