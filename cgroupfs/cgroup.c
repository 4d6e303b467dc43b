/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "base/kernel-abi.h"
#include "cgroupfs/cgroup.h"

/* cgroup.procs of a busy cgroup: ~8 bytes a pid; 4 MiB is half a million. */
#define PROCS_MAX (4u << 20)
#define MOUNTINFO_MAX (4u << 20)
#define PROC_CGROUP_MAX 65536
/* Nesting deeper than this is not a container layout we know; stop there. */
#define CGROUP_DEPTH_MAX 32

int pid_list_add(struct pid_list *l, pid_t pid)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		pid_t *np = realloc(l->pids, ncap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		l->pids = np;
		l->cap = ncap;
	}
	l->pids[l->n++] = pid;
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

void pid_list_sort_unique(struct pid_list *l)
{
	size_t i, o = 0;

	if (l->n == 0)
		return;
	qsort(l->pids, l->n, sizeof(*l->pids), cmp_pid);
	for (i = 1; i < l->n; i++)
		if (l->pids[i] != l->pids[o])
			l->pids[++o] = l->pids[i];
	l->n = o + 1;
}

bool pid_list_contains(const struct pid_list *l, pid_t pid)
{
	return l->n && bsearch(&pid, l->pids, l->n, sizeof(*l->pids), cmp_pid) != NULL;
}

void pid_list_free(struct pid_list *l)
{
	free(l->pids);
	l->pids = NULL;
	l->n = l->cap = 0;
}

int cgroup_procs_parse(const char *text, struct pid_list *l)
{
	const char *p = text;

	while (*p) {
		char *end;
		long v;

		if (*p == '\n') {
			p++;
			continue;
		}
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || end == p || v <= 0 || v > 0x7fffffffL || (*end && *end != '\n'))
			return -EINVAL;
		if (pid_list_add(l, (pid_t)v) < 0)
			return -ENOMEM;
		p = end;
	}
	return 0;
}

static int procs_read_at(int dirfd, const char *path, struct pid_list *l, sp_error_t *err)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -EBADF;
	int ret;

	fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sp_error_set(err, errno, "open `%s/cgroup.procs`", path);
	ret = read_fd_bounded(fd, PROCS_MAX, "cgroup.procs", &buf, NULL, err);
	if (ret < 0)
		return sp_error_wrap(err, "cgroup `%s`", path);
	if (cgroup_procs_parse(buf, l) < 0)
		return sp_error_set(err, EINVAL, "cannot parse `%s/cgroup.procs`", path);
	return 0;
}

static int procs_walk(int dirfd, const char *path, int depth, struct pid_list *l, sp_error_t *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int ret, fd;

	struct stat stbuf;

	ret = procs_read_at(dirfd, path, l, err);
	if (ret < 0 || depth >= CGROUP_DEPTH_MAX)
		return ret;
	/* cgroupfs (kernfs) keeps a directory's link count at 2 + its
	 * subdirectories: a leaf cgroup, the common case, needs no readdir.
	 * (Filesystems that report 1 for directories are walked.) */
	if (fstat(dirfd, &stbuf) == 0 && stbuf.st_nlink == 2)
		return 0;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sp_error_set(err, errno, "open cgroup `%s`", path);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return sp_error_set(err, errno, "read cgroup `%s`", path);
	}
	while ((errno = 0, de = readdir(d))) {
		_cleanup_close_ int sub = -EBADF;
		_cleanup_free_ char *subpath = NULL;

		/* Cgroup control files are regular files; children are dirs. */
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0) {
			if (errno == ENOENT)
				continue; /* removed while we walk */
			return sp_error_set(err, errno, "open cgroup `%s/%s`", path, de->d_name);
		}
		if (asprintf(&subpath, "%s/%s", path, de->d_name) < 0)
			return sp_error_set(err, ENOMEM, "cgroup `%s`", path);
		ret = procs_walk(sub, subpath, depth + 1, l, err);
		if (ret == -ENOENT || ret == -ENODEV)
			continue;
		if (ret < 0)
			return ret;
	}
	if (errno)
		return sp_error_set(err, errno, "read cgroup `%s`", path);
	return 0;
}

int cgroup_procs_read(const char *path, bool recursive, struct pid_list *l, sp_error_t *err)
{
	_cleanup_close_ int dirfd = -EBADF;

	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return sp_error_set(err, errno, "open cgroup `%s`", path);
	if (!recursive)
		return procs_read_at(dirfd, path, l, err);
	return procs_walk(dirfd, path, 0, l, err);
}

