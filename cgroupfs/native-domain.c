/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "cgroupfs/cgroup.h"
#include "cgroupfs/native.h"
#include "cgroupfs/native-domain.h"

static int file_of(const char *path, const char *name, char **file, sp_error_t *err)
{
	if (asprintf(file, "%s/%s", path, name) < 0)
		return sp_error_set(err, ENOMEM, "`%s`", path);
	return 0;
}

int ksm_domain_parse_effective(const char *text, const char *what, struct ksm_domain_state *d, sp_error_t *err)
{
	size_t len = strcspn(text, "\n");
	char *end = NULL;
	unsigned long long v;

	memset(d, 0, sizeof(*d));
	if (len == 4 && strncmp(text, "deny", 4) == 0) {
		d->deny = true;
		return 0;
	}
	errno = 0;
	v = strtoull(text, &end, 10);
	if (len == 0 || text[0] == '-' || errno || end != text + len)
		return sp_error_setx(err, EINVAL, "`%s`: unexpected value `%.*s` (want deny or a domain id)", what,
				     (int)(len > 32 ? 32 : len), text);
	d->id = v;
	return 0;
}

bool ksm_domain_available_at(const char *path)
{
	_cleanup_free_ char *file = NULL;

	if (ksm_native_prepare(path, NULL) < 0 || file_of(path, KSM_DOMAIN_FILE, &file, NULL) < 0)
		return false;
	return access(file, F_OK) == 0;
}

bool ksm_domain_available(void)
{
	const char *root = ksm_native_cgroup2_root();
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;

	if (!root || !ksm_native_available() || !(d = opendir(root)))
		return false;
	while ((e = readdir(d))) {
		_cleanup_free_ char *file = NULL;

		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (asprintf(&file, "%s/%s/ksm.enable", root, e->d_name) < 0)
			return false;
		if (access(file, F_OK) != 0)
			continue;
		free(file);
		if (asprintf(&file, "%s/%s/" KSM_DOMAIN_FILE, root, e->d_name) < 0)
			return false;
		return access(file, F_OK) == 0;
	}
	return false;
}

int ksm_domain_read(const char *path, char **value, sp_error_t *err)
{
	_cleanup_free_ char *file = NULL;
	int ret = file_of(path, KSM_DOMAIN_FILE, &file, err);

	return ret < 0 ? ret : read_file_line(file, value, err);
}

int ksm_domain_effective(const char *path, struct ksm_domain_state *d, sp_error_t *err)
{
	_cleanup_free_ char *file = NULL, *value = NULL;
	int ret = file_of(path, KSM_DOMAIN_EFFECTIVE_FILE, &file, err);

	if (ret == 0)
		ret = read_file_line(file, &value, err);
	return ret < 0 ? ret : ksm_domain_parse_effective(value, file, d, err);
}

bool ksm_cgroup_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (n == 1 && b[0] == '/')
		return a[0] == '/';
	while (n > 1 && b[n - 1] == '/')
		n--;
	return strncmp(a, b, n) == 0 && (a[n] == '\0' || a[n] == '/');
}

static int pidns_ino(pid_t pid, ino_t *ino)
{
	char file[64];
	struct stat sb;

	snprintf(file, sizeof(file), "/proc/%d/ns/pid", (int)pid);
	if (stat(file, &sb) < 0)
		return -errno;
	*ino = sb.st_ino;
	return 0;
}

/* Every process below path in init's pid namespace. */
static int check_pidns(const char *path, pid_t init, sp_error_t *err)
{
	_cleanup_(pid_list_free) struct pid_list l = { 0 };
	ino_t want, got;
	size_t i;
	int ret;

	if (pidns_ino(init, &want) < 0)
		return sp_error_set(err, ESRCH, "pid namespace of pid %d", (int)init);
	ret = cgroup_procs_read(path, true, &l, err);
	if (ret < 0)
		return ret;
	for (i = 0; i < l.n; i++) {
		if (pidns_ino(l.pids[i], &got) < 0)
			continue; /* gone meanwhile */
		if (got != want)
			return sp_error_setx(err, EPERM,
					     "cgroup `%s` is shared: pid %d in it is not in the container's pid namespace; "
					     "a kernel domain is only written to a container's own cgroup",
					     path, (int)l.pids[i]);
	}
	return 0;
}

int ksm_domain_check_private(const char *path, pid_t init, sp_error_t *err)
{
	_cleanup_free_ char *own = NULL;
	const char *root = ksm_native_cgroup2_root();

	if (!root)
		return sp_error_set(err, ENOENT, "no cgroup2 hierarchy is mounted");
	if (!ksm_cgroup_within(path, root) || ksm_cgroup_within(root, path))
		return sp_error_setx(err, EPERM, "cgroup `%s` is the cgroup2 root or outside it: not one workload's own",
				     path);
	/* Our own cgroup (the hook's: the runtime's) in or below it: the
	 * container shares it with the runtime. */
	if (ksm_native_cgroup_of_pid(getpid(), &own, NULL) == 0 && ksm_cgroup_within(own, path))
		return sp_error_setx(err, EPERM,
				     "cgroup `%s` holds samepage's own cgroup `%s`: it is shared with the runtime, "
				     "a kernel domain is only written to a container's own cgroup",
				     path, own);
	return init > 0 ? check_pidns(path, init, err) : 0;
}

int ksm_domain_assign(const char *path, uint64_t id, pid_t init, sp_error_t *err)
{
	_cleanup_free_ char *file = NULL;
	char value[24];
	int ret;

	ret = ksm_domain_check_private(path, init, err);
	if (ret == 0)
		ret = ksm_native_prepare(path, err);
	if (ret == 0)
		ret = file_of(path, KSM_DOMAIN_FILE, &file, err);
	if (ret < 0)
		return ret;
	snprintf(value, sizeof(value), "%" PRIu64, id);
	return write_file_str(file, value, err);
}

int ksm_domain_reset(const char *path, uint64_t id, sp_error_t *err)
{
	_cleanup_free_ char *value = NULL, *file = NULL;
	char want[24];
	int ret;

	ret = ksm_domain_read(path, &value, err);
	if (ret == -ENOENT) {
		sp_error_free(err);
		return 0;
	}
	if (ret < 0)
		return ret;
	snprintf(want, sizeof(want), "%" PRIu64, id);
	if (strcmp(value, want) != 0)
		return 0;
	ret = file_of(path, KSM_DOMAIN_FILE, &file, err);
	if (ret == 0)
		ret = write_file_str(file, "inherit", err);
	if (ret == -ENOENT) {
		sp_error_free(err);
		return 0;
	}
	return ret;
}

int ksm_domain_deny(const char *path, sp_error_t *err)
{
	_cleanup_free_ char *value = NULL, *file = NULL;
	int ret;

	ret = ksm_native_prepare(path, err);
	if (ret == 0)
		ret = ksm_domain_read(path, &value, err);
	if (ret < 0)
		return ret;
	if (strcmp(value, "deny") == 0)
		return 0;
	ret = file_of(path, KSM_DOMAIN_FILE, &file, err);
	if (ret == 0)
		ret = write_file_str(file, "deny", err);
	return ret < 0 ? ret : 1;
}
