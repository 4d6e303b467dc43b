/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Self-opt-in, seen: KSM memory outside every workload samepage enabled.
 * Any process may make its own memory mergeable (prctl(PR_SET_MEMORY_MERGE),
 * madvise(MADV_MERGEABLE)); once ksmd runs, its pages merge with those of
 * whichever domain owns KSM on the node, which is exactly what an attacker
 * in another tenant wants.  Two views:
 *
 *   node-wide   merged pages not attributable to a recorded workload: the
 *               node's pages_shared + pages_sharing (every page-table entry
 *               that points at a KSM page: the sum of ksm_merging_pages
 *               over all processes) minus the sum of ksm_merging_pages of
 *               the processes of the enabled entries of the node state;
 *   per process every process with KSM evidence (host/ksm-scan.h) that is
 *               not one of those processes, named with its comm, its cgroup
 *               and its container when it is one.
 *
 * The node's counters are read before and after the processes, and the
 * smaller is used, so a node merging or unmerging while it is read does not
 * show pages that belong to recorded workloads as unattributed.
 */
#ifndef SP_UNATTRIBUTED_H
#define SP_UNATTRIBUTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"
#include "host/ksm-scan.h"
#include "cgroupfs/cgroup.h"
#include "node/config.h"
#include "node/state.h"

struct sp_unattributed_proc {
	struct ksm_scan_proc p;
	char *cgroup;            /* its container cgroup, or NULL (root cgroup, gone) */
	char *container;         /* a state entry of that cgroup (refused), else the id the
				  * cgroup's name carries for a process in another pid
				  * namespace ("crio-<id>.scope" -> <id>), else NULL */
};

struct sp_unattributed {
	int64_t node_pages;          /* min of pages_shared + pages_sharing before/after; -1 unknown */
	int64_t attributed_pages;    /* sum of ksm_merging_pages of recorded processes */
	int64_t pages;               /* node_pages - attributed_pages, never below 0 */
	struct sp_unattributed_proc *procs;
	size_t n;
};

/* Collect both views for the enabled entries of st.  deep reads smaps too
 * (KSM_SCAN_SMAPS; doctor).  Fails only when /proc cannot be read. */
int sp_unattributed_collect(const struct sp_state *st, bool deep, struct sp_unattributed *u, sp_error_t *err);
void sp_unattributed_free(struct sp_unattributed *u);

/* The arithmetic, without /proc: keep the processes of scan not in
 * attributed (sorted, see pid_list_sort_unique), sum the merging pages of
 * those in it, and the node-wide figure from the two readings of
 * pages_shared + pages_sharing (-1: unknown).  Takes the procs of scan
 * (cgroup and container left NULL).  -ENOMEM only. */
int sp_unattributed_attribute(struct ksm_scan *scan, const struct pid_list *attributed, int64_t node_before,
			      int64_t node_after, struct sp_unattributed *u);

/* The container id a cgroup directory's name carries: the last component
 * without a runtime's prefix (crio-, docker-, libpod-, cri-containerd-,
 * conmon- is not a container) and ".scope".  malloc'd, NULL when none. */
char *sp_container_from_cgroup(const char *cgroup);

/* "pid 4121 (fillmem, cgroup /sys/fs/cgroup/x, container c1), ..." of at
 * most max processes ("and N more").  malloc'd; NULL on ENOMEM. */
char *sp_unattributed_describe(const struct sp_unattributed *u, size_t max);

/*
 * Admission's gate (node/admit.c calls it once the domain policy allowed
 * the workload): under domain_policy exclusive and `unattributed: refuse`,
 * a workload whose admission would bring a new domain onto the node (no
 * enabled entry of domain in st) or turn ksmd on (run is 0 and samepage
 * manages ksmd) is refused while unattributed mergeable processes exist.
 * Returns 0, or -EPERM with a message naming the processes.
 */
int sp_unattributed_gate(const struct sp_state *st, const struct sp_config *cfg, const char *domain,
			 sp_error_t *err);

#endif