bool cgroup_path_valid(const char *path)
{
	_cleanup_close_ int dirfd = -EBADF;

	dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return dirfd >= 0 && faccessat(dirfd, "cgroup.procs", F_OK, 0) == 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/* Is the item of length n at word one of the comma-separated items of list? */
static bool list_has_n(const char *list, const char *word, size_t n)
{
	const char *p = list;

	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p = comma ? comma + 1 : NULL;
	}
	return false;
}

/* Are all items of controllers among the mount's super options? */
static bool opts_cover(const char *opts, const char *controllers)
{
	const char *p = controllers;

	if (!*controllers)
		return false;
	while (p && *p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == 0 || !list_has_n(opts, p, len))
			return false;
		p = comma ? comma + 1 : NULL;
	}
	return true;
}

int mountinfo_parse_line(char *line, struct mountinfo_entry *e)
{
	char *fields[5], *save = NULL, *tok, *sep = strstr(line, " - ");
	int i = 0;

	if (!sep)
		return -EINVAL;
	*sep = '\0';
	/* mount id, parent id, major:minor, root, mount point */
	for (tok = strtok_r(line, " ", &save); tok && i < 5; tok = strtok_r(NULL, " ", &save))
		fields[i++] = tok;
	if (i < 5)
		return -EINVAL;
	save = NULL;
	e->fstype = strtok_r(sep + 3, " ", &save);
	if (!e->fstype || !strtok_r(NULL, " ", &save)) /* source */
		return -EINVAL;
	e->super_opts = strtok_r(NULL, " ", &save);
	if (!e->super_opts)
		e->super_opts = "";
	e->root = fields[3];
	e->mount_point = fields[4];
	unescape_octal(e->root);
	unescape_octal(e->mount_point);
	return 0;
}

char *cgroup_mount_find(const char *mountinfo, const char *controllers)
{
	const char *line = mountinfo;
	bool v2 = !*controllers;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		_cleanup_free_ char *copy = strndup(line, len);
		struct mountinfo_entry e;

		line = nl ? nl + 1 : NULL;
		if (!copy)
			return NULL;
		if (mountinfo_parse_line(copy, &e) < 0 || strcmp(e.root, "/") != 0)
			continue;
		if (v2 ? strcmp(e.fstype, "cgroup2") != 0
		       : strcmp(e.fstype, "cgroup") != 0 || !opts_cover(e.super_opts, controllers))
			continue;
		return strdup(e.mount_point);
	}
	return NULL;
}

/* Does the line's controller list (n bytes at controllers) match want: a
 * controller name, "" for the v2 line, NULL for any v1 line? */
static bool line_matches(const char *controllers, size_t n, const char *want)
{
	size_t wlen;

	if (!want)
		return n > 0;
	if (!*want)
		return n == 0;
	wlen = strlen(want);
	while (n > 0) {
		const char *comma = memchr(controllers, ',', n);
		size_t len = comma ? (size_t)(comma - controllers) : n;

		if (len == wlen && strncmp(controllers, want, wlen) == 0)
			return true;
		if (!comma)
			break;
		n -= len + 1;
		controllers = comma + 1;
	}
	return false;
}

int cgroup_proc_find(const char *proc_cgroup, const char *want, char **controllers, char **path)
{
	const char *line = proc_cgroup;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		const char *c1 = memchr(line, ':', nl ? (size_t)(nl - line) : strlen(line));
		const char *c2, *end = nl ? nl : line + strlen(line);

		line = nl ? nl + 1 : NULL;
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
		if (!c2)
			continue;
		if (!line_matches(c1 + 1, (size_t)(c2 - c1 - 1), want))
			continue;
		*controllers = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
		*path = strndup(c2 + 1, (size_t)(end - c2 - 1));
		if (!*controllers || !*path) {
			free(*controllers);
			free(*path);
			return -ENOMEM;
		}
		return 0;
	}
	return -ENOENT;
}

/* Join a hierarchy's mount point and a /proc/<pid>/cgroup path.  The root
 * cgroup ("/") is -ENOENT unless root_ok; a path outside our cgroup
 * namespace ("/.." first) or of a removed cgroup cannot be reached from
 * our mount: -EXDEV. */
static int join_path(const char *mount, const char *cgpath, bool root_ok, char **path)
{
	if (cgpath[0] != '/' || strstr(cgpath, "/..") || strstr(cgpath, " (deleted)"))
		return -EXDEV;
	if (strcmp(cgpath, "/") == 0) {
		if (!root_ok)
			return -ENOENT;
		cgpath = "";
	}
	if (asprintf(path, "%s%s", mount, cgpath) < 0)
		return -ENOMEM;
	return 0;
}

