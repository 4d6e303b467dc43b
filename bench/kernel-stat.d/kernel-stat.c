/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kernel-stat: what the `ksm` controller's ksm.stat saves a monitoring
 * agent.  Puts N processes (default 1000) with a little mergeable memory in
 * one cgroup with ksm.enable=1, lets ksmd merge, stops ksmd so the numbers
 * hold still, then times
 *   (a) reading and parsing <cgroup>/ksm.stat, and
 *   (b) what userspace does without it: read cgroup.procs, then open, read
 *       and parse /proc/<pid>/ksm_stat of every process and add them up,
 * checks that both give the same sums, and prints both times and the ratio.
 *
 * Runs inside the test guest (bench/kernel-stat boots it); needs root and a
 * kernel with the controller.
 *
 *   kernel-stat [-n PROCESSES] [-p PAGES_PER_PROCESS] [-r ROUNDS]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "cgroupfs/native.h"

#define CG "/sys/fs/cgroup/sp-bench-kernel-stat"
#define KSM "/sys/kernel/mm/ksm"

static pid_t *kids;
static int nkids;
static const char *const knobs[] = { "run", "pages_to_scan", "sleep_millisecs" };
static char *saved[3];

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void cleanup(void)
{
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < nkids; i++)
		waitpid(kids[i], NULL, 0);
	nkids = 0;
	for (int i = 0; i < 50 && rmdir(CG) < 0 && errno == EBUSY; i++)
		usleep(20000);
	write_file_str(KSM "/run", "0", NULL);
	for (int i = 2; i >= 0; i--) {
		char path[64];

		if (!saved[i])
			continue;
		snprintf(path, sizeof(path), KSM "/%s", knobs[i]);
		write_file_str(path, saved[i], NULL);
		free(saved[i]);
		saved[i] = NULL;
	}
}

static void die(const char *what, sp_error_t err)
{
	fprintf(stderr, "kernel-stat: %s%s%s\n", what, err ? ": " : "", err ? sp_error_msg(err) : "");
	cleanup();
	exit(1);
}

static void child(int ready_fd, long pages, int idx)
{
	unsigned char *p;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (write_file_str(CG "/cgroup.procs", "0", NULL) < 0)
		_exit(2);
	p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(3);
	/* Page i has the same content in every process; half the processes
	 * also get a page of their own, so not everything merges. */
	for (long i = 0; i < pages; i++)
		for (long j = 0; j < 4096; j += 8) {
			uint64_t v = (uint64_t)i * 0x9e3779b97f4a7c15ULL + (uint64_t)j + 1;

			if (i == 0 && idx % 2)
				v ^= (uint64_t)idx << 20;
			memcpy(p + i * 4096 + j, &v, 8);
		}
	if (write(ready_fd, "r", 1) != 1)
		_exit(4);
	for (;;)
		pause();
}

