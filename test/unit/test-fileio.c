/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * base/fileio: the atomic write never follows or reuses a planted name, sets
 * exactly the mode asked for, and leaves nothing behind; a private
 * directory refuses symlinks, foreign owners and group/world write.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/fileio.h"

static char tmpdir[] = "/tmp/samepage-test-fileio.XXXXXX";

static char *path_in(const char *name)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
	return p;
}

static void assert_file_is(const char *path, const char *want)
{
	char *buf = NULL;

	assert_int_equal(read_file_bounded(AT_FDCWD, path, 4096, &buf, NULL, NULL), 0);
	assert_string_equal(buf, want);
	free(buf);
}

static size_t entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_atomic_write_mode_and_content(void **unused)
{
	char *dir = path_in("plain"), *file = path_in("plain/f");
	struct stat st;
	mode_t old = umask(0);

	(void)unused;
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(write_file_atomic(file, "one", 3, 0600, NULL), 0);
	assert_int_equal(write_file_atomic(file, "two", 3, 0600, NULL), 0);
	umask(old);
	assert_file_is(file, "two");
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* the temporary file is gone */
	assert_int_equal(entries(dir), 1);
	free(dir);
	free(file);
}

/* A symlink planted at the target's name: root writes a new file there and
 * never touches (nor chmods) what the link points to. */
static void test_atomic_write_replaces_planted_symlink(void **unused)
{
	char *victim = path_in("victim"), *dir = path_in("plant"), *file = path_in("plant/state.json");
	struct stat st;

	(void)unused;
	assert_int_equal(write_file_atomic(victim, "secret", 6, 0600, NULL), 0);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(symlink(victim, file), 0);
	assert_int_equal(write_file_atomic(file, "state", 5, 0644, NULL), 0);
	assert_file_is(victim, "secret");
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_file_is(file, "state");
	free(victim);
	free(dir);
	free(file);
}

/* The old predictable name "<path>.tmp.<pid>", planted as a symlink, is not
 * used either. */
static void test_atomic_write_ignores_predictable_tmp(void **unused)
{
	char *victim = path_in("victim2"), *file = path_in("target"), *tmp = NULL;

	(void)unused;
	assert_int_equal(write_file_atomic(victim, "keep", 4, 0600, NULL), 0);
	assert_true(asprintf(&tmp, "%s.tmp.%d", file, (int)getpid()) > 0);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(write_file_atomic(file, "new", 3, 0600, NULL), 0);
	assert_file_is(victim, "keep");
	assert_file_is(file, "new");
	unlink(tmp);
	free(tmp);
	free(victim);
	free(file);
}

static void test_atomic_write_missing_dir(void **unused)
{
	char *file = path_in("nodir/f");
	sp_error_t err = NULL;

	(void)unused;
	assert_int_equal(write_file_atomic(file, "x", 1, 0600, &err), -ENOENT);
	assert_non_null(strstr(sp_error_msg(err), "nodir/f"));
	sp_error_free(&err);
	free(file);
}

static void test_private_dir(void **unused)
{
	char *dir = path_in("state/sub"), *link = path_in("link"), *open_dir = path_in("open");
	struct stat st;
	sp_error_t err = NULL;

	(void)unused;
	assert_int_equal(mkdir_private(dir, &err), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, geteuid());

	/* readable by others (what older versions made): tightened */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(mkdir_private(dir, &err), 0);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* writable by others: refused, left alone */
	assert_int_equal(mkdir(open_dir, 0700), 0);
	assert_int_equal(chmod(open_dir, 01777), 0);
	assert_int_equal(mkdir_private(open_dir, &err), -EPERM);
	assert_non_null(strstr(sp_error_msg(err), "writable by others"));
	sp_error_free(&err);

	/* a symlink to a good directory: refused */
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(mkdir_private(link, &err), -ELOOP);
	assert_non_null(strstr(sp_error_msg(err), "symlink"));
	sp_error_free(&err);
	free(dir);
	free(link);
	free(open_dir);
}

static void test_private_dir_foreign_owner(void **unused)
{
	char *dir = path_in("foreign");
	sp_error_t err = NULL;

	(void)unused;
	if (geteuid() != 0)
		skip();
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chown(dir, 65534, 65534), 0);
	assert_int_equal(mkdir_private(dir, &err), -EPERM);
	assert_non_null(strstr(sp_error_msg(err), "owned by uid 65534"));
	sp_error_free(&err);
	free(dir);
}

static int setup(void **unused)
{
	(void)unused;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **unused)
{
	char cmd[300];

	(void)unused;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomic_write_mode_and_content),
		cmocka_unit_test(test_atomic_write_replaces_planted_symlink),
		cmocka_unit_test(test_atomic_write_ignores_predictable_tmp),
		cmocka_unit_test(test_atomic_write_missing_dir),
		cmocka_unit_test(test_private_dir),
		cmocka_unit_test(test_private_dir_foreign_owner),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
