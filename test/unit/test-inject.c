/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Injects prctl(PR_SET_MEMORY_MERGE) into forked children in the states a
 * container's init can be in (blocked in read, sleeping, spinning in user
 * space, group-stopped, receiving signals) and checks what a user would:
 * /proc/<pid>/ksm_stat says ksm_merge_any, the child's own syscall still
 * behaves (data read, full sleep, no EINTR), signals all arrive, the child
 * is not left traced.  Needs root (ptrace of the children is fine without it,
 * but ksm_stat of another process needs ptrace read access).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/inject.h"
#include "base/error.h"
#include "base/fileio.h"
#include "base/kernel-abi.h"

#define SLEEP_MS 300
#define MAX_CHILDREN 8

enum child_mode { CHILD_READ, CHILD_SLEEP, CHILD_SPIN, CHILD_SPIN_NO_VDSO };

/* What a child reports through its pipe when its syscall returned. */
struct report {
	long rc;          /* read(): bytes; clock_nanosleep(): its result */
	int err;          /* errno after read() */
	int merge;        /* prctl(PR_GET_MEMORY_MERGE) in the child */
	int sigs;         /* SIGUSR1 handler runs */
	long elapsed_ms;  /* time spent in clock_nanosleep */
	long spins;       /* CHILD_SPIN: iterations, verified */
	char data[16];
};

/* Shared with a spinning child, which has no syscall to talk through. */
struct spin_shared {
	atomic_int stop;
	atomic_long progress;
};

struct child {
	pid_t pid;
	int pidfd;
	int to_child;
	int from_child;
	struct spin_shared *spin;
};

static struct child *children[MAX_CHILDREN];

static volatile sig_atomic_t child_sigs;
static int child_ack_fd = -1;

static void child_on_usr1(int sig)
{
	char c = 'a';

	(void)sig;
	child_sigs++;
	if (child_ack_fd >= 0 && write(child_ack_fd, &c, 1) < 0)
		_exit(90);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void write_all(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		_exit(91);
}

/* A register-heavy loop whose result can be recomputed: corrupted registers
 * after the injection show up as a mismatch. */
static uint64_t spin_step(uint64_t a, uint64_t *b)
{
	a = a * 6364136223846793005ULL + 1442695040888963407ULL;
	*b ^= a >> 17;
	return a;
}

/* Take away the vDSO's execute permission, so that a tracee spinning in user
 * space offers no syscall instruction at all. */
static void vdso_make_unexecutable(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		_exit(92);
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &start, &end) == 2 &&
		    mprotect((void *)start, end - start, PROT_READ) < 0)
			_exit(93);
	}
	fclose(f);
}

static void child_spin(struct spin_shared *shared, int report_fd, bool no_vdso)
{
	struct report rep = { 0 };
	uint64_t a = 1, b = 7, a2 = 1, b2 = 7;
	long n = 0;

	if (no_vdso)
		vdso_make_unexecutable();
	write_all(report_fd, "R", 1);
	while (!atomic_load_explicit(&shared->stop, memory_order_relaxed)) {
		a = spin_step(a, &b);
		n++;
		if ((n & 0xffff) == 0)
			atomic_store_explicit(&shared->progress, n, memory_order_relaxed);
	}
	for (long i = 0; i < n; i++)
		a2 = spin_step(a2, &b2);
	rep.rc = a == a2 && b == b2 ? 0 : -1;
	rep.spins = n;
	rep.merge = prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	write_all(report_fd, &rep, sizeof(rep));
}

static void child_main(enum child_mode mode, int in_fd, int report_fd, int ack_fd, struct spin_shared *shared)
{
	struct sigaction sa = { .sa_handler = child_on_usr1, .sa_flags = SA_RESTART };
	struct report rep = { 0 };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	child_ack_fd = ack_fd;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	switch (mode) {
	case CHILD_READ:
		write_all(report_fd, "R", 1);
		rep.rc = read(in_fd, rep.data, sizeof(rep.data) - 1);
		rep.err = rep.rc < 0 ? errno : 0;
		break;
	case CHILD_SLEEP: {
		struct timespec ts = { .tv_sec = SLEEP_MS / 1000, .tv_nsec = (SLEEP_MS % 1000) * 1000000L };
		long t0;

		write_all(report_fd, "R", 1);
		t0 = now_ms();
		rep.rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		rep.elapsed_ms = now_ms() - t0;
		break;
	}
	case CHILD_SPIN:
	case CHILD_SPIN_NO_VDSO:
		child_spin(shared, report_fd, mode == CHILD_SPIN_NO_VDSO);
		_exit(0);
	}
	rep.sigs = child_sigs;
	rep.merge = prctl(PR_GET_MEMORY_MERGE, 0, 0, 0, 0);
	write_all(report_fd, &rep, sizeof(rep));
	_exit(0);
}

