// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kernel-fork: what the ksm cgroup controller costs process creation, side
 * by side in one boot of the patched guest kernel (bench/kernel-fork).
 *
 * Five ways a small process creates a child, each timed as the median of
 * ROUNDS rounds of N creations (child: _exit(0); or exec of /bin/true):
 *
 *   off        in a cgroup without KSM, before any ksm.enable=1 was written
 *              since boot: the controller's static key is off, its hooks
 *              are patched out.  Measured first (the key never goes back).
 *   key-on     the same after a write of 1 to another cgroup: the hooks run
 *              their flag tests for a process the controller leaves alone.
 *   prctl      a process that enabled KSM itself (PR_SET_MEMORY_MERGE) in
 *              that cgroup: what KSM costs a fork without the controller.
 *   cgroup     a process of an enabled cgroup: what the controller adds on
 *              top of KSM itself (ratio to prctl).
 *   into       clone3(CLONE_INTO_CGROUP) from the plain cgroup into the
 *              enabled one: the child enables itself from task_work.
 *   into-plain the same into a second plain cgroup: the reference for into.
 *
 * The key-on, prctl, cgroup, into and into-plain rounds are interleaved so
 * that drift hits them alike; off cannot be.  Usage:
 *
 *   kernel-fork [-n CREATIONS] [-e EXECS] [-r ROUNDS]
 *
 * Runs as root in the guest with cgroup2 at /sys/fs/cgroup and the ksm
 * controller; exit 2 on a setup error.  Times are TCG guest times: compare
 * the ratios, not the absolute figures.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#define ROOT "/sys/fs/cgroup"
#define TOP ROOT "/kfork"
#define MAX_ROUNDS 64

enum way { OFF, KEY_ON, PRCTL, CGROUP, INTO, INTO_PLAIN, NWAYS };
static const char *const way_name[NWAYS] = { "off", "key-on", "prctl", "cgroup", "into", "into-plain" };

static int n_creations = 400, n_execs = 60, rounds = 9;
static int on_fd = -1, plain2_fd = -1;

static void die(const char *what)
{
	fprintf(stderr, "kernel-fork: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val)) {
		fprintf(stderr, "kernel-fork: write %s to %s: %s\n", val, path, strerror(errno));
		exit(2);
	}
	close(fd);
}

