/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The KSM figures of the processes a cgroup directory holds (or a process
 * tree), for `samepage status` and `samepage metrics`: the sums of
 * host/sample.h over its processes, or the cgroup's ksm.stat where samepage's
 * native `ksm` controller provides one (the kernel sums consistently).
 */
#ifndef SP_FIGURES_H
#define SP_FIGURES_H

#include <sys/types.h>
#include "base/error.h"
#include "host/sample.h"
#include "cgroupfs/cgroup.h"

/* The processes of a cgroup directory and its descendants.  Where the
 * directory has a native ksm.stat, the KSM figures come from it. */
int ksm_stat_cgroup(const char *path, struct ksm_group_stat *out, sp_error_t *err);

/* pid and its descendants (from /proc/<pid>/task/<tid>/children), appended
 * to l.  It lives here rather than in host/ only because struct pid_list is
 * cgroupfs/cgroup.h's. */
int ksm_proc_tree(pid_t pid, struct pid_list *l, sp_error_t *err);

#endif
