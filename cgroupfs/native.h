/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The native backend: the `ksm` cgroup v2 controller from samepage's kernel
 * patches (kernel/patches/).  On a kernel that has it, KSM for a container is
 * a file write: enable the controller in cgroup.subtree_control from the
 * cgroup2 root down to the container's parent, then write 1 to the
 * container's ksm.enable.  The kernel applies it to every process in the
 * cgroup and its descendants, also to those that join later (runc exec), and
 * sums their /proc/<pid>/ksm_stat into ksm.stat.
 *
 * Nothing here touches a process; callers on stock kernels use inject.h.
 */
#ifndef SP_NATIVE_H
#define SP_NATIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"

/* Which version of the kernel series provides the controller. */
enum ksm_native_series {
	KSM_NATIVE_SERIES_UNKNOWN = 0, /* no cgroup with ksm.stat to look at */
	KSM_NATIVE_SERIES_V1 = 1,      /* ksm.stat has ksm_process_profit */
	KSM_NATIVE_SERIES_V2 = 2,      /* ksm.stat has ksm_process_profit_sum */
};

/* The sums in a cgroup's ksm.stat, each mm counted once. */
struct ksm_cg_stat {
	uint64_t rmap_items;
	uint64_t zero_pages;
	uint64_t merging_pages;
	/* Sum of the per-process ksm_process_profit figures: a KSM page
	 * shared by n processes counts n times (v2 calls the key
	 * ksm_process_profit_sum, v1 ksm_process_profit). */
	int64_t process_profit;
	uint64_t nr_processes;
	uint64_t nr_merge_any;
	/* The series the key names show (V1 or V2). */
	enum ksm_native_series series;
};

/* The cgroup2 mount point (cgroup2_mount() of cgroupfs/cgroup.h:
 * /sys/fs/cgroup or /sys/fs/cgroup/unified), or NULL.  Looked up once per
 * process; the string is owned by the library. */
const char *ksm_native_cgroup2_root(void);

/* true when the `ksm` controller is listed in the cgroup2 root's
 * cgroup.controllers; cached after the first call. */
bool ksm_native_available(void);

/* Absolute filesystem path of pid's cgroup2 cgroup: the "0::/x" line of
 * /proc/pid/cgroup joined to ksm_native_cgroup2_root() (cgroup2_pick_path).
 * *path is malloc'd. */
int ksm_native_cgroup_of_pid(pid_t pid, char **path, sp_error_t *err);

/* Enable the controller in cgroup.subtree_control of every ancestor from the
 * cgroup2 root down to path's parent (only where not already enabled), then
 * write 1 (on) or 0 to path/ksm.enable.  path must lie below the cgroup2
 * root.  Errors name the file. */
int ksm_native_enable(const char *path, bool on, sp_error_t *err);

/* The first half of ksm_native_enable: the controller in
 * cgroup.subtree_control from the root down to path's parent, so that
 * path's ksm.* files exist (cgroupfs/native-domain.h writes ksm.domain
 * before ksm.enable). */
int ksm_native_prepare(const char *path, sp_error_t *err);

/* Read path/ksm.enable (own value) into *on. */
int ksm_native_enabled(const char *path, bool *on, sp_error_t *err);

/* Parse path/ksm.stat.  Unknown keys are ignored; a missing key is an error
 * naming the file. */
int ksm_native_stat(const char *path, struct ksm_cg_stat *st, sp_error_t *err);

/* Parse the text of a ksm.stat file (exposed for tests); what names it in
 * errors. */
int ksm_native_parse_stat(const char *text, const char *what, struct ksm_cg_stat *st, sp_error_t *err);

/* Feature probe: which series (v1 or v2 of kernel/patches/) provides the
 * controller, told by the ksm.stat key of the first cgroup found below the
 * cgroup2 root (breadth first, at most 3 levels and 512 directories) that
 * has a ksm.stat.  *series is KSM_NATIVE_SERIES_UNKNOWN when there is none
 * yet (the controller is not enabled in any cgroup.subtree_control).  A
 * ksm.stat that cannot be read (v2 needs root or the owner) is an error. */
int ksm_native_probe_series(enum ksm_native_series *series, sp_error_t *err);

/* Testing hook: use root as the cgroup2 root instead of looking it up (NULL
 * restores the lookup).  Also forgets the cached availability. */
void ksm_native_set_root_for_testing(const char *root);

#endif