static void child_register(struct child *c)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		if (!children[i]) {
			children[i] = c;
			return;
		}
	}
	fail_msg("too many children");
}

/* Fork a child in the given mode and wait until it is about to block.
 * ack_fd: where its SIGUSR1 handler writes a byte, or -1. */
static struct child *child_spawn(enum child_mode mode, int ack_fd)
{
	struct child *c = calloc(1, sizeof(*c));
	int in[2], out[2];
	char ready;

	assert_non_null(c);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	if (mode == CHILD_SPIN || mode == CHILD_SPIN_NO_VDSO) {
		c->spin = mmap(NULL, sizeof(*c->spin), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		assert_true(c->spin != MAP_FAILED);
	}

	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		close(in[1]);
		close(out[0]);
		child_main(mode, in[0], out[1], ack_fd, c->spin);
	}
	close(in[0]);
	close(out[1]);
	c->to_child = in[1];
	c->from_child = out[0];
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	assert_true(c->pidfd >= 0);
	child_register(c);
	assert_int_equal(read(c->from_child, &ready, 1), 1);
	assert_int_equal(ready, 'R');
	return c;
}

static void child_free(struct child *c)
{
	for (size_t i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == c)
			children[i] = NULL;
	close(c->to_child);
	close(c->from_child);
	close(c->pidfd);
	if (c->spin)
		munmap(c->spin, sizeof(*c->spin));
	free(c);
}

/* Read the child's report and reap it; it must exit 0. */
static void child_finish(struct child *c, struct report *rep)
{
	int status;

	assert_int_equal(read(c->from_child, rep, sizeof(*rep)), sizeof(*rep));
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	child_free(c);
}

/* Teardown: no child outlives its test, also after a failed assertion. */
static int children_reap(void **state)
{
	(void)state;
	for (size_t i = 0; i < MAX_CHILDREN; i++) {
		struct child *c = children[i];

		if (!c)
			continue;
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		child_free(c);
	}
	return 0;
}

/* First number of /proc/<pid>/syscall: the syscall the task is blocked in,
 * -1 when in user space after a stop, -2 when running. */
static long proc_syscall_nr(pid_t pid)
{
	char path[64], *text = NULL;
	_cleanup_error_ sp_error_t err = NULL;
	long nr;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	if (read_file_line(path, &text, &err) < 0)
		fail_msg("%s", sp_error_msg(err));
	if (strncmp(text, "running", 7) == 0)
		nr = -2;
	else
		nr = strtol(text, NULL, 10);
	free(text);
	return nr;
}

static void wait_blocked_in(pid_t pid, long nr_a, long nr_b)
{
	long deadline = now_ms() + 5000;

	while (now_ms() < deadline) {
		long nr = proc_syscall_nr(pid);

		if (nr == nr_a || nr == nr_b)
			return;
		usleep(500);
	}
	fail_msg("pid %d never blocked in syscall %ld/%ld", (int)pid, nr_a, nr_b);
}

/* Value of "key" in a "key: value" /proc file, or NULL. */
static char *proc_field(pid_t pid, const char *file, const char *key)
{
	char path[64], *text = NULL, *line, *save = NULL, *value = NULL;
	_cleanup_error_ sp_error_t err = NULL;
	size_t keylen = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if (read_file_bounded(AT_FDCWD, path, 1 << 20, &text, NULL, &err) < 0)
		fail_msg("%s", sp_error_msg(err));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, keylen) == 0 && line[keylen] == ':') {
			value = line + keylen + 1;
			value += strspn(value, " \t");
			value = strdup(value);
			break;
		}
	}
	free(text);
	return value;
}

