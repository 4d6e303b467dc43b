/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "cgroupfs/cgroup.h"
#include "cgroupfs/native.h"

/* Generous bounds for kernel-generated files. */
#define CGROUP_FILE_MAX (64 * 1024)

static char *cgroup2_root;          /* the testing override */
static bool cgroup2_root_overridden;
static int available_cached = -1;   /* -1: unknown, 0/1: cached answer */

void ksm_native_set_root_for_testing(const char *root)
{
	free(cgroup2_root);
	cgroup2_root = root ? strdup(root) : NULL;
	cgroup2_root_overridden = root != NULL;
	available_cached = -1;
}

const char *ksm_native_cgroup2_root(void)
{
	if (cgroup2_root_overridden)
		return cgroup2_root;
	return cgroup2_mount();
}

/* Whether the whitespace-separated list contains word. */
static bool list_has_word(const char *list, const char *word)
{
	size_t wlen = strlen(word);
	const char *p = list;

	while (*p) {
		size_t n;

		p += strspn(p, " \t\n");
		n = strcspn(p, " \t\n");
		if (n == wlen && strncmp(p, word, wlen) == 0)
			return true;
		p += n;
	}
	return false;
}

static int cgroup_file_has_word(const char *dir, const char *file, const char *word, bool *has,
				sp_error_t *err)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	int ret;

	if (asprintf(&path, "%s/%s", dir, file) < 0)
		return sp_error_set(err, ENOMEM, "read `%s/%s`", dir, file);
	ret = read_file_bounded(AT_FDCWD, path, CGROUP_FILE_MAX, &buf, NULL, err);
	if (ret < 0)
		return ret;
	*has = list_has_word(buf, word);
	return 0;
}

bool ksm_native_available(void)
{
	const char *root;
	bool has = false;

	if (available_cached >= 0)
		return available_cached;
	root = ksm_native_cgroup2_root();
	if (root && cgroup_file_has_word(root, "cgroup.controllers", "ksm", &has, NULL) < 0)
		has = false;
	available_cached = has;
	return has;
}

int ksm_native_cgroup_of_pid(pid_t pid, char **path, sp_error_t *err)
{
	_cleanup_free_ char *buf = NULL;
	const char *root = ksm_native_cgroup2_root();
	int ret;

	if (!root)
		return sp_error_set(err, ENOENT, "no cgroup2 hierarchy is mounted");
	ret = cgroup_proc_read(pid, &buf, err);
	if (ret < 0)
		return ret;
	ret = cgroup2_pick_path(root, buf, true, path);
	if (ret == -ENOENT)
		return sp_error_set(err, ENOENT, "`/proc/%d/cgroup` has no cgroup2 (\"0::\") line", (int)pid);
	if (ret == -EXDEV)
		return sp_error_set(err, 0, "`/proc/%d/cgroup`: cgroup2 path is not reachable from `%s`", (int)pid,
				    root);
	if (ret < 0)
		return sp_error_set(err, -ret, "cgroup of pid %d", (int)pid);
	return 0;
}

/* Make sure the controller is in dir/cgroup.subtree_control. */
static int enable_in_subtree(const char *dir, sp_error_t *err)
{
	_cleanup_free_ char *file = NULL;
	bool has = false;
	int ret;

	ret = cgroup_file_has_word(dir, "cgroup.subtree_control", "ksm", &has, err);
	if (ret < 0 || has)
		return ret;
	if (asprintf(&file, "%s/cgroup.subtree_control", dir) < 0)
		return sp_error_set(err, ENOMEM, "enable ksm in `%s`", dir);
	return write_file_str(file, "+ksm", err);
}

int ksm_native_enable(const char *path, bool on, sp_error_t *err)
{
	_cleanup_free_ char *file = NULL;
	int ret;

	ret = ksm_native_prepare(path, err);
	if (ret < 0)
		return ret;
	if (asprintf(&file, "%s/ksm.enable", path) < 0)
		return sp_error_set(err, ENOMEM, "enable ksm for `%s`", path);
	return write_file_str(file, on ? "1" : "0", err);
}

