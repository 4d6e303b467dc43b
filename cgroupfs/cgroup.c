/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
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

/* Is word one of the comma-separated items of list? */
static bool list_has(const char *list, const char *word)
{
	size_t n = strlen(word);
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
		char item[64];

		if (len == 0 || len >= sizeof(item))
			return false;
		memcpy(item, p, len);
		item[len] = '\0';
		if (!list_has(opts, item))
			return false;
		p = comma ? comma + 1 : NULL;
	}
	return true;
}

/*
 * Mount point of the hierarchy: for v1 (controllers non-empty) the cgroup
 * mount whose options cover the controllers, for v2 the cgroup2 mount.  Only
 * mounts of the hierarchy's root count ("/" in field 4): a bind of a
 * sub-cgroup would need the path translated, and the host has none.
 * Returns a malloc'd copy or NULL.
 */
static char *find_mount(const char *mountinfo, const char *controllers)
{
	const char *line = mountinfo;
	bool v2 = !*controllers;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		_cleanup_free_ char *copy = strndup(line, len);
		char *fields[6] = { 0 }, *save = NULL, *tok, *sep;
		char *fstype = NULL, *opts = NULL;
		int i = 0;

		line = nl ? nl + 1 : NULL;
		if (!copy)
			return NULL;
		sep = strstr(copy, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		for (tok = strtok_r(copy, " ", &save); tok && i < 6; tok = strtok_r(NULL, " ", &save))
			fields[i++] = tok;
		fstype = strtok_r(sep + 3, " ", &save);
		if (fstype)
			strtok_r(NULL, " ", &save); /* source */
		opts = fstype ? strtok_r(NULL, " ", &save) : NULL;
		if (i < 5 || !fstype || strcmp(fields[3], "/") != 0)
			continue;
		if (v2 ? strcmp(fstype, "cgroup2") != 0 : (strcmp(fstype, "cgroup") != 0 || !opts || !opts_cover(opts, controllers)))
			continue;
		unescape_octal(fields[4]);
		return strdup(fields[4]);
	}
	return NULL;
}

struct cg_line {
	char controllers[256];
	char path[4096];
};

/* Find the /proc/<pid>/cgroup line for want: a controller name, "" for the
 * v2 line, or NULL for the first v1 line with controllers. */
static bool find_line(const char *proc_cgroup, const char *want, struct cg_line *out)
{
	const char *line = proc_cgroup;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		_cleanup_free_ char *copy = strndup(line, len);
		char *c1, *c2;

		line = nl ? nl + 1 : NULL;
		if (!copy)
			return false;
		c1 = strchr(copy, ':');
		c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		if (want ? (*want ? !list_has(c1 + 1, want) : c1[1] != '\0') : c1[1] == '\0')
			continue;
		if ((size_t)snprintf(out->controllers, sizeof(out->controllers), "%s", c1 + 1) >= sizeof(out->controllers) ||
		    (size_t)snprintf(out->path, sizeof(out->path), "%s", c2 + 1) >= sizeof(out->path))
			continue;
		return true;
	}
	return false;
}

static int join_path(const char *mount, const char *cgpath, char **path)
{
	if (strcmp(cgpath, "/") == 0)
		return -ENOENT;
	if (asprintf(path, "%s%s", mount, cgpath) < 0)
		return -ENOMEM;
	return 0;
}

int cgroup_pick_path(const char *mountinfo, const char *proc_cgroup, char **path)
{
	static const char *const preferred[] = { "pids", "memory", NULL };
	struct cg_line l;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(preferred); i++) {
		_cleanup_free_ char *mnt = NULL;

		if (!find_line(proc_cgroup, preferred[i], &l))
			continue;
		mnt = find_mount(mountinfo, l.controllers);
		if (mnt)
			return join_path(mnt, l.path, path);
	}
	if (find_line(proc_cgroup, "", &l)) {
		_cleanup_free_ char *mnt = find_mount(mountinfo, "");

		if (mnt)
			return join_path(mnt, l.path, path);
	}
	return -ENOENT;
}

static char *cached_mountinfo;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

int cgroup_of_pid(pid_t pid, char **path, sp_error_t *err)
{
	_cleanup_free_ char *mountinfo = NULL, *pc = NULL;
	char p[64];
	int ret;

	/* status asks for a hundred containers at once; the mounts do not
	 * change under it. */
	pthread_mutex_lock(&cache_lock);
	if (!cached_mountinfo) {
		ret = read_file_bounded(AT_FDCWD, "/proc/self/mountinfo", MOUNTINFO_MAX, &mountinfo, NULL, err);
		if (ret < 0) {
			pthread_mutex_unlock(&cache_lock);
			return ret;
		}
		cached_mountinfo = TAKE_PTR(mountinfo);
	}
	pthread_mutex_unlock(&cache_lock);
	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	ret = read_file_bounded(AT_FDCWD, p, PROC_CGROUP_MAX, &pc, NULL, err);
	if (ret < 0)
		return ret;
	ret = cgroup_pick_path(cached_mountinfo, pc, path);
	if (ret == -ENOENT)
		return sp_error_set(err, ENOENT, "pid %d is in no container cgroup (root cgroup of every hierarchy)",
				    (int)pid);
	if (ret < 0)
		return sp_error_set(err, -ret, "cgroup of pid %d", (int)pid);
	return 0;
}