static void assert_proc_field(pid_t pid, const char *file, const char *key, const char *want)
{
	char *value = proc_field(pid, file, key);

	if (!value)
		fail_msg("/proc/%d/%s has no %s line", (int)pid, file, key);
	if (strcmp(value, want) != 0) {
		char msg[256];

		snprintf(msg, sizeof(msg), "/proc/%d/%s: %s is \"%s\", expected \"%s\"", (int)pid, file, key,
			 value, want);
		free(value);
		fail_msg("%s", msg);
	}
	free(value);
}

static void assert_merge_any(pid_t pid, bool on)
{
	assert_proc_field(pid, "ksm_stat", "ksm_merge_any", on ? "yes" : "no");
}

static void assert_not_traced(pid_t pid)
{
	assert_proc_field(pid, "status", "TracerPid", "0");
}

static void inject_ok(struct child *c, bool on, struct inject_result *res)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct inject_result local;
	int r;

	r = inject_prctl_memory_merge(c->pidfd, c->pid, on, res ? res : &local, &err);
	if (r != 0)
		fail_msg("inject into pid %d returned %d: %s", (int)c->pid, r, sp_error_msg(err));
	assert_int_equal((res ? res : &local)->retval, 0);
	assert_not_traced(c->pid);
}

static void test_blocked_in_read(void **state)
{
	struct child *c = child_spawn(CHILD_READ, -1);
	struct inject_result res;
	struct report rep;

	(void)state;
	wait_blocked_in(c->pid, SYS_read, SYS_read);
	assert_merge_any(c->pid, false);
	inject_ok(c, true, &res);
#ifdef __x86_64__
	assert_true(res.restarted);
#endif
	assert_merge_any(c->pid, true);
	/* Back in its read, not returned with EINTR. */
	wait_blocked_in(c->pid, SYS_read, SYS_read);
	write_all(c->to_child, "hello", 5);
	child_finish(c, &rep);
	assert_int_equal(rep.rc, 5);
	assert_int_equal(rep.err, 0);
	assert_string_equal(rep.data, "hello");
	assert_int_equal(rep.merge, 1);
}

static void test_sleep_is_not_cut_short(void **state)
{
	struct child *c = child_spawn(CHILD_SLEEP, -1);
	struct report rep;
	long start = now_ms();

	(void)state;
	/* Several injections over the sleep: each must continue it with the
	 * remaining time (restart_syscall), not restart it from the full
	 * duration, nor end it with EINTR. */
	for (int i = 0; i < 5; i++) {
		struct inject_result res;

		wait_blocked_in(c->pid, SYS_clock_nanosleep, SYS_restart_syscall);
		inject_ok(c, true, &res);
#ifdef __x86_64__
		assert_true(res.restarted);
#endif
		if (now_ms() - start > SLEEP_MS * 2 / 3)
			break;
		usleep(30 * 1000);
	}
	assert_merge_any(c->pid, true);
	child_finish(c, &rep);
	print_message("sleep of %d ms with injections took %ld ms\n", SLEEP_MS, rep.elapsed_ms);
	assert_int_equal(rep.rc, 0);
	assert_true(rep.elapsed_ms >= SLEEP_MS);
	/* Restarting from the full duration would take 200 ms more. */
	assert_true(rep.elapsed_ms < SLEEP_MS + 150);
	assert_int_equal(rep.merge, 1);
}

static void test_spinning_in_user_space(void **state)
{
	struct child *c = child_spawn(CHILD_SPIN, -1);
	struct report rep;
	long before;

	(void)state;
	/* Wait until it has left its last syscall behind and is spinning. */
	while (atomic_load(&c->spin->progress) == 0)
		usleep(1000);
	for (int i = 0; i < 20; i++) {
		inject_ok(c, true, NULL);
		usleep(2000);
	}
	assert_merge_any(c->pid, true);
	before = atomic_load(&c->spin->progress);
	usleep(20 * 1000);
	assert_true(atomic_load(&c->spin->progress) > before);
	atomic_store(&c->spin->stop, 1);
	child_finish(c, &rep);
	assert_int_equal(rep.rc, 0); /* register state survived */
	assert_true(rep.spins > 0);
	assert_int_equal(rep.merge, 1);
}

