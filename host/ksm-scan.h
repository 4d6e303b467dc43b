/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every process of the node that KSM may merge, or already merged: the
 * self-opt-in a container can do on its own (prctl(PR_SET_MEMORY_MERGE),
 * madvise(MADV_MERGEABLE)) shows here whether or not samepage knows the
 * process.  Evidence, from /proc/<pid>/ksm_stat:
 *   ksm_merge_any: yes    whole-process KSM is on (prctl);
 *   ksm_mergeable: yes    some VMA of it is mergeable (madvise or prctl);
 *   ksm_merging_pages > 0 / ksm_rmap_items > 0
 *                         ksmd has merged, or scanned, its pages
 * and, in a deep scan, a VMA whose smaps VmFlags carry `mg` (VM_MERGEABLE):
 * the only sign of a madvise on a kernel that prints neither of the first
 * two, before ksmd reaches the process.  Processes without an mm (kernel
 * threads, zombies) and processes that exit while read are left out.
 */
#ifndef SP_KSM_SCAN_H
#define SP_KSM_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"

struct ksm_scan_proc {
	pid_t pid;
	unsigned long long start_time;
	char comm[32];
	int merge_any;          /* 1, 0, or -1 when the kernel does not print it */
	int mergeable;          /* likewise */
	int64_t rmap_items;
	int64_t merging_pages;
	bool vma_mg;            /* deep scan: a VMA with the `mg` flag */
};

struct ksm_scan {
	struct ksm_scan_proc *procs;
	size_t n, cap;
};

/* Read smaps as well where ksm_stat cannot tell (no ksm_mergeable line). */
#define KSM_SCAN_SMAPS 0x1

/* Scan /proc (or $SAMEPAGE_PROC_ROOT, for tests) and keep the processes
 * with any evidence above.  Only an unreadable /proc is an error. */
int ksm_scan_node(unsigned int flags, struct ksm_scan *s, sp_error_t *err);
void ksm_scan_free(struct ksm_scan *s);

/* true when p carries any evidence. */
bool ksm_scan_proc_mergeable(const struct ksm_scan_proc *p);

/* The words that say why p is listed: "merge_any", "mergeable",
 * "merging 12 pages", "scanned", "smaps mg" (the first that holds). */
const char *ksm_scan_proc_evidence(const struct ksm_scan_proc *p);

/* Does an smaps text carry a VmFlags line with the `mg` flag? */
bool ksm_smaps_text_has_mg(const char *text);

#endif
