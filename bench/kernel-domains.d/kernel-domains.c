// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kernel-domains: the guest side of bench/kernel-domains.
 *
 *   kernel-domains -d 0|1|16 [-c CGROUPS] [-m MIB_PER_CGROUP] [-w SECONDS]
 *
 * CGROUPS cgroups (default 16) under /sys/fs/cgroup/sp-bench-domains, each
 * with two processes of MIB/2 MiB each, identical within the cgroup and
 * different from every other cgroup's, made mergeable with madvise. -d 0
 * leaves ksm.domain alone (for a kernel without KSM domains), -d 1 puts all
 * cgroups into one domain (the parent has ksm.domain "new"), -d 16 gives each
 * cgroup a domain of its own. The merge result is the same in all three.
 *
 * With fixed ksmd knobs (saved and restored) it measures the time from
 * run=1 until every page is merged (pages_sharing = pages / 2) and ksmd's
 * pages scanned per second over that time, then the scan rate for -w more
 * seconds with everything merged. Prints "kernel-domains: key value" lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KSM "/sys/kernel/mm/ksm/"
#define CG "/sys/fs/cgroup/sp-bench-domains"
#define MAX_CGROUPS 64

static const char *const knobs[] = {
	"run", "pages_to_scan", "sleep_millisecs", "smart_scan",
	"use_zero_pages", "max_page_sharing",
};
static const char *const values[] = { NULL, "5000", "10", "0", "0", "256" };
static char saved[sizeof(knobs) / sizeof(knobs[0])][32];
static pid_t pids[2 * MAX_CGROUPS];
static int ncg = 16, domains = -1, mib = 32, window = 5;

static int put(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -errno;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -EIO;
}

static long get(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atol(buf) : -1;
}

static long ksm(const char *knob)
{
	char path[128];

	snprintf(path, sizeof(path), KSM "%s", knob);
	return get(path);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void knobs_save_set(void)
{
	char path[128];
	unsigned int i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), KSM "%s", knobs[i]);
		fd = open(path, O_RDONLY);
		n = fd < 0 ? -1 : read(fd, saved[i], sizeof(saved[i]) - 1);
		if (fd >= 0)
			close(fd);
		saved[i][n > 0 ? n : 0] = 0;
	}
	put(KSM "run", "2");
	for (i = 1; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		snprintf(path, sizeof(path), KSM "%s", knobs[i]);
		put(path, values[i]);
	}
}

static void cleanup(void)
{
	char path[128];
	int i;

	for (i = 0; i < 2 * ncg; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	put(KSM "run", "2");
	for (i = sizeof(knobs) / sizeof(knobs[0]) - 1; i >= 0; i--) {
		snprintf(path, sizeof(path), KSM "%s", knobs[i]);
		if (saved[i][0])
			put(path, saved[i]);
	}
	for (i = 0; i < ncg; i++) {
		snprintf(path, sizeof(path), CG "/%d", i);
		rmdir(path);
	}
	rmdir(CG);
}

/* A process of cgroup @cg: enter it, fill, madvise, report, sleep. */
static void worker(int cg, int ready)
{
	size_t len = (size_t)mib / 2 << 20, i;
	char path[128], pid[16];
	uint64_t *mem;

	snprintf(path, sizeof(path), CG "/%d/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (put(path, pid))
		_exit(1);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		_exit(1);
	for (i = 0; i < len / 8; i++)
		mem[i] = ((uint64_t)cg << 40) ^ i;
	if (madvise(mem, len, MADV_MERGEABLE) || write(ready, "x", 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

static int setup(void)
{
	char path[128];
	int i, fds[2];
	char c;

	if (mkdir(CG, 0755) && errno != EEXIST)
		return -1;
	put("/sys/fs/cgroup/cgroup.subtree_control", "+ksm");
	if (domains > 0 && put(CG "/cgroup.subtree_control", "+ksm"))
		return -1;
	if (domains == 1 && put(CG "/ksm.domain", "new"))
		return -1;
	if (pipe(fds))
		return -1;
	for (i = 0; i < ncg; i++) {
		snprintf(path, sizeof(path), CG "/%d", i);
		if (mkdir(path, 0755))
			return -1;
		snprintf(path, sizeof(path), CG "/%d/ksm.domain", i);
		if (domains > 1 && put(path, "new"))
			return -1;
	}
	for (i = 0; i < 2 * ncg; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			worker(i / 2, fds[1]);
		if (pids[i] < 0 || read(fds[0], &c, 1) != 1)
			return -1;
	}
	return 0;
}

static int run(void)
{
	long pages = (long)ncg * mib * 256, scanned0, scanned, full0;
	double t0, t, merge_time;

	scanned0 = ksm("pages_scanned");
	full0 = ksm("full_scans");
	t0 = now();
	if (put(KSM "run", "1"))
		return -1;
	while (ksm("pages_sharing") < pages / 2) {
		if (now() - t0 > 600) {
			fprintf(stderr, "kernel-domains: not merged after 600 s: %ld of %ld\n",
				ksm("pages_sharing"), pages / 2);
			return -1;
		}
		usleep(20000);
	}
	merge_time = now() - t0;
	scanned = ksm("pages_scanned") - scanned0;
	printf("kernel-domains: domains %d, %d cgroups x %d MiB (2 processes each), %ld pages\n",
	       domains, ncg, mib, pages);
	printf("kernel-domains: knobs pages_to_scan 5000 sleep_millisecs 10 smart_scan 0\n");
	printf("kernel-domains: merge_seconds %.2f\n", merge_time);
	printf("kernel-domains: merge_full_scans %ld\n", ksm("full_scans") - full0);
	printf("kernel-domains: merge_pages_scanned_per_s %.0f\n", scanned / merge_time);

	scanned0 = ksm("pages_scanned");
	t = now();
	sleep(window);
	printf("kernel-domains: merged_pages_scanned_per_s %.0f\n",
	       (ksm("pages_scanned") - scanned0) / (now() - t));
	printf("kernel-domains: pages_shared %ld pages_sharing %ld\n",
	       ksm("pages_shared"), ksm("pages_sharing"));
	return 0;
}

int main(int argc, char **argv)
{
	int opt, err;

	while ((opt = getopt(argc, argv, "d:c:m:w:")) != -1) {
		switch (opt) {
		case 'd': domains = atoi(optarg); break;
		case 'c': ncg = atoi(optarg); break;
		case 'm': mib = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		default: return 2;
		}
	}
	if (domains < 0 || ncg < 1 || ncg > MAX_CGROUPS || mib < 2) {
		fprintf(stderr, "usage: kernel-domains -d 0|1|N [-c CGROUPS] [-m MIB] [-w SECONDS]\n");
		return 2;
	}
	knobs_save_set();
	err = setup();
	if (err)
		fprintf(stderr, "kernel-domains: setup failed: %s\n", strerror(errno));
	else
		err = run();
	cleanup();
	return err ? 1 : 0;
}
