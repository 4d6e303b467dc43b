/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "cgroupfs/cgroup.h"
#include "cgroupfs/native.h"
#include "cgroupfs/figures.h"

/* A process tree larger than this is not a workload we report on. */
#define TREE_MAX 1000000

int ksm_stat_cgroup(const char *path, struct ksm_group_stat *out, sp_error_t *err)
{
	_cleanup_(pid_list_free) struct pid_list l = { 0 };
	_cleanup_free_ char *native = NULL;
	int ret;

	ret = cgroup_procs_read(path, true, &l, err);
	if (ret < 0)
		return ret;
	pid_list_sort_unique(&l);
	ret = ksm_stat_pids(l.pids, l.n, out, err);
	if (ret < 0)
		return sp_error_wrap(err, "cgroup `%s`", path);

	/* The native controller sums ksm_stat in the kernel, consistently. */
	if (!ksm_native_available())
		return 0;
	if (asprintf(&native, "%s/ksm.stat", path) < 0)
		return sp_error_set(err, ENOMEM, "cgroup `%s`", path);
	if (access(native, R_OK) == 0) {
		struct ksm_cg_stat cs;

		ret = ksm_native_stat(path, &cs, err);
		if (ret < 0)
			return ret;
		out->processes = cs.nr_processes;
		out->merge_any = cs.nr_merge_any;
		out->merge_any_known = true;
		out->rmap_items = cs.rmap_items;
		out->merging_pages = cs.merging_pages;
		out->zero_pages = cs.zero_pages;
		out->profit = cs.process_profit;
	}
	return 0;
}

static int tree_add_children(pid_t pid, struct pid_list *l, sp_error_t *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0; /* exited */
	while ((de = readdir(d))) {
		_cleanup_free_ char *buf = NULL;
		char file[384];
		const char *p;

		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/children", path, de->d_name);
		if (read_file_bounded(AT_FDCWD, file, 1 << 20, &buf, NULL, NULL) < 0)
			continue; /* the thread exited */
		for (p = buf; *p;) {
			char *end;
			long c = strtol(p, &end, 10);

			if (end == p)
				break;
			if (l->n >= TREE_MAX)
				return sp_error_set(err, E2BIG, "process tree of pid %d: more than %d processes",
						    (int)pid, TREE_MAX);
			if (c > 0 && pid_list_add(l, (pid_t)c) < 0)
				return sp_error_set(err, ENOMEM, "process tree of pid %d", (int)pid);
			p = end;
		}
	}
	return 0;
}

int ksm_proc_tree(pid_t pid, struct pid_list *l, sp_error_t *err)
{
	size_t i;
	int ret;

	if (pid_list_add(l, pid) < 0)
		return sp_error_set(err, ENOMEM, "process tree of pid %d", (int)pid);
	/* l grows while we walk it: breadth first. */
	for (i = l->n - 1; i < l->n; i++) {
		ret = tree_add_children(l->pids[i], l, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