int ksm_native_prepare(const char *path, sp_error_t *err)
{
	_cleanup_free_ char *dir = NULL;
	const char *root = ksm_native_cgroup2_root();
	size_t rlen, len;
	char *p;
	int ret;

	if (!root)
		return sp_error_set(err, ENOENT, "no cgroup2 hierarchy is mounted");
	rlen = strlen(root);
	/* "/" as a root would make every path's first component a child */
	if (rlen == 1 && root[0] == '/')
		rlen = 0;
	if (strncmp(path, root, rlen) != 0 || path[rlen] != '/' || path[rlen + 1] == '\0')
		return sp_error_set(err, EINVAL, "`%s` is not a cgroup below the cgroup2 root `%s`", path, root);
	if (strstr(path, "/../") || (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))
		return sp_error_set(err, EINVAL, "`%s`: `..` is not allowed in a cgroup path", path);

	dir = strdup(path);
	if (!dir)
		return sp_error_set(err, ENOMEM, "enable ksm for `%s`", path);
	len = strlen(dir);
	while (len > rlen + 1 && dir[len - 1] == '/')
		dir[--len] = '\0';

	/* Walk root, root/a, root/a/b, ... down to the parent of path: each
	 * level can only enable what its parent passed down. */
	if (rlen == 0) {
		ret = enable_in_subtree("/", err);
	} else {
		dir[rlen] = '\0';
		ret = enable_in_subtree(dir, err);
		dir[rlen] = '/';
	}
	if (ret < 0)
		return ret;
	for (p = strchr(dir + rlen + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		ret = enable_in_subtree(dir, err);
		*p = '/';
		if (ret < 0)
			return ret;
	}
	return 0;
}

int ksm_native_enabled(const char *path, bool *on, sp_error_t *err)
{
	_cleanup_free_ char *file = NULL, *val = NULL;
	int ret;

	if (asprintf(&file, "%s/ksm.enable", path) < 0)
		return sp_error_set(err, ENOMEM, "read ksm.enable of `%s`", path);
	ret = read_file_line(file, &val, err);
	if (ret < 0)
		return ret;
	if (strcmp(val, "0") == 0)
		*on = false;
	else if (strcmp(val, "1") == 0)
		*on = true;
	else
		return sp_error_set(err, 0, "`%s`: unexpected value `%s`", file, val);
	return 0;
}

enum {
	STAT_RMAP_ITEMS,
	STAT_ZERO_PAGES,
	STAT_MERGING_PAGES,
	STAT_PROCESS_PROFIT,
	STAT_NR_PROCESSES,
	STAT_NR_MERGE_ANY,
	STAT_KEYS,
};

static const char *const stat_keys[STAT_KEYS] = {
	[STAT_RMAP_ITEMS] = "ksm_rmap_items",
	[STAT_ZERO_PAGES] = "ksm_zero_pages",
	[STAT_MERGING_PAGES] = "ksm_merging_pages",
	[STAT_PROCESS_PROFIT] = "ksm_process_profit_sum",
	[STAT_NR_PROCESSES] = "nr_processes",
	[STAT_NR_MERGE_ANY] = "nr_merge_any",
};

/* v1 of the kernel series called the profit sum by the per-process name. */
#define STAT_V1_PROCESS_PROFIT "ksm_process_profit"

/* Index of key in stat_keys (v1's name included), or STAT_KEYS. */
static int stat_key_index(const char *key, struct ksm_cg_stat *st)
{
	if (strcmp(key, STAT_V1_PROCESS_PROFIT) == 0) {
		st->series = KSM_NATIVE_SERIES_V1;
		return STAT_PROCESS_PROFIT;
	}
	for (int k = 0; k < STAT_KEYS; k++)
		if (strcmp(key, stat_keys[k]) == 0) {
			if (k == STAT_PROCESS_PROFIT)
				st->series = KSM_NATIVE_SERIES_V2;
			return k;
		}
	return STAT_KEYS;
}

static int parse_stat_value(int key, const char *s, struct ksm_cg_stat *st)
{
	char *end = NULL;

	errno = 0;
	if (key == STAT_PROCESS_PROFIT) {
		long long v = strtoll(s, &end, 10);

		if (errno || end == s || *end)
			return -EINVAL;
		st->process_profit = v;
		return 0;
	}
	if (*s == '-')
		return -EINVAL;
	unsigned long long v = strtoull(s, &end, 10);

	if (errno || end == s || *end)
		return -EINVAL;
	switch (key) {
	case STAT_RMAP_ITEMS:
		st->rmap_items = v;
		break;
	case STAT_ZERO_PAGES:
		st->zero_pages = v;
		break;
	case STAT_MERGING_PAGES:
		st->merging_pages = v;
		break;
	case STAT_NR_PROCESSES:
		st->nr_processes = v;
		break;
	case STAT_NR_MERGE_ANY:
		st->nr_merge_any = v;
		break;
	}
	return 0;
}

int ksm_native_parse_stat(const char *text, const char *what, struct ksm_cg_stat *st, sp_error_t *err)
{
	_cleanup_free_ char *buf = strdup(text);
	struct ksm_cg_stat out = { 0 };
	bool seen[STAT_KEYS] = { false };
	char *line, *save = NULL;

	if (!buf)
		return sp_error_set(err, ENOMEM, "parse `%s`", what);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *value = strchr(line, ' ');
		int k;

		if (!value)
			continue;
		*value++ = '\0';
		k = stat_key_index(line, &out);
		if (k == STAT_KEYS)
			continue;
		if (parse_stat_value(k, value, &out) < 0)
			return sp_error_set(err, 0, "`%s`: bad value `%s` for %s", what, value, line);
		seen[k] = true;
	}
	for (int k = 0; k < STAT_KEYS; k++)
		if (!seen[k])
			return sp_error_set(err, 0, "`%s`: no %s line%s", what, stat_keys[k],
					    k == STAT_PROCESS_PROFIT ? " (nor v1's " STAT_V1_PROCESS_PROFIT ")" : "");
	*st = out;
	return 0;
}