/* Nowhere to run a syscall: the injection fails, names the pid and the
 * step, and leaves the child running as before, untraced. */
static void test_no_syscall_instruction(void **state)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct child *c = child_spawn(CHILD_SPIN_NO_VDSO, -1);
	struct inject_result res;
	struct report rep;
	char want[64];
	long before;
	int r;

	(void)state;
	while (atomic_load(&c->spin->progress) == 0)
		usleep(1000);
	r = inject_prctl_memory_merge(c->pidfd, c->pid, true, &res, &err);
	print_message("no vDSO: %s\n", sp_error_msg(err));
	assert_int_equal(r, -ENOENT);
	snprintf(want, sizeof(want), "pid %d: find a syscall instruction", (int)c->pid);
	assert_non_null(strstr(sp_error_msg(err), want));
	assert_not_traced(c->pid);
	assert_merge_any(c->pid, false);
	before = atomic_load(&c->spin->progress);
	usleep(20 * 1000);
	assert_true(atomic_load(&c->spin->progress) > before);
	atomic_store(&c->spin->stop, 1);
	child_finish(c, &rep);
	assert_int_equal(rep.rc, 0);
	assert_int_equal(rep.merge, 0);
}

static void test_off_again(void **state)
{
	struct child *c = child_spawn(CHILD_READ, -1);
	struct report rep;

	(void)state;
	wait_blocked_in(c->pid, SYS_read, SYS_read);
	inject_ok(c, true, NULL);
	assert_merge_any(c->pid, true);
	inject_ok(c, false, NULL);
	assert_merge_any(c->pid, false);
	write_all(c->to_child, "x", 1);
	child_finish(c, &rep);
	assert_int_equal(rep.rc, 1);
	assert_int_equal(rep.merge, 0);
}

static void test_group_stopped_stays_stopped(void **state)
{
	struct child *c = child_spawn(CHILD_READ, -1);
	long deadline = now_ms() + 5000;
	struct report rep;
	char *st;

	(void)state;
	wait_blocked_in(c->pid, SYS_read, SYS_read);
	assert_int_equal(kill(c->pid, SIGSTOP), 0);
	for (;;) {
		st = proc_field(c->pid, "status", "State");
		assert_non_null(st);
		if (st[0] == 'T')
			break;
		free(st);
		assert_true(now_ms() < deadline);
		usleep(1000);
	}
	free(st);
	inject_ok(c, true, NULL);
	assert_merge_any(c->pid, true);
	usleep(20 * 1000);
	st = proc_field(c->pid, "status", "State");
	assert_non_null(st);
	assert_int_equal(st[0], 'T');
	free(st);
	assert_int_equal(kill(c->pid, SIGCONT), 0);
	write_all(c->to_child, "go", 2);
	child_finish(c, &rep);
	assert_int_equal(rep.rc, 2);
	assert_int_equal(rep.err, 0);
}

struct sender {
	pid_t pid;
	int ack_fd;
	atomic_int stop;
	int sent;
	bool lost;
};

/* One SIGUSR1 in flight at a time, the next only after the handler has
 * acknowledged it: standard signals would coalesce otherwise, and a count
 * could not tell a lost signal from a merged one. */
static void *sender_main(void *arg)
{
	struct sender *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = { .fd = s->ack_fd, .events = POLLIN };
		char c;

		if (kill(s->pid, SIGUSR1) < 0)
			break;
		s->sent++;
		if (poll(&p, 1, 3000) != 1 || read(s->ack_fd, &c, 1) != 1) {
			s->lost = true;
			break;
		}
	}
	return NULL;
}

