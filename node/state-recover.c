/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The node state's file side for writers: the private dir, the lock with a
 * deadline, and recovery from a state file that cannot be parsed.  The
 * model and its JSON are node/state.c; the interface is node/state.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "cgroupfs/cgroup.h"
#include "host/ksm.h"
#include "host/proc.h"
#include "node/state.h"

#define STATE_MAX (16 * 1024 * 1024)

static int proc_pid_ksm(pid_t pid)
{
	struct ksm_proc_stat ks;

	if (ksm_proc_stat_read(pid, &ks, NULL) < 0)
		return -1;
	return ks.merge_any;
}

static bool proc_cgroup_ksm(const char *cgroup, bool native)
{
	_cleanup_(pid_list_free) struct pid_list l = { 0 };
	size_t i;

	if (cgroup_procs_read(cgroup, true, &l, NULL) < 0)
		return false;
	if (native)
		return l.n > 0;
	for (i = 0; i < l.n; i++)
		if (proc_pid_ksm(l.pids[i]) == 1)
			return true;
	return false;
}

static int proc_table(struct sp_proc_table *t)
{
	return sp_proc_table_read(t, NULL);
}

const struct sp_probe sp_probe_proc = {
	.alive = proc_alive,
	.pid_ksm = proc_pid_ksm,
	.cgroup_ksm = proc_cgroup_ksm,
	.proc_table = proc_table,
};

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* flock has no timeout: poll with LOCK_NB, backing off to 20 ms. */
static int flock_timed(int fd, unsigned int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	unsigned int pause = 1;

	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(pause);
		if (pause < 20)
			pause *= 2;
	}
}

int sp_state_lock_timed(const char *dir, unsigned int timeout_ms, sp_error_t *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -EBADF;
	int ret;

	ret = mkdir_private(dir, err);
	if (ret < 0)
		return sp_error_wrap(err, "state dir");
	if (asprintf(&path, "%s/" SP_STATE_LOCK, dir) < 0)
		return sp_error_set(err, ENOMEM, "state lock");
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sp_error_set(err, errno, "open `%s`", path);
	ret = flock_timed(fd, timeout_ms);
	if (ret == -ETIMEDOUT)
		return sp_error_setx(err, ETIMEDOUT, "state lock `%s` is held by another process for more than %u ms",
				     path, timeout_ms);
	if (ret < 0)
		return sp_error_set(err, -ret, "lock `%s`", path);
	return TAKE_FD(fd);
}

int sp_state_lock(const char *dir, sp_error_t *err)
{
	return sp_state_lock_timed(dir, SP_STATE_LOCK_TIMEOUT_MS, err);
}

/* ENOENT: no file; EFBIG and parse errors (-EINVAL or 0 from sp_json_parse)
 * are "cannot be parsed"; anything else (EACCES, EIO) is an error. */
static int load_file(const char *dir, const char *name, struct sp_state *st, sp_error_t *err)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len = 0;
	int ret;

	memset(st, 0, sizeof(*st));
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return sp_error_set(err, ENOMEM, "state");
	ret = read_file_bounded(AT_FDCWD, path, STATE_MAX, &buf, &len, err);
	if (ret < 0)
		return ret;
	if (len == 0)
		return sp_error_setx(err, ENODATA, "`%s` is empty", path);
	ret = sp_state_parse(buf, path, st, err);
	return ret < 0 ? -EBADMSG : 0;
}

int sp_state_load(const char *dir, struct sp_state *st, sp_error_t *err)
{
	int ret = load_file(dir, SP_STATE_FILE, st, err);

	if (ret == -ENOENT) {
		sp_error_free(err);
		return 0;
	}
	if (ret < 0)
		return sp_error_wrap(err, "load state");
	return 0;
}

static bool unparsable(int ret)
{
	return ret == -EBADMSG || ret == -EFBIG || ret == -ENODATA;
}

/* Keep from the last good state only what the node still shows: entries
 * whose process lives (intents and cgroups resolved by prune), knobs that
 * still hold what samepage set. */
