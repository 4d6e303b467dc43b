/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Bounded file and fd I/O: every read of untrusted input has a limit. */
#ifndef SP_FILEIO_H
#define SP_FILEIO_H

#include <stddef.h>
#include <stdbool.h>
#include "base/error.h"

/* Read all of fd into a NUL-terminated buffer.  More than max bytes is
 * -EFBIG with a message naming `what`. */
int read_fd_bounded(int fd, size_t max, const char *what, char **out, size_t *len, sp_error_t *err);

/* Same for a file path (relative to dirfd when not AT_FDCWD). */
int read_file_bounded(int dirfd, const char *path, size_t max, char **out, size_t *len, sp_error_t *err);

/* Read a small sysfs/proc value with trailing newline stripped. */
int read_file_line(const char *path, char **out, sp_error_t *err);

/* Write a string to an existing file (sysfs knob, cgroup file). */
int write_file_str(const char *path, const char *value, sp_error_t *err);

/* Write data to path atomically, safe for root in a directory others can
 * plant names in: a temporary file with a random name beside the target,
 * created O_EXCL|O_NOFOLLOW (a planted file or symlink is never opened),
 * given exactly mode, fsync'd, then renamed over the target (a symlink at
 * the target's name is replaced, never followed).  Every file samepage
 * writes whole (the state, `metrics --output`, `oci-config`) goes here. */
int write_file_atomic(const char *path, const char *data, size_t len, unsigned int mode, sp_error_t *err);

/* A directory only its owner may use: refuses (-ELOOP, -ENOTDIR, -EPERM,
 * with a message naming the path and what is wrong) a symlink, a
 * non-directory, a directory owned by another uid than ours, or one that
 * group or others may write; a directory others may only read is
 * tightened to 0700. */
int dir_check_private(const char *path, sp_error_t *err);

/* Create path 0700 (parents 0755) unless it exists, then dir_check_private(). */
int mkdir_private(const char *path, sp_error_t *err);

/* Create directory and parents (mode 0755 unless given). */
int mkdir_p(const char *path, unsigned int mode, sp_error_t *err);

/* Parse a decimal integer; whole string must match, range-checked. */
int parse_long(const char *s, long min, long max, long *out);

#endif
