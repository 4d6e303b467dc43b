/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Cgroups as sets of processes: which processes a cgroup directory holds
 * (cgroup v1 or v2, with its descendants), and which cgroup directory stands
 * for the container a pid lives in.
 *
 * On a v1 or hybrid host the runtimes put a container into every v1
 * hierarchy, while the unified (v2) hierarchy of a hybrid host is systemd's
 * view and often holds the container together with unrelated processes, so
 * the container's cgroup is looked up in the `pids` hierarchy, else `memory`,
 * else any v1 hierarchy; on a pure v2 host it is the "0::" cgroup.
 */
#ifndef SP_CGROUP_H
#define SP_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "base/error.h"

/* A growable, sorted-on-demand list of pids. */
struct pid_list {
	pid_t *pids;
	size_t n, cap;
};

int pid_list_add(struct pid_list *l, pid_t pid);
/* Sort and drop duplicates (v1 cgroup.procs may list a tgid twice). */
void pid_list_sort_unique(struct pid_list *l);
bool pid_list_contains(const struct pid_list *l, pid_t pid); /* after sort_unique */
void pid_list_free(struct pid_list *l);

/* Append the pids of a cgroup.procs text (one decimal per line) to l.
 * Malformed lines are -EINVAL. */
int cgroup_procs_parse(const char *text, struct pid_list *l);

/* Append the processes (tgids) of the cgroup directory path to l; with
 * recursive, those of every descendant cgroup too.  A descendant removed
 * while we walk is skipped.  Errors name the file. */
int cgroup_procs_read(const char *path, bool recursive, struct pid_list *l, sp_error_t *err);

/* true when path is a cgroup directory (has a cgroup.procs file). */
bool cgroup_path_valid(const char *path);

/*
 * The filesystem path of the cgroup that stands for pid's container (see the
 * top of this file).  *path is malloc'd; -ENOENT when pid sits in the root
 * cgroup of the chosen hierarchy (no container cgroup to speak of).
 */
int cgroup_of_pid(pid_t pid, char **path, sp_error_t *err);

/*
 * The same decision on given texts (for tests): mountinfo is the text of
 * /proc/self/mountinfo, proc_cgroup that of /proc/<pid>/cgroup.
 */
int cgroup_pick_path(const char *mountinfo, const char *proc_cgroup, char **path);

#endif
