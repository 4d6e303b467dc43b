/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int write_file_atomic(const char *path, const char *data, size_t len, unsigned int mode, sp_error_t *err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -EBADF;
	size_t off = 0;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return sp_error_set(err, ENOMEM, "write `%s`", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return sp_error_set(err, errno, "create `%s`", tmp);
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			unlink(tmp);
			return sp_error_set(err, saved, "write `%s`", tmp);
		}
		off += n;
	}
	/* No fsync: state files live in /run (tmpfs) and mean nothing after a
	 * reboot; rename alone keeps readers from seeing a torn file, and an
	 * fsync would put a disk flush on every container start. */
	if (fchmod(fd, mode) < 0) {
		int saved = errno;
		unlink(tmp);
		return sp_error_set(err, saved, "sync `%s`", tmp);
	}
	if (rename(tmp, path) < 0) {
		int saved = errno;
		unlink(tmp);
		return sp_error_set(err, saved, "rename `%s` to `%s`", tmp, path);
	}
	return 0;
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
