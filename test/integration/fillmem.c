/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test workload: fill MiB of anonymous memory with pages that differ from
 * each other but are the same in every process started with the same seed,
 * so any merging KSM does is between processes, never inside one.  Then
 * report readiness and sleep.
 *
 *   fillmem MIB [SEED] [CHILDREN]
 * With CHILDREN > 0 it forks that many children first (each fills its own
 * memory), so tests can check that children inherit KSM.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void fill(size_t mib, uint64_t seed)
{
	size_t len = mib << 20, page = 4096, i, j;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	for (i = 0; i < len / page; i++) {
		uint64_t x = seed * 0x9e3779b97f4a7c15ULL + i + 1;

		for (j = 0; j < page; j += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(p + i * page + j, &x, 8);
		}
	}
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 16;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
	int children = argc > 3 ? atoi(argv[3]) : 0;
	int i;

	for (i = 0; i < children; i++) {
		if (fork() == 0)
			break;
	}
	fill(mib, seed);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