int cgroup2_pick_path(const char *mount, const char *proc_cgroup, bool root_ok, char **path)
{
	_cleanup_free_ char *ctl = NULL, *cg = NULL;
	int ret;

	if (!mount)
		return -ENOENT;
	ret = cgroup_proc_find(proc_cgroup, "", &ctl, &cg);
	if (ret < 0)
		return ret;
	return join_path(mount, cg, root_ok, path);
}

int cgroup_pick_path(const char *mountinfo, const char *proc_cgroup, char **path)
{
	static const char *const preferred[] = { "pids", "memory", NULL };
	_cleanup_free_ char *mnt2 = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(preferred); i++) {
		_cleanup_free_ char *ctl = NULL, *cg = NULL, *mnt = NULL;

		if (cgroup_proc_find(proc_cgroup, preferred[i], &ctl, &cg) < 0)
			continue;
		mnt = cgroup_mount_find(mountinfo, ctl);
		if (mnt)
			return join_path(mnt, cg, false, path);
	}
	mnt2 = cgroup_mount_find(mountinfo, "");
	return cgroup2_pick_path(mnt2, proc_cgroup, false, path);
}

static char *cached_mountinfo;
static char *cached_cgroup2_mount;
static bool cgroup2_looked_up;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* Under cache_lock.  status asks for a hundred containers at once; the
 * mounts do not change under it. */
static int mountinfo_cached(const char **mi, sp_error_t *err)
{
	_cleanup_free_ char *buf = NULL;
	int ret;

	if (!cached_mountinfo) {
		ret = read_file_bounded(AT_FDCWD, "/proc/self/mountinfo", MOUNTINFO_MAX, &buf, NULL, err);
		if (ret < 0)
			return ret;
		cached_mountinfo = TAKE_PTR(buf);
	}
	*mi = cached_mountinfo;
	return 0;
}

/* The hook asks once per container start, and a busy node's mount table
 * has thousands of lines: the two places systemd mounts cgroup2 are tried
 * first, a statfs and an faccessat each.  Every cgroup but a hierarchy's
 * root has a cgroup.type file, so a cgroup2 filesystem without one at its
 * top is the root mount that mountinfo would name; anything else (a
 * namespace's or a bind-mounted subtree) is left to mountinfo. */
static char *cgroup2_mount_common(void)
{
	static const char *const common[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };

	for (size_t i = 0; i < ARRAY_SIZE(common); i++) {
		_cleanup_close_ int fd = open(common[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct statfs sfs;

		if (fd < 0 || fstatfs(fd, &sfs) < 0 || (unsigned long)sfs.f_type != CGROUP2_SUPER_MAGIC)
			continue;
		if (faccessat(fd, "cgroup.type", F_OK, 0) < 0 && errno == ENOENT)
			return strdup(common[i]);
	}
	return NULL;
}

const char *cgroup2_mount(void)
{
	const char *mi;

	pthread_mutex_lock(&cache_lock);
	if (!cgroup2_looked_up) {
		cached_cgroup2_mount = cgroup2_mount_common();
		if (cached_cgroup2_mount)
			cgroup2_looked_up = true;
	}
	if (!cgroup2_looked_up && mountinfo_cached(&mi, NULL) == 0) {
		cached_cgroup2_mount = cgroup_mount_find(mi, "");
		cgroup2_looked_up = true;
	}
	pthread_mutex_unlock(&cache_lock);
	return cached_cgroup2_mount;
}

int cgroup_proc_read(pid_t pid, char **text, sp_error_t *err)
{
	char p[sizeof("/proc/%d/cgroup") + 3 * sizeof(int)];

	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	return read_file_bounded(AT_FDCWD, p, PROC_CGROUP_MAX, text, NULL, err);
}

static int pick_error(int ret, pid_t pid, sp_error_t *err)
{
	if (ret == -ENOENT)
		return sp_error_set(err, ENOENT, "pid %d is in no container cgroup (root cgroup of every hierarchy)",
				    (int)pid);
	if (ret == -EXDEV)
		return sp_error_set(err, EXDEV, "cgroup of pid %d is outside this cgroup namespace or removed",
				    (int)pid);
	return sp_error_set(err, -ret, "cgroup of pid %d", (int)pid);
}

int cgroup_of_pid(pid_t pid, char **path, sp_error_t *err)
{
	_cleanup_free_ char *pc = NULL;
	const char *mi;
	int ret;

	pthread_mutex_lock(&cache_lock);
	ret = mountinfo_cached(&mi, err);
	pthread_mutex_unlock(&cache_lock);
	if (ret < 0)
		return ret;
	ret = cgroup_proc_read(pid, &pc, err);
	if (ret < 0)
		return ret;
	ret = cgroup_pick_path(mi, pc, path);
	return ret < 0 ? pick_error(ret, pid, err) : 0;
}
