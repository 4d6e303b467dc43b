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
 * Where a process's cgroup is, on any layout: from /proc/<pid>/cgroup (which
 * cgroup, relative to its hierarchy's root) and /proc/self/mountinfo (where
 * that hierarchy's root is mounted).  Works the same on a unified host
 * (cgroup2 at /sys/fs/cgroup), on systemd's hybrid layout (v1 controllers
 * under /sys/fs/cgroup, cgroup2 at /sys/fs/cgroup/unified) and on a v1-only
 * host; only mounts of a hierarchy's root count ("/" in mountinfo's field 4).
 */

/* The fields of one /proc/<pid>/mountinfo line that samepage uses. */
struct mountinfo_entry {
	char *root;        /* root of the mount within its filesystem, unescaped */
	char *mount_point; /* unescaped */
	char *fstype;
	char *super_opts;  /* "rw,pids" for a v1 cgroup mount */
};

/* Split line (one mountinfo line without its newline, modified in place;
 * *e points into it).  -EINVAL for a malformed line. */
int mountinfo_parse_line(char *line, struct mountinfo_entry *e);

/* Mount point of a cgroup hierarchy's root in mountinfo text: for v1
 * (controllers as /proc/<pid>/cgroup lists them, "cpu,cpuacct",
 * "name=systemd") the cgroup mount whose options cover them, for v2
 * (controllers "") the cgroup2 mount.  malloc'd, or NULL. */
char *cgroup_mount_find(const char *mountinfo, const char *controllers);

/* The line of a /proc/<pid>/cgroup text for want: a controller name ("pids"
 * matches "7:pids:/x" and "4:cpu,pids:/x"), "" for the v2 ("0::") line, NULL
 * for the first v1 line.  *controllers and *path are malloc'd; -ENOENT when
 * there is no such line. */
int cgroup_proc_find(const char *proc_cgroup, const char *want, char **controllers, char **path);

/* Read /proc/<pid>/cgroup (bounded). */
int cgroup_proc_read(pid_t pid, char **text, sp_error_t *err);

/* The cgroup2 mount point of our mount namespace (from mountinfo, read once
 * per process), or NULL when none is mounted.  Owned by the library. */
const char *cgroup2_mount(void);

/*
 * The filesystem path of the cgroup that stands for pid's container (see the
 * top of this file).  *path is malloc'd; -ENOENT when pid sits in the root
 * cgroup of the chosen hierarchy (no container cgroup to speak of), -EXDEV
 * when its cgroup is outside our cgroup namespace.
 */
int cgroup_of_pid(pid_t pid, char **path, sp_error_t *err);

/*
 * The same decision on given texts (for tests): mountinfo is the text of
 * /proc/self/mountinfo, proc_cgroup that of /proc/<pid>/cgroup.
 */
int cgroup_pick_path(const char *mountinfo, const char *proc_cgroup, char **path);

/* pid's cgroup in the cgroup2 hierarchy: the "0::" line of proc_cgroup
 * joined to mount (cgroup2_mount(), or a test's).  The root cgroup is the
 * mount itself when root_ok, else -ENOENT; -ENOENT also without a mount or
 * a "0::" line; -EXDEV as above. */
int cgroup2_pick_path(const char *mount, const char *proc_cgroup, bool root_ok, char **path);

#endif