static void join(const char *cg)
{
	char path[256], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	write_file(path, pid);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static pid_t create(int cgroup_fd, int exec)
{
	pid_t pid;

	if (cgroup_fd >= 0) {
		struct clone_args args = {
			.flags = CLONE_INTO_CGROUP,
			.exit_signal = SIGCHLD,
			.cgroup = (uint64_t)cgroup_fd,
		};

		pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	} else {
		pid = fork();
	}
	if (pid < 0)
		die("fork/clone3");
	if (pid == 0) {
		if (exec)
			execl("/bin/true", "true", (char *)NULL);
		_exit(0);
	}
	return pid;
}

/* Seconds per creation over n creations, each waited for. */
static double run(int cgroup_fd, int exec, int n)
{
	double t0 = now();
	int i, st;

	for (i = 0; i < n; i++) {
		pid_t pid = create(cgroup_fd, exec);

		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("child");
	}
	return (now() - t0) / n;
}

/* One measurement in a helper process set up for the way, so that the
 * measuring process's own state (prctl, cgroup) never leaks into the next. */
static double measure(enum way w, int exec)
{
	int p[2], st;
	double r = 0;
	pid_t pid;

	if (pipe(p) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int fd = -1;

		close(p[0]);
		switch (w) {
		case CGROUP:
			join(TOP "/on");
			break;
		case PRCTL:
			if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) < 0)
				die("prctl(PR_SET_MEMORY_MERGE, 1)");
			break;
		case INTO:
			fd = on_fd;
			break;
		case INTO_PLAIN:
			fd = plain2_fd;
			break;
		default:
			break;
		}
		r = run(fd, exec, exec ? n_execs : n_creations);
		if (write(p[1], &r, sizeof(r)) != sizeof(r))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &r, sizeof(r)) != sizeof(r))
		die("measurement");
	close(p[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("measuring process");
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void cleanup(void)
{
	join(ROOT);
	rmdir(TOP "/on");
	rmdir(TOP "/plain");
	rmdir(TOP "/plain2");
	rmdir(TOP);
}

int main(int argc, char **argv)
{
	static double t[2][NWAYS][MAX_ROUNDS];
	double med[2][NWAYS];
	int c, r, e;
	enum way w;

	while ((c = getopt(argc, argv, "n:e:r:")) != -1) {
		switch (c) {
		case 'n':
			n_creations = atoi(optarg);
			break;
		case 'e':
			n_execs = atoi(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: kernel-fork [-n CREATIONS] [-e EXECS] [-r ROUNDS]\n");
			return 2;
		}
	}
	if (n_creations < 1 || n_execs < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "kernel-fork: -n and -e must be >= 1, -r 1..%d\n", MAX_ROUNDS);
		return 2;
	}

	/* Nothing may have written ksm.enable=1 since boot, or "off" is not
	 * off: bench/kernel-fork boots the guest for this program alone. */
	write_file(ROOT "/cgroup.subtree_control", "+ksm");
	if (mkdir(TOP, 0755) < 0 || mkdir(TOP "/plain", 0755) < 0 || mkdir(TOP "/plain2", 0755) < 0 ||
	    mkdir(TOP "/on", 0755) < 0)
		die("mkdir " TOP "/{plain,plain2,on}");
	atexit(cleanup);
	write_file(TOP "/cgroup.subtree_control", "+ksm");
	join(TOP "/plain");
	plain2_fd = open(TOP "/plain2", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	on_fd = open(TOP "/on", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (plain2_fd < 0 || on_fd < 0)
		die("open cgroup directories");

	printf("kernel-fork: %d rounds of %d fork+exit and %d fork+exec each\n", rounds, n_creations, n_execs);
	for (r = 0; r < rounds; r++)
		for (e = 0; e < 2; e++)
			t[e][OFF][r] = measure(OFF, e);

	write_file(TOP "/on/ksm.enable", "1");
	for (r = 0; r < rounds; r++)
		for (w = KEY_ON; w < NWAYS; w++)
			for (e = 0; e < 2; e++)
				t[e][w][r] = measure(w, e);

	for (e = 0; e < 2; e++)
		for (w = OFF; w < NWAYS; w++)
			med[e][w] = median(t[e][w], rounds);
	printf("kernel-fork: %-10s %14s %14s\n", "way", "fork+exit us", "fork+exec us");
	for (w = OFF; w < NWAYS; w++)
		printf("kernel-fork: %-10s %14.1f %14.1f\n", way_name[w], med[0][w] * 1e6, med[1][w] * 1e6);
	printf("kernel-fork: ratio key-on/off       %.3f %.3f   (what the controller costs everyone once used)\n",
	       med[0][KEY_ON] / med[0][OFF], med[1][KEY_ON] / med[1][OFF]);
	printf("kernel-fork: ratio cgroup/prctl     %.3f %.3f   (what it adds to KSM for an enabled process)\n",
	       med[0][CGROUP] / med[0][PRCTL], med[1][CGROUP] / med[1][PRCTL]);
	printf("kernel-fork: ratio into/into-plain  %.3f %.3f   (clone3 into an enabled cgroup: task_work)\n",
	       med[0][INTO] / med[0][INTO_PLAIN], med[1][INTO] / med[1][INTO_PLAIN]);
	printf("kernel-fork: ratio prctl/key-on     %.3f %.3f   (KSM itself, for comparison)\n",
	       med[0][PRCTL] / med[0][KEY_ON], med[1][PRCTL] / med[1][KEY_ON]);
	return 0;
}