int ksm_native_stat(const char *path, struct ksm_cg_stat *st, sp_error_t *err)
{
	_cleanup_free_ char *file = NULL, *buf = NULL;
	int ret;

	if (asprintf(&file, "%s/ksm.stat", path) < 0)
		return sp_error_set(err, ENOMEM, "read ksm.stat of `%s`", path);
	ret = read_file_bounded(AT_FDCWD, file, CGROUP_FILE_MAX, &buf, NULL, err);
	if (ret < 0)
		return ret;
	return ksm_native_parse_stat(buf, file, st, err);
}

/* Bounds of the probe's search for a cgroup with a ksm.stat. */
#define PROBE_MAX_DEPTH 3
#define PROBE_MAX_DIRS 512

/* Append the subdirectories of dir to the queue (at most PROBE_MAX_DIRS in
 * all); unreadable directories are skipped (cgroups come and go). */
static void probe_queue_children(const char *dir, char **queue, int *n)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while (*n < PROBE_MAX_DIRS && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (asprintf(&queue[*n], "%s/%s", dir, e->d_name) < 0)
			return;
		(*n)++;
	}
}

int ksm_native_probe_series(enum ksm_native_series *series, sp_error_t *err)
{
	const char *root = ksm_native_cgroup2_root();
	char *queue[PROBE_MAX_DIRS];
	int n = 0, level_end, ret = 0;

	*series = KSM_NATIVE_SERIES_UNKNOWN;
	if (!root)
		return 0;
	probe_queue_children(root, queue, &n);
	level_end = n;
	for (int i = 0, depth = 1; i < n && ret == 0; i++) {
		_cleanup_free_ char *file = NULL;
		struct ksm_cg_stat st;

		if (i == level_end) {
			depth++;
			level_end = n;
		}
		if (asprintf(&file, "%s/ksm.stat", queue[i]) < 0) {
			ret = sp_error_set(err, ENOMEM, "probe the ksm controller below `%s`", root);
			break;
		}
		if (access(file, F_OK) == 0) {
			ret = ksm_native_stat(queue[i], &st, err);
			if (ret == 0)
				*series = st.series;
			break;
		}
		if (depth < PROBE_MAX_DEPTH)
			probe_queue_children(queue[i], queue, &n);
	}
	for (int i = 0; i < n; i++)
		free(queue[i]);
	return ret < 0 ? ret : 0;
}