static void test_signals_during_injection(void **state)
{
	struct sender s = { 0 };
	struct child *c;
	struct report rep;
	pthread_t thread;
	int ack[2], injections = 0, held = 0;
	long deadline = now_ms() + 20000;

	(void)state;
	assert_int_equal(pipe2(ack, O_CLOEXEC), 0);
	c = child_spawn(CHILD_READ, ack[1]);
	close(ack[1]);
	wait_blocked_in(c->pid, SYS_read, SYS_read);

	s.pid = c->pid;
	s.ack_fd = ack[0];
	assert_int_equal(pthread_create(&thread, NULL, sender_main, &s), 0);
	while ((injections < 200 || s.sent < 200) && now_ms() < deadline && !s.lost) {
		_cleanup_error_ sp_error_t err = NULL;
		struct inject_result res;
		int r;

		r = inject_prctl_memory_merge(c->pidfd, c->pid, injections % 2 == 0, &res, &err);
		if (r != 0) {
			atomic_store(&s.stop, 1);
			pthread_join(thread, NULL);
			fail_msg("injection %d: %s", injections, sp_error_msg(err));
		}
		injections++;
		held += res.signals_held;
	}
	atomic_store(&s.stop, 1);
	pthread_join(thread, NULL);
	close(ack[0]);

	print_message("%d injections, %d SIGUSR1 sent, %d held and re-sent\n", injections, s.sent, held);
	assert_false(s.lost);
	assert_true(injections >= 200);
	assert_true(s.sent >= 200);
	assert_not_traced(c->pid);
	write_all(c->to_child, "end", 3);
	child_finish(c, &rep);
	assert_int_equal(rep.rc, 3);
	assert_int_equal(rep.err, 0);
	assert_int_equal(rep.sigs, s.sent);
	/* Even count of injections, alternating on/off: the last was off. */
	assert_int_equal(rep.merge, injections % 2 == 1);
}

struct stopper {
	pid_t pid;
	atomic_int stop;
	int pairs;
};

static void *stopper_main(void *arg)
{
	struct stopper *s = arg;

	while (!atomic_load(&s->stop)) {
		kill(s->pid, SIGSTOP);
		usleep(300);
		kill(s->pid, SIGCONT);
		usleep(300);
		s->pairs++;
	}
	return NULL;
}

/* SIGSTOP cannot be blocked: when it arrives during an injection it is held
 * and re-sent.  Whatever the interleaving, no injection may fail, and after a
 * last SIGCONT the child must run on, untraced, its read intact. */
static void test_stop_signals_during_injection(void **state)
{
	struct child *c = child_spawn(CHILD_READ, -1);
	struct stopper s = { 0 };
	long deadline = now_ms() + 10000;
	int injections = 0, held = 0;
	struct report rep;
	pthread_t thread;
	char *st;

	(void)state;
	wait_blocked_in(c->pid, SYS_read, SYS_read);
	s.pid = c->pid;
	assert_int_equal(pthread_create(&thread, NULL, stopper_main, &s), 0);
	while ((injections < 200 || s.pairs < 100) && now_ms() < deadline) {
		_cleanup_error_ sp_error_t err = NULL;
		struct inject_result res;
		int r = inject_prctl_memory_merge(c->pidfd, c->pid, true, &res, &err);

		if (r != 0) {
			atomic_store(&s.stop, 1);
			pthread_join(thread, NULL);
			fail_msg("injection %d: %s", injections, sp_error_msg(err));
		}
		injections++;
		held += res.signals_held;
	}
	atomic_store(&s.stop, 1);
	pthread_join(thread, NULL);
	print_message("%d injections, %d SIGSTOP/SIGCONT pairs, %d held and re-sent\n", injections, s.pairs, held);

	/* A SIGSTOP re-sent after the last SIGCONT leaves it stopped, as a
	 * SIGSTOP arriving then would. */
	usleep(10 * 1000);
	assert_int_equal(kill(c->pid, SIGCONT), 0);
	usleep(10 * 1000);
	st = proc_field(c->pid, "status", "State");
	assert_non_null(st);
	assert_int_not_equal(st[0], 'T');
	assert_int_not_equal(st[0], 't');
	free(st);
	assert_not_traced(c->pid);
	assert_merge_any(c->pid, true);
	write_all(c->to_child, "cont", 4);
	child_finish(c, &rep);
	assert_int_equal(rep.rc, 4);
	assert_int_equal(rep.err, 0);
}

