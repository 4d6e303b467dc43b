/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * KSM's kernel interfaces: the /sys/kernel/mm/ksm knobs, /proc/<pid>/ksm_stat
 * and prctl(PR_SET_MEMORY_MERGE) for the calling process.
 */
#ifndef SP_KSM_H
#define SP_KSM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/error.h"
#include "base/kernel-abi.h" /* PR_SET_MEMORY_MERGE for the callers */

/* /sys/kernel/mm/ksm, or $SAMEPAGE_KSM_SYSFS (tests point it at a copy). */
const char *ksm_sysfs_dir(void);

bool ksm_knob_exists(const char *name);

/* Read a knob.  Selector knobs such as advisor_mode ("[none] scan-time")
 * are returned as the selected word. */
int ksm_knob_read(const char *name, char **value, sp_error_t *err);
int ksm_knob_write(const char *name, const char *value, sp_error_t *err);
int ksm_knob_read_u64(const char *name, uint64_t *value, sp_error_t *err);

/* /proc/<pid>/ksm_stat.  merge_any and mergeable are -1 when the kernel
 * does not print them (6.12 and older). */
struct ksm_proc_stat {
	int64_t rmap_items;
	int64_t zero_pages;
	int64_t merging_pages;
	int64_t process_profit;
	int merge_any;
	int mergeable;
};

int ksm_proc_stat_read(pid_t pid, struct ksm_proc_stat *st, sp_error_t *err);
int ksm_proc_stat_parse(const char *text, struct ksm_proc_stat *st);

/* prctl(PR_SET_MEMORY_MERGE, on, 0, 0, 0) on the calling process.  arg3-5
 * must be 0 (non-zero gives EINVAL).  -EINVAL on kernels without it. */
int ksm_prctl_self(bool on, sp_error_t *err);

/* 1 when whole-process KSM is on for the caller, 0 off, -EINVAL when the
 * kernel lacks PR_GET_MEMORY_MERGE. */
int ksm_prctl_get_self(void);

#endif
