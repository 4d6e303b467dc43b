/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/converge's stopwatch: polls the workload processes' ksm_stat every
 * 20 ms until their merged pages reach the target, then keeps measuring
 * ksmd's CPU time for the trailing window.
 *
 *   watch T0_NS CPU0_TICKS KSMD_PID TARGET_PAGES CAP_S TRAIL_S DONE_FILE PID...
 *
 * T0_NS (CLOCK_REALTIME) and CPU0_TICKS (ksmd's utime+stime) are taken by
 * the caller when the containers were started.  On reaching the target it
 * creates DONE_FILE (the KubeVirt-style loop watches it).  Prints one line:
 *   t95=SECONDS|-1 cpu95=SECONDS trail=SECONDS merged=PAGES
 * with t95 and cpu95 counted from T0 and trail the CPU seconds in the
 * TRAIL_S seconds after t95 (after CAP_S when the target was not reached).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long long ksmd_ticks(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	int fd, field;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	for (field = 3, p += 2; field < 14 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || sscanf(p, "%llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static long merging_pages(int pid)
{
	char path[64], buf[1024], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "ksm_merging_pages");
	return p ? strtol(p + strlen("ksm_merging_pages") + 1, NULL, 10) : 0;
}

int main(int argc, char **argv)
{
	double t0, cap, trail, t95 = -1, tick = sysconf(_SC_CLK_TCK), end;
	long long cpu0, cpu95 = 0, cpu_end;
	long target, merged = 0;
	int ksmd, npids, i;
	int *pids;

	if (argc < 9) {
		fprintf(stderr, "usage: watch T0_NS CPU0_TICKS KSMD_PID TARGET_PAGES CAP_S TRAIL_S DONE_FILE PID...\n");
		return 2;
	}
	t0 = strtod(argv[1], NULL) / 1e9;
	cpu0 = strtoll(argv[2], NULL, 10);
	ksmd = atoi(argv[3]);
	target = strtol(argv[4], NULL, 10);
	cap = strtod(argv[5], NULL);
	trail = strtod(argv[6], NULL);
	npids = argc - 8;
	pids = calloc(npids, sizeof(*pids));
	if (!pids)
		return 1;
	for (i = 0; i < npids; i++)
		pids[i] = atoi(argv[8 + i]);

	for (;;) {
		double t = now_real();

		merged = 0;
		for (i = 0; i < npids; i++)
			merged += merging_pages(pids[i]);
		if (merged >= target) {
			t95 = t - t0;
			cpu95 = ksmd_ticks(ksmd);
			break;
		}
		if (t - t0 >= cap) {
			cpu95 = ksmd_ticks(ksmd);
			break;
		}
		usleep(20000);
	}
	if (t95 >= 0) {
		int fd = open(argv[7], O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0)
			close(fd);
	}
	end = now_real() + trail;
	while (now_real() < end)
		usleep(200000);
	cpu_end = ksmd_ticks(ksmd);
	merged = 0;
	for (i = 0; i < npids; i++)
		merged += merging_pages(pids[i]);
	printf("t95=%.2f cpu95=%.2f trail=%.2f merged=%ld\n", t95, (cpu95 - cpu0) / tick, (cpu_end - cpu95) / tick, merged);
	free(pids);
	return 0;
}
