/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"

int read_fd_bounded(int fd, size_t max, const char *what, char **out, size_t *len, sp_error_t *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t size = 0, cap = 0;

	for (;;) {
		ssize_t n;

		if (cap - size < 1024) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nbuf;

			if (ncap > max + 2)
				ncap = max + 2;
			if (ncap <= size + 1)
				return sp_error_set(err, EFBIG, "%s is larger than %zu bytes", what, max);
			nbuf = realloc(buf, ncap);
			if (!nbuf)
				return sp_error_set(err, ENOMEM, "read %s", what);
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + size, cap - size - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sp_error_set(err, errno, "read %s", what);
		}
		if (n == 0)
			break;
		size += n;
		if (size > max)
			return sp_error_set(err, EFBIG, "%s is larger than %zu bytes", what, max);
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf)
			return sp_error_set(err, ENOMEM, "read %s", what);
	}
	buf[size] = '\0';
	*out = TAKE_PTR(buf);
	if (len)
		*len = size;
	return 0;
}

int read_file_bounded(int dirfd, const char *path, size_t max, char **out, size_t *len, sp_error_t *err)
{
	_cleanup_close_ int fd = -EBADF;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sp_error_set(err, errno, "open `%s`", path);
	return read_fd_bounded(fd, max, path, out, len, err);
}

int read_file_line(const char *path, char **out, sp_error_t *err)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	ret = read_file_bounded(AT_FDCWD, path, 65536, &buf, &len, err);
	if (ret < 0)
		return ret;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	*out = buf;
	return 0;
}

int write_file_str(const char *path, const char *value, sp_error_t *err)
{
	_cleanup_close_ int fd = -EBADF;
	size_t len = strlen(value);
	ssize_t n;

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return sp_error_set(err, errno, "open `%s`", path);
	n = write(fd, value, len);
	if (n < 0)
		return sp_error_set(err, errno, "write `%s` to `%s`", value, path);
	if ((size_t)n != len)
		return sp_error_set(err, EIO, "short write to `%s`", path);
	return 0;
}

/* A name nobody can predict: ".<base>.<16 hex digits>" beside the target. */
static char *random_tmp_name(const char *base)
{
	uint64_t r;
	char *name = NULL;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r)) {
		struct timespec ts;

		/* Not unpredictable, but O_EXCL still refuses anything planted. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
	}
	if (asprintf(&name, ".%s.%016llx", base, (unsigned long long)r) < 0)
		return NULL;
	return name;
}

static int write_all(int fd, const char *data, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += n;
	}
	return 0;
}

/* Write, set the mode (the umask does not decide it), flush, rename over
 * the target.  renameat() replaces a symlink planted at the target's name
 * instead of following it. */
static int fill_and_rename(int dirfd, int fd, const char *tmp, const char *base, const char *data, size_t len,
			   unsigned int mode, const char *path, sp_error_t *err)
{
	int ret;

	ret = write_all(fd, data, len);
	if (ret < 0)
		return sp_error_set(err, -ret, "write `%s`", path);
	if (fchmod(fd, mode) < 0)
		return sp_error_set(err, errno, "chmod `%s`", path);
	if (fsync(fd) < 0)
		return sp_error_set(err, errno, "fsync `%s`", path);
	if (renameat(dirfd, tmp, dirfd, base) < 0)
		return sp_error_set(err, errno, "rename `%s` over `%s`", tmp, path);
	return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len, unsigned int mode, sp_error_t *err)
{
	_cleanup_free_ char *copy = strdup(path), *tmp = NULL;
	_cleanup_close_ int dirfd = -EBADF, fd = -EBADF;
	const char *dir, *base;
	char *slash;
	int ret;

	if (!copy)
		return sp_error_set(err, ENOMEM, "write `%s`", path);
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		dir = slash == copy ? "/" : copy;
		base = slash + 1;
	} else {
		dir = ".";
		base = copy;
	}
	if (!*base)
		return sp_error_set(err, EISDIR, "write `%s`: not a file name", path);
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return sp_error_set(err, errno, "open directory of `%s`", path);
	tmp = random_tmp_name(base);
	if (!tmp)
		return sp_error_set(err, ENOMEM, "write `%s`", path);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0600);
	if (fd < 0)
		return sp_error_set(err, errno, "create temporary file for `%s`", path);
	ret = fill_and_rename(dirfd, fd, tmp, base, data, len, mode, path, err);
	if (ret < 0)
		unlinkat(dirfd, tmp, 0);
	return ret;
}

int dir_check_private(const char *path, sp_error_t *err)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	/* The owner first: a confined caller (no CAP_DAC_OVERRIDE) cannot
	 * even open someone else's 0700 directory, and "Permission denied"
	 * would hide why. */
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid != geteuid())
		return sp_error_set(err, EPERM, "`%s` is owned by uid %u, not %u: refusing to use it", path,
				    (unsigned)st.st_uid, (unsigned)geteuid());
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR) {
			if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
				return sp_error_set(err, ELOOP, "`%s` is a symlink, refusing to use it", path);
			return sp_error_set(err, ENOTDIR, "`%s` is not a directory", path);
		}
		return sp_error_set(err, errno, "open `%s`", path);
	}
	if (fstat(fd, &st) < 0)
		return sp_error_set(err, errno, "stat `%s`", path);
	if (st.st_uid != geteuid())
		return sp_error_set(err, EPERM, "`%s` is owned by uid %u, not %u: refusing to use it", path,
				    (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return sp_error_set(err, EPERM, "`%s` has mode %04o (writable by others): refusing to use it", path,
				    (unsigned)(st.st_mode & 07777));
	/* Readable by others (0755, as older versions made it): only tighten. */
	if ((st.st_mode & 077) && fchmod(fd, st.st_mode & 07700) < 0)
		return sp_error_set(err, errno, "chmod 0700 `%s`", path);
	return 0;
}

int mkdir_private(const char *path, sp_error_t *err)
{
	_cleanup_free_ char *parent = strdup(path);
	char *slash;
	int ret;

	if (!parent)
		return sp_error_set(err, ENOMEM, "mkdir `%s`", path);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		ret = mkdir_p(parent, 0755, err);
		if (ret < 0)
			return ret;
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return sp_error_set(err, errno, "mkdir `%s`", path);
	return dir_check_private(path, err);
}

int mkdir_p(const char *path, unsigned int mode, sp_error_t *err)
{
	_cleanup_free_ char *copy = strdup(path);
	char *p;

	if (!copy)
		return sp_error_set(err, ENOMEM, "mkdir `%s`", path);
	for (p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return sp_error_set(err, errno, "mkdir `%s`", copy);
		*p = '/';
	}
	if (mkdir(copy, mode) < 0 && errno != EEXIST)
		return sp_error_set(err, errno, "mkdir `%s`", copy);
	return 0;
}

int parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}
