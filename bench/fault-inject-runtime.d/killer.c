/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * killer PID DELAY_US STATE_FILE OUT READY: bench/fault-inject-runtime's
 * killer.  PID is the wrapper shell that is about to exec samepage-hook: it
 * waits for a line on the FIFO READY, written once the killer holds PID by
 * a pidfd, so the delay counts from the exec.  After DELAY_US it sends
 * SIGKILL through a pidfd taken at once (so a reused pid is never hit),
 * waits for the process to be gone, and copies STATE_FILE as it was at
 * that instant into OUT, whose first line says what happened:
 *   missed US     the hook had exited by itself, US microseconds after the
 *                 killer started
 *   killed-start  killed before samepage-hook was exec'd
 *   killed        killed while samepage-hook ran
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void comm_of(pid_t pid, char *buf, size_t size)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	buf[0] = '\0';
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* A zombie has exited already: a signal would be "delivered" and change
 * nothing. */
static int is_zombie(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int z = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 1;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && (p[2] == 'Z' || p[2] == 'X'))
		z = 1;
	fclose(f);
	return z;
}

static void copy_state(const char *from, FILE *out)
{
	char buf[4096];
	size_t n;
	FILE *in = fopen(from, "re");

	if (!in)
		return;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
}

int main(int argc, char **argv)
{
	struct timespec d, t0, t1;
	struct pollfd p;
	char comm[32];
	const char *what = "missed";
	long us;
	pid_t pid;
	int fd, ready;
	FILE *out;

	if (argc != 6) {
		fprintf(stderr, "usage: killer PID DELAY_US STATE_FILE OUT READY\n");
		return 2;
	}
	pid = (pid_t)atoi(argv[1]);
	us = atol(argv[2]);
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	ready = open(argv[5], O_WRONLY | O_CLOEXEC);
	if (ready >= 0) {
		if (write(ready, "go\n", 3) != 3)
			perror("killer: ready");
		close(ready);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	d.tv_sec = us / 1000000;
	d.tv_nsec = (us % 1000000) * 1000;
	p.fd = fd;
	p.events = POLLIN;
	/* The pidfd turns readable when the process exits. */
	if (fd >= 0 && ppoll(&p, 1, &d, NULL) == 0) {
		comm_of(pid, comm, sizeof(comm));
		if (!is_zombie(pid) && syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == 0) {
			what = strcmp(comm, "samepage-hook") == 0 ? "killed" : "killed-start";
			poll(&p, 1, 5000);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out = fopen(argv[4], "we");
	if (!out)
		return 1;
	if (strcmp(what, "missed") == 0)
		fprintf(out, "missed %ld\n", (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
	else
		fprintf(out, "%s\n", what);
	copy_state(argv[3], out);
	fclose(out);
	return 0;
}