/* (b): everything userspace has to do without ksm.stat. */
static int sum_proc(struct ksm_cg_stat *sum)
{
	_cleanup_free_ char *procs = NULL;
	char *line, *save = NULL;
	int ret;

	memset(sum, 0, sizeof(*sum));
	ret = read_file_bounded(AT_FDCWD, CG "/cgroup.procs", 1 << 20, &procs, NULL, NULL);
	if (ret < 0)
		return ret;
	for (line = strtok_r(procs, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char path[64], buf[512], *l, *s2 = NULL;
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "/proc/%s/ksm_stat", line);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* exited meanwhile */
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		sum->nr_processes++;
		for (l = strtok_r(buf, "\n", &s2); l; l = strtok_r(NULL, "\n", &s2)) {
			char *v = strchr(l, ' ');

			if (!v)
				continue;
			*v++ = '\0';
			if (strcmp(l, "ksm_rmap_items") == 0)
				sum->rmap_items += strtoull(v, NULL, 10);
			else if (strcmp(l, "ksm_zero_pages") == 0)
				sum->zero_pages += strtoull(v, NULL, 10);
			else if (strcmp(l, "ksm_merging_pages") == 0)
				sum->merging_pages += strtoull(v, NULL, 10);
			else if (strcmp(l, "ksm_process_profit") == 0)
				sum->process_profit += strtoll(v, NULL, 10);
		}
	}
	return 0;
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

int main(int argc, char **argv)
{
	_cleanup_error_ sp_error_t err = NULL;
	long nproc = 1000, pages = 8, rounds = 50;
	struct ksm_cg_stat st = { 0 }, sum;
	double *ta, *tb, t0, ma, mb;
	int p[2], c;

	while ((c = getopt(argc, argv, "n:p:r:")) != -1) {
		switch (c) {
		case 'n': nproc = strtol(optarg, NULL, 10); break;
		case 'p': pages = strtol(optarg, NULL, 10); break;
		case 'r': rounds = strtol(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: kernel-stat [-n PROCESSES] [-p PAGES] [-r ROUNDS]\n");
			return 2;
		}
	}
	if (nproc < 1 || nproc > 100000 || pages < 1 || rounds < 1 || rounds > 100000) {
		fprintf(stderr, "kernel-stat: bad arguments\n");
		return 2;
	}
	if (!ksm_native_available()) {
		fprintf(stderr, "kernel-stat: the kernel has no ksm cgroup controller\n");
		return 1;
	}
	for (int i = 0; i < 3; i++) {
		char path[64];

		snprintf(path, sizeof(path), KSM "/%s", knobs[i]);
		if (read_file_line(path, &saved[i], &err) < 0)
			die("save ksmd knobs", err);
	}
	rmdir(CG);
	if (mkdir(CG, 0755) < 0) {
		fprintf(stderr, "kernel-stat: mkdir %s: %s\n", CG, strerror(errno));
		cleanup();
		return 1;
	}
	if (ksm_native_enable(CG, true, &err) < 0)
		die("enable", err);

	kids = calloc(nproc, sizeof(*kids));
	if (!kids || pipe(p) < 0)
		die("setup", NULL);
	t0 = now_us();
	for (long i = 0; i < nproc; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork", NULL);
		if (pid == 0) {
			close(p[0]);
			child(p[1], pages, (int)i);
		}
		kids[nkids++] = pid;
	}
	close(p[1]);
	for (long i = 0; i < nproc; i++) {
		char ch;

		if (read(p[0], &ch, 1) != 1)
			die("a child died before it was ready", NULL);
	}
	printf("kernel-stat: %ld processes x %ld pages in %s (started in %.1f s)\n", nproc, pages, CG,
	       (now_us() - t0) / 1e6);

	/* Let ksmd merge so the sums are not all zero. */
	write_file_str(KSM "/pages_to_scan", "10000", NULL);
	write_file_str(KSM "/sleep_millisecs", "10", NULL);
	write_file_str(KSM "/run", "1", NULL);
	t0 = now_us();
	while (now_us() - t0 < 120e6) {
		if (ksm_native_stat(CG, &st, &err) < 0)
			die("read ksm.stat", err);
		if (st.merging_pages >= (uint64_t)(nproc * (pages - 1)))
			break;
		usleep(200000);
	}
	write_file_str(KSM "/run", "0", NULL);
	usleep(100000);
	printf("kernel-stat: ksmd merged %" PRIu64 " pages in %.1f s, then stopped\n", st.merging_pages,
	       (now_us() - t0) / 1e6);

	ta = calloc(rounds, sizeof(*ta));
	tb = calloc(rounds, sizeof(*tb));
	if (!ta || !tb)
		die("setup", NULL);
	for (long r = 0; r < rounds; r++) {
		double s = now_us();

		if (ksm_native_stat(CG, &st, &err) < 0)
			die("read ksm.stat", err);
		ta[r] = now_us() - s;
		s = now_us();
		if (sum_proc(&sum) < 0)
			die("sum /proc/<pid>/ksm_stat", NULL);
		tb[r] = now_us() - s;
	}
	if (st.nr_processes != (uint64_t)nproc || sum.nr_processes != (uint64_t)nproc ||
	    st.rmap_items != sum.rmap_items || st.zero_pages != sum.zero_pages ||
	    st.merging_pages != sum.merging_pages || st.process_profit != sum.process_profit) {
		fprintf(stderr,
			"kernel-stat: MISMATCH ksm.stat (procs %" PRIu64 " rmap %" PRIu64 " zero %" PRIu64
			" merging %" PRIu64 " profit %" PRId64 ") vs /proc sum (procs %" PRIu64 " rmap %" PRIu64
			" zero %" PRIu64 " merging %" PRIu64 " profit %" PRId64 ")\n",
			st.nr_processes, st.rmap_items, st.zero_pages, st.merging_pages, st.process_profit,
			sum.nr_processes, sum.rmap_items, sum.zero_pages, sum.merging_pages, sum.process_profit);
		cleanup();
		return 1;
	}
	ma = median(ta, rounds);
	mb = median(tb, rounds);
	printf("kernel-stat: sums agree: nr_processes %" PRIu64 ", ksm_rmap_items %" PRIu64
	       ", ksm_merging_pages %" PRIu64 ", ksm_process_profit %" PRId64 "\n",
	       st.nr_processes, st.rmap_items, st.merging_pages, st.process_profit);
	printf("kernel-stat: read ksm.stat                    median %10.1f us (%ld rounds)\n", ma, rounds);
	printf("kernel-stat: sum /proc/<pid>/ksm_stat x %-5ld median %10.1f us (%ld rounds)\n", nproc, mb,
	       rounds);
	printf("kernel-stat: ratio %.1fx\n", mb / ma);
	free(ta);
	free(tb);
	cleanup();
	free(kids);
	return 0;
}
