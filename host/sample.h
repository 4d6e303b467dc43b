/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What KSM saves for a set of processes, from /proc alone: each process's
 * /proc/<pid>/ksm_stat (parsed by host/ksm.h) and the anonymous memory of
 * the same process from /proc/<pid>/statm (resident - shared = RssAnon),
 * summed so that every mm counts once.  cgroup.procs lists thread-group
 * leaders, not threads, and processes that share an mm without being
 * threads (CLONE_VM) are found with kcmp(KCMP_VM) among processes whose
 * figures are identical.  A process that exits while it is read is left
 * out, not an error.
 */
#ifndef SP_SAMPLE_H
#define SP_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"

/* The figures of a group of processes (a container, a domain, the node). */
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

/* One process as read from /proc. */
struct ksm_proc_sample {
	pid_t pid;
	int64_t rmap_items, zero_pages, merging_pages, profit;
	int merge_any;           /* 1, 0, or -1 when not printed */
	uint64_t vm_pages, resident_pages, anon_pages; /* statm */
};

/* Parse the texts of /proc/<pid>/ksm_stat and /proc/<pid>/statm into s
 * (pid untouched).  -ENODATA for an empty ksm_stat (no mm: a zombie or a
 * kernel thread), -EINVAL for a statm that is not three numbers. */
int ksm_proc_sample_parse(const char *ksm_stat, const char *statm, struct ksm_proc_sample *s);

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

#endif
