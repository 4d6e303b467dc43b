/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "host/ksm.h"

const char *ksm_sysfs_dir(void)
{
	const char *e = getenv("SAMEPAGE_KSM_SYSFS");

	return e && *e ? e : "/sys/kernel/mm/ksm";
}

static int knob_path(const char *name, char *buf, size_t size)
{
	if (!name[0] || strchr(name, '/'))
		return -EINVAL;
	if ((size_t)snprintf(buf, size, "%s/%s", ksm_sysfs_dir(), name) >= size)
		return -ENAMETOOLONG;
	return 0;
}

bool ksm_knob_exists(const char *name)
{
	char path[PATH_MAX];

	return knob_path(name, path, sizeof(path)) == 0 && access(path, F_OK) == 0;
}

int ksm_knob_read(const char *name, char **value, sp_error_t *err)
{
	char path[PATH_MAX];
	char *v = NULL, *open, *close;
	int ret;

	if (knob_path(name, path, sizeof(path)) < 0)
		return sp_error_set(err, EINVAL, "invalid KSM knob name `%s`", name);
	ret = read_file_line(path, &v, err);
	if (ret < 0)
		return ret;
	open = strchr(v, '[');
	close = open ? strchr(open, ']') : NULL;
	if (open && close) {
		memmove(v, open + 1, close - open - 1);
		v[close - open - 1] = '\0';
	}
	*value = v;
	return 0;
}

int ksm_knob_write(const char *name, const char *value, sp_error_t *err)
{
	char path[PATH_MAX];

	if (knob_path(name, path, sizeof(path)) < 0)
		return sp_error_set(err, EINVAL, "invalid KSM knob name `%s`", name);
	return write_file_str(path, value, err);
}

int ksm_knob_read_u64(const char *name, uint64_t *value, sp_error_t *err)
{
	_cleanup_free_ char *v = NULL;
	char *end;
	int ret;

	ret = ksm_knob_read(name, &v, err);
	if (ret < 0)
		return ret;
	errno = 0;
	*value = strtoull(v, &end, 10);
	if (errno || end == v || *end)
		return sp_error_set(err, EINVAL, "KSM knob `%s`: not a number: `%.32s`", name, v);
	return 0;
}

int ksm_proc_stat_parse(const char *text, struct ksm_proc_stat *st)
{
	const char *line = text;

	memset(st, 0, sizeof(*st));
	st->merge_any = -1;
	st->mergeable = -1;
	while (line && *line) {
		char key[64];
		char val[32];

		if (sscanf(line, "%63s %31s", key, val) == 2) {
			size_t klen = strlen(key);

			/* newer kernels print "ksm_merge_any: yes" */
			if (klen > 0 && key[klen - 1] == ':')
				key[klen - 1] = '\0';
			if (strcmp(key, "ksm_rmap_items") == 0)
				st->rmap_items = strtoll(val, NULL, 10);
			else if (strcmp(key, "ksm_zero_pages") == 0)
				st->zero_pages = strtoll(val, NULL, 10);
			else if (strcmp(key, "ksm_merging_pages") == 0)
				st->merging_pages = strtoll(val, NULL, 10);
			else if (strcmp(key, "ksm_process_profit") == 0)
				st->process_profit = strtoll(val, NULL, 10);
			else if (strcmp(key, "ksm_merge_any") == 0)
				st->merge_any = strcmp(val, "yes") == 0;
			else if (strcmp(key, "ksm_mergeable") == 0)
				st->mergeable = strcmp(val, "yes") == 0;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return 0;
}

int ksm_proc_stat_read(pid_t pid, struct ksm_proc_stat *st, sp_error_t *err)
{
	_cleanup_free_ char *buf = NULL;
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", (int)pid);
	ret = read_file_bounded(AT_FDCWD, path, 4096, &buf, NULL, err);
	if (ret < 0)
		return ret;
	return ksm_proc_stat_parse(buf, st);
}

int ksm_prctl_self(bool on, sp_error_t *err)
{
	if (prctl(PR_SET_MEMORY_MERGE, on ? 1UL : 0UL, 0UL, 0UL, 0UL) < 0) {
		if (errno == EINVAL)
			return sp_error_set(err, EINVAL,
					    "prctl(PR_SET_MEMORY_MERGE): this kernel has no whole-process KSM (needs Linux >= 6.4 with CONFIG_KSM)");
		return sp_error_set(err, errno, "prctl(PR_SET_MEMORY_MERGE, %d)", on ? 1 : 0);
	}
	return 0;
}

int ksm_prctl_get_self(void)
{
	int r = prctl(PR_GET_MEMORY_MERGE, 0UL, 0UL, 0UL, 0UL);

	return r < 0 ? -errno : r;
}