static void test_dead_process(void **state)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct inject_result res;
	char want[64];
	pid_t pid;
	int pidfd, r;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	assert_true(pidfd >= 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);

	r = inject_prctl_memory_merge(pidfd, pid, true, &res, &err);
	assert_int_equal(r, -ESRCH);
	snprintf(want, sizeof(want), "pid %d", (int)pid);
	print_message("dead pidfd: %s\n", sp_error_msg(err));
	assert_non_null(strstr(sp_error_msg(err), want));
	close(pidfd);

	/* A live pidfd (our own) with the dead pid: the seize fails. */
	sp_error_free(&err);
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	assert_true(pidfd >= 0);
	r = inject_prctl_memory_merge(pidfd, pid, true, &res, &err);
	close(pidfd);
	print_message("dead pid: %s\n", sp_error_msg(err));
	assert_int_equal(r, -ESRCH);
	assert_non_null(strstr(sp_error_msg(err), want));
	assert_non_null(strstr(sp_error_msg(err), "ptrace seize"));
}

/* The pid names a live process but the pidfd one that has exited, as after
 * pid reuse: the live one must not be touched. */
static void test_stale_pidfd(void **state)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct child *c = child_spawn(CHILD_READ, -1);
	struct inject_result res;
	struct report rep;
	char want[64];
	pid_t dead;
	int pidfd, r;

	(void)state;
	dead = fork();
	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	pidfd = (int)syscall(SYS_pidfd_open, dead, 0);
	assert_true(pidfd >= 0);
	assert_int_equal(waitpid(dead, NULL, 0), dead);
	wait_blocked_in(c->pid, SYS_read, SYS_read);

	r = inject_prctl_memory_merge(pidfd, c->pid, true, &res, &err);
	close(pidfd);
	print_message("stale pidfd: %s\n", sp_error_msg(err));
	assert_int_equal(r, -ESRCH);
	snprintf(want, sizeof(want), "pid %d", (int)c->pid);
	assert_non_null(strstr(sp_error_msg(err), want));
	assert_not_traced(c->pid);
	assert_merge_any(c->pid, false);
	write_all(c->to_child, "ok", 2);
	child_finish(c, &rep);
	assert_int_equal(rep.rc, 2);
	assert_int_equal(rep.err, 0);
	assert_int_equal(rep.merge, 0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void test_latency(void **state)
{
	enum { N = 1000 };
	struct child *c = child_spawn(CHILD_READ, -1);
	double *lat = calloc(N, sizeof(double));
	struct report rep;

	(void)state;
	assert_non_null(lat);
	wait_blocked_in(c->pid, SYS_read, SYS_read);
	for (int i = 0; i < N; i++) {
		_cleanup_error_ sp_error_t err = NULL;
		struct inject_result res;
		double t0 = now_us();
		int r = inject_prctl_memory_merge(c->pidfd, c->pid, true, &res, &err);

		lat[i] = now_us() - t0;
		if (r != 0)
			fail_msg("injection %d: %s", i, sp_error_msg(err));
	}
	qsort(lat, N, sizeof(double), cmp_double);
	print_message("attach-to-detach latency over %d injections: p50 %.0f us, p99 %.0f us, max %.0f us\n",
		      N, lat[N / 2], lat[N * 99 / 100], lat[N - 1]);
	free(lat);
	assert_not_traced(c->pid);
	write_all(c->to_child, "done", 4);
	child_finish(c, &rep);
	assert_int_equal(rep.rc, 4);
	assert_int_equal(rep.err, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_blocked_in_read, children_reap),
		cmocka_unit_test_teardown(test_sleep_is_not_cut_short, children_reap),
		cmocka_unit_test_teardown(test_spinning_in_user_space, children_reap),
		cmocka_unit_test_teardown(test_no_syscall_instruction, children_reap),
		cmocka_unit_test_teardown(test_off_again, children_reap),
		cmocka_unit_test_teardown(test_group_stopped_stays_stopped, children_reap),
		cmocka_unit_test_teardown(test_signals_during_injection, children_reap),
		cmocka_unit_test_teardown(test_stop_signals_during_injection, children_reap),
		cmocka_unit_test_teardown(test_dead_process, children_reap),
		cmocka_unit_test_teardown(test_stale_pidfd, children_reap),
		cmocka_unit_test_teardown(test_latency, children_reap),
	};

	/* 77: skipped, as automake and make check-unit count it. */
	if (geteuid() != 0) {
		fprintf(stderr, "test-inject: needs root, skipped\n");
		return 77;
	}
	return cmocka_run_group_tests_name("inject", tests, NULL, NULL);
}
