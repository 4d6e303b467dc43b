/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test workload: try the three ways a process opts in to KSM by itself and
 * print what each returned, on one line:
 *   prctl=ok|EPERM|... madvise=... io_uring_setup=...
 * then "ready".  With "sleep" it then fills 4 MiB of mergeable-looking
 * memory (same content in every run) and sleeps, so tests can look at it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *result(long r)
{
	static char buf[32];

	if (r >= 0)
		return "ok";
	switch (errno) {
	case EPERM: return "EPERM";
	case EINVAL: return "EINVAL";
	case ENOSYS: return "ENOSYS";
	case EACCES: return "EACCES";
	}
	snprintf(buf, sizeof(buf), "errno%d", errno);
	return buf;
}

int main(int argc, char **argv)
{
	size_t len = 4 << 20;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char params[120];
	long r;

	if (p == MAP_FAILED)
		return 1;
	r = prctl(67 /* PR_SET_MEMORY_MERGE */, 1, 0, 0, 0);
	printf("prctl=%s ", result(r));
	r = madvise(p, len, 12 /* MADV_MERGEABLE */);
	printf("madvise=%s ", result(r));
	memset(params, 0, sizeof(params));
	r = syscall(SYS_io_uring_setup, 1, params);
	printf("io_uring_setup=%s\n", result(r));
	if (r >= 0)
		close((int)r);
	if (argc > 1 && strcmp(argv[1], "sleep") == 0) {
		for (size_t i = 0; i < len; i += 4096)
			memset(p + i, (int)(i / 4096 % 251) + 1, 4096);
	}
	printf("ready\n");
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "sleep") == 0)
		for (;;)
			pause();
	return 0;
}