static void rebuild_from(struct sp_state *st, struct sp_state *prev)
{
	size_t i, kept = 0;

	sp_state_prune(prev, NULL);
	for (i = 0; i < prev->n_containers; i++) {
		struct sp_container *c = &prev->containers[i];

		/* stock: the process itself says whether KSM is on */
		if (c->enabled && strncmp(c->id, "cgroup:", 7) != 0 && c->backend &&
		    strcmp(c->backend, "stock") == 0 && proc_pid_ksm(c->pid) == 0)
			continue;
		sp_state_add(st, c, NULL);
	}
	for (i = 0; i < prev->n_knobs; i++) {
		_cleanup_free_ char *now = NULL;

		if (ksm_knob_read(prev->knobs[i].name, &now, NULL) < 0 || strcmp(now, prev->knobs[i].set) != 0)
			continue;
		st->knobs[kept++] = prev->knobs[i];
	}
	st->n_knobs = kept;
	/* Kernel domain ids are never handed out twice: keep every one. */
	for (i = 0; i < prev->n_kdomains; i++)
		sp_state_kdomain_add(st, prev->kdomains[i].domain, prev->kdomains[i].id);
	if (prev->kdomain_next > st->kdomain_next)
		st->kdomain_next = prev->kdomain_next;
	st->ksmd_managed = prev->ksmd_managed && kept > 0;
}

static int set_recovered(struct sp_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_recovered(struct sp_state *st, const char *fmt, ...)
{
	va_list ap;
	int ret;

	free(st->recovered);
	va_start(ap, fmt);
	ret = vasprintf(&st->recovered, fmt, ap);
	va_end(ap);
	if (ret < 0)
		st->recovered = NULL;
	st->recovered_at = time(NULL);
	st->recovered_now = true;
	return 0;
}

/* Processes of the node with KSM on: evidence that a state dir that is
 * missing was lost rather than never made (after boot). */
static size_t count_ksm_processes(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0;
	long pid;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (parse_long(e->d_name, 1, INT32_MAX, &pid) == 0 && proc_pid_ksm((pid_t)pid) == 1)
			n++;
	closedir(d);
	return n;
}

/* Rebuild st from state.json.prev where it parses; says what it used. */
static const char *rebuild(const char *dir, struct sp_state *st)
{
	_cleanup_(sp_state_free) struct sp_state prev = { 0 };
	_cleanup_error_ sp_error_t perr = NULL;

	memset(st, 0, sizeof(*st));
	if (load_file(dir, SP_STATE_PREV, &prev, &perr) < 0)
		return "nothing usable survived: the state starts empty";
	rebuild_from(st, &prev);
	return "rebuilt from " SP_STATE_PREV " and what the node still shows";
}

static void recover_broken(const char *dir, struct sp_state *st, const char *why)
{
	_cleanup_free_ char *from = NULL, *to = NULL;
	const char *how;
	long long now = (long long)time(NULL);
	int moved;

	if (asprintf(&from, "%s/" SP_STATE_FILE, dir) < 0 || asprintf(&to, "%s/" SP_STATE_BROKEN "%lld", dir, now) < 0)
		to = NULL;
	moved = to && rename(from, to) == 0 ? 0 : -errno;
	how = rebuild(dir, st);
	if (moved == 0)
		set_recovered(st, "`%s` could not be parsed (%s): moved aside to `%s`; %s", from, why, to, how);
	else
		set_recovered(st, "`%s` could not be parsed (%s) nor moved aside (%s); %s", from, why,
			      strerror(-moved), how);
}

static void recover_missing(const char *dir, bool dir_existed, struct sp_state *st)
{
	_cleanup_free_ char *prev = NULL;
	size_t n;

	if (asprintf(&prev, "%s/" SP_STATE_PREV, dir) >= 0 && access(prev, F_OK) == 0) {
		set_recovered(st, "`%s/" SP_STATE_FILE "` was missing; %s", dir, rebuild(dir, st));
		return;
	}
	if (dir_existed)
		return;
	n = count_ksm_processes();
	if (n > 0)
		set_recovered(st, "state dir `%s` was missing: recreated; %zu process%s with KSM on %s no record", dir,
			      n, n == 1 ? "" : "es", n == 1 ? "has" : "have");
}

int sp_state_open_timed(const char *dir, unsigned int timeout_ms, struct sp_state *st, sp_error_t *err)
{
	_cleanup_close_ int lock = -EBADF;
	_cleanup_error_ sp_error_t lerr = NULL;
	struct stat sb;
	bool existed = lstat(dir, &sb) == 0;
	int ret;

	memset(st, 0, sizeof(*st));
	lock = sp_state_lock_timed(dir, timeout_ms, err);
	if (lock < 0)
		return lock;
	ret = load_file(dir, SP_STATE_FILE, st, &lerr);
	if (ret == -ENOENT)
		recover_missing(dir, existed, st);
	else if (unparsable(ret))
		recover_broken(dir, st, sp_error_msg(lerr));
	else if (ret < 0)
		return sp_error_setx(err, -ret, "load state: %s", sp_error_msg(lerr));
	return TAKE_FD(lock);
}

int sp_state_open(const char *dir, struct sp_state *st, sp_error_t *err)
{
	return sp_state_open_timed(dir, SP_STATE_LOCK_TIMEOUT_MS, st, err);
}
