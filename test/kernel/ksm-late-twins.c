// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ksm-late-twins: does KSM merge a process that starts after its twin has
 * aged under smart scan?
 *
 * Two processes hold the same PAGES distinct pages (page i of one equals
 * page i of the other, and no two pages of one process are equal).  Twin A
 * starts first and faults its pages in over CHUNKS full scans of ksmd, as a
 * real process does, so its pages are seen for the first time in different
 * scans.  Then A is left alone for WARM full scans: its pages have no
 * partner, and smart scan (/sys/kernel/mm/ksm/smart_scan=1) starts skipping
 * them.  Twin B starts then, all at once.  The test requires B's
 * ksm_merging_pages (/proc/<pid>/ksm_stat) to reach 90 % of PAGES within
 * BOUND full scans after B's pages are in place.
 *
 * A page that is not a KSM page yet can only merge through the unstable
 * tree, which ksmd rebuilds in every full scan, so both twins' pages must be
 * looked at in the same full scan.  A kernel whose smart scan skips each
 * page on a schedule of its own (6.7 to 6.18 at least) keeps some of A's
 * pages out of phase with B's forever, and B stays well below 90 %.
 *
 * With -m SCANS the program also measures ksmd before B starts, with A (and
 * the unique pages of -u) all aged: ksmd's CPU time, pages scanned and pages
 * skipped per full scan, with smart scan on and off in alternating windows
 * (-A ROUNDS of each, default 3; see measure()).  That is the cost smart
 * scan exists to save; bench/kernel-smart-scan compares it on kernels with
 * and without the fix.
 *
 * ksmd's knobs are saved, set (advisor off, PAGES_TO_SCAN per SLEEP_MS,
 * smart_scan as -s says, run=1) and restored at exit, under
 * /run/lock/samepage-ksm.lock.  Every process started here is killed before
 * the knobs go back.  Exit status: 0 pass, 1 fail, 4 skip (no KSM, or no
 * smart scan while -s 1 asks for it).
 *
 * Usage: ksm-late-twins [-p PAGES] [-c CHUNKS] [-w WARM] [-b BOUND]
 *        [-t TIMEOUT_S] [-s 0|1] [-u UNIQUE_PAGES] [-m SCANS]
 *        [-n PAGES_TO_SCAN] [-l SLEEP_MS] [-P SCANS] [-A ROUNDS]
 *
 * -P SCANS turns smart scan off for SCANS full scans when B has started,
 * then on again: the workaround userspace has on a kernel without the fix.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#define KSM_DIR "/sys/kernel/mm/ksm/"
#define KSM_LOCK "/run/lock/samepage-ksm.lock"
#define EXIT_SKIP 4

/* What we change, in the order it goes back: the scan rate before run,
 * advisor_mode last (the kernel resets pages_to_scan when it changes). */
static const char *const knob_names[] = {
	"pages_to_scan", "sleep_millisecs", "smart_scan", "run", "advisor_mode",
};
#define NKNOBS (sizeof(knob_names) / sizeof(knob_names[0]))

static char saved[NKNOBS][64];
static bool have_saved[NKNOBS];
static pid_t children[3];
static int nchildren;

struct opts {
	long pages, chunks, warm, bound, timeout_s, unique, measure;
	long pages_to_scan, sleep_ms, pulse, rounds;
	int smart;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A knob's value; a selector ("[none] scan-time") gives the chosen word. */
static int knob_read(const char *name, char *buf, size_t len)
{
	char path[128], raw[128], *b, *e;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, raw, sizeof(raw) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	raw[n] = '\0';
	raw[strcspn(raw, "\n")] = '\0';
	b = strchr(raw, '[');
	e = b ? strchr(b, ']') : NULL;
	if (b && e) {
		*e = '\0';
		b++;
	} else {
		b = raw;
	}
	if (strlen(b) >= len)
		return -EOVERFLOW;
	memcpy(buf, b, strlen(b) + 1);
	return 0;
}

static int knob_write(const char *name, const char *value)
{
	char path[128];
	ssize_t n;
	int fd, ret = 0;

	snprintf(path, sizeof(path), KSM_DIR "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	if (n < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static unsigned long knob_ulong(const char *name)
{
	char buf[64];

	if (knob_read(name, buf, sizeof(buf)) < 0)
		return 0;
	return strtoul(buf, NULL, 10);
}

static void kill_children(void)
{
	for (int i = 0; i < nchildren; i++) {
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	nchildren = 0;
}

static void restore_knobs(void)
{
	kill_children();
	for (size_t i = 0; i < NKNOBS; i++) {
		if (!have_saved[i])
			continue;
		if (knob_write(knob_names[i], saved[i]) < 0)
			fprintf(stderr, "ksm-late-twins: cannot restore %s=%s: %s\n",
				knob_names[i], saved[i], strerror(errno));
		have_saved[i] = false;
	}
}

static void on_signal(int sig)
{
	restore_knobs();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int knob_set(const char *name, const char *value)
{
	int ret = knob_write(name, value);

	if (ret < 0)
		fprintf(stderr, "ksm-late-twins: cannot set %s=%s: %s\n", name,
			value, strerror(-ret));
	return ret;
}

static int setup_knobs(const struct opts *o)
{
	char num[32];
	int fd;

	fd = open(KSM_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		perror("ksm-late-twins: lock " KSM_LOCK);
		return -1;
	}
	/* The lock fd stays open (and locked) until exit. */
	for (size_t i = 0; i < NKNOBS; i++)
		have_saved[i] = knob_read(knob_names[i], saved[i],
					  sizeof(saved[i])) == 0;
	atexit(restore_knobs);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	if (have_saved[4] && knob_set("advisor_mode", "none") < 0)
		return -1;
	snprintf(num, sizeof(num), "%ld", o->pages_to_scan);
	if (knob_set("pages_to_scan", num) < 0)
		return -1;
	snprintf(num, sizeof(num), "%ld", o->sleep_ms);
	if (knob_set("sleep_millisecs", num) < 0)
		return -1;
	if (knob_set("smart_scan", o->smart ? "1" : "0") < 0)
		return -1;
	return knob_set("run", "1");
}

/* Page i's content: distinct for every i, the same for the same seed. */
static void fill_page(uint64_t *p, uint64_t seed, long i)
{
	uint64_t x = seed ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL);

	for (size_t w = 0; w < 4096 / sizeof(*p); w++) {
		x += 0x9e3779b97f4a7c15ULL;
		uint64_t z = x;

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		p[w] = z ^ (z >> 31);
	}
}

/* Wait until ksmd completed `scans` more full scans; false on timeout. */
static bool wait_scans(unsigned long scans, double deadline)
{
	unsigned long until = knob_ulong("full_scans") + scans;

	while (knob_ulong("full_scans") < until) {
		if (now() > deadline)
			return false;
		msleep(5);
	}
	return true;
}

/*
 * The body of a twin (or of the unique-pages process): map, mark mergeable,
 * fill in `chunks` steps one full scan apart, report on `ready`, wait to
 * be killed.
 */
static void twin_main(long pages, long chunks, uint64_t seed, int ready)
{
	size_t len = pages * 4096UL;
	char *mem;
	long per;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || madvise(mem, len, MADV_MERGEABLE) < 0) {
		perror("ksm-late-twins: twin mmap/madvise");
		_exit(1);
	}
	per = (pages + chunks - 1) / chunks;
	for (long i = 0; i < pages; i++) {
		if (i && i % per == 0 && !wait_scans(1, now() + 120))
			_exit(1);
		fill_page((uint64_t *)(mem + i * 4096UL), seed, i);
	}
	if (write(ready, "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static pid_t start_twin(long pages, long chunks, uint64_t seed, double deadline)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* Knobs and siblings are the parent's business. */
		memset(have_saved, 0, sizeof(have_saved));
		nchildren = 0;
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		twin_main(pages, chunks, seed, p[1]);
	}
	close(p[1]);
	children[nchildren++] = pid;
	/* The child exits (EOF) when it fails or runs out of time. */
	if (read(p[0], &c, 1) != 1 || now() > deadline) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return pid;
}

/* B's merged pages from ksm_stat (or ksm_merging_pages on old kernels). */
static long merging_pages(pid_t pid)
{
	char path[64], line[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/ksm_stat", pid);
	f = fopen(path, "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "ksm_merging_pages %ld", &v) == 1)
				break;
		fclose(f);
	}
	if (v >= 0)
		return v;
	snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", pid);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* ksmd's user+system CPU time in clock ticks, -1 when not found. */
static long ksmd_ticks(void)
{
	char path[300], buf[512], *p;
	unsigned long ut, st;
	long ticks = -1;
	struct dirent *d;
	DIR *dir = opendir("/proc");
	FILE *f;

	while (dir && ticks < 0 && (d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && strstr(buf, " (ksmd) ")) {
			p = strrchr(buf, ')');
			/* state ppid pgrp session tty tpgid flags minflt
			 * cminflt majflt cmajflt utime stime */
			if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
					&ut, &st) == 2)
				ticks = ut + st;
		}
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return ticks;
}

struct cost {
	double cpu_ms, scanned, skipped;	/* per full scan */
};

/* ksmd's cost per full scan over `scans` full scans. */
static int measure_window(long scans, double deadline, struct cost *c)
{
	unsigned long fs0, sc0, sk0, n;
	long t0, hz = sysconf(_SC_CLK_TCK);

	t0 = ksmd_ticks();
	fs0 = knob_ulong("full_scans");
	sc0 = knob_ulong("pages_scanned");
	sk0 = knob_ulong("pages_skipped");
	if (!wait_scans(scans, deadline)) {
		printf("# measure: ksmd did not complete %ld full scans in time\n",
		       scans);
		return -1;
	}
	n = knob_ulong("full_scans") - fs0;
	c->cpu_ms = (ksmd_ticks() - t0) * 1000.0 / hz / n;
	c->scanned = (double)(knob_ulong("pages_scanned") - sc0) / n;
	c->skipped = (double)(knob_ulong("pages_skipped") - sk0) / n;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * -m SCANS: ksmd's cost per full scan with smart scan on (windows of SCANS
 * full scans, a multiple of the longest period) and off (windows of
 * SCANS / 4), alternately, ROUNDS times (-A), on the same aged pages.  The
 * medians and their ratio: alternating cancels most of the drift of a
 * loaded host, which a TCG guest sees as ksmd's CPU time.
 */
static int measure(const struct opts *o, double deadline)
{
	double on[16], off[16], scan_on = 0, scan_off = 0, skip_on = 0;
	struct cost c;
	long r;

	for (r = 0; r < o->rounds; r++) {
		if (knob_set("smart_scan", "1") < 0 ||
		    measure_window(o->measure, deadline, &c) < 0)
			return -1;
		on[r] = c.cpu_ms;
		scan_on += c.scanned / o->rounds;
		skip_on += c.skipped / o->rounds;
		if (knob_set("smart_scan", "0") < 0 ||
		    measure_window(o->measure / 4 ? o->measure / 4 : 1,
				   deadline, &c) < 0)
			return -1;
		off[r] = c.cpu_ms;
		scan_off += c.scanned / o->rounds;
	}
	if (knob_set("smart_scan", o->smart ? "1" : "0") < 0)
		return -1;
	qsort(on, r, sizeof(on[0]), cmp_double);
	qsort(off, r, sizeof(off[0]), cmp_double);
	printf("measure: rounds=%ld cpu_ms_per_scan_smart=%.2f cpu_ms_per_scan_nosmart=%.2f cpu_ratio=%.3f scanned_per_scan_smart=%.0f scanned_per_scan_nosmart=%.0f scanned_ratio=%.3f skipped_per_scan_smart=%.0f\n",
	       r, on[r / 2], off[r / 2], on[r / 2] / off[r / 2], scan_on,
	       scan_off, scan_on / scan_off, skip_on);
	return 0;
}

/* Start B and wait for it to merge: 0 when >= 90 % within the bound. */
static int late_twin(const struct opts *o, uint64_t seed, double deadline)
{
	long need = (o->pages * 9 + 9) / 10, got = 0;
	unsigned long fs0, fs = 0;
	double t0;
	pid_t b;

	b = start_twin(o->pages, 1, seed, deadline);
	if (b < 0) {
		printf("not ok - twin B did not start\n");
		return 1;
	}
	t0 = now();
	fs0 = knob_ulong("full_scans");
	if (o->pulse && o->smart) {
		/* What userspace can do on a stock kernel when a replica
		 * starts: no skipping for a few full scans. */
		if (knob_set("smart_scan", "0") < 0 ||
		    !wait_scans(o->pulse, deadline) ||
		    knob_set("smart_scan", "1") < 0)
			return 1;
	}
	while ((fs = knob_ulong("full_scans") - fs0) <= (unsigned long)o->bound &&
	       now() < deadline) {
		got = merging_pages(b);
		if (got >= need)
			break;
		msleep(10);
	}
	got = merging_pages(b);
	printf("%s - late twin B: %ld of %ld pages merged (%.1f %%, need 90 %%) after %lu full scans, %.1f s (smart_scan=%d, %ld full scans without it at B's start)\n",
	       got >= need ? "ok" : "not ok", got, o->pages,
	       100.0 * got / o->pages, fs, now() - t0, o->smart,
	       o->smart ? o->pulse : 0);
	return got >= need ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: ksm-late-twins [-p PAGES] [-c CHUNKS] [-w WARM] [-b BOUND] [-t TIMEOUT_S] [-s 0|1] [-u UNIQUE_PAGES] [-m SCANS] [-n PAGES_TO_SCAN] [-l SLEEP_MS] [-P SCANS] [-A ROUNDS]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	int c;

	while ((c = getopt(argc, argv, "p:c:w:b:t:s:u:m:n:l:P:A:")) != -1) {
		long v = strtol(optarg, NULL, 10);

		switch (c) {
		case 'p':
			o->pages = v;
			break;
		case 'c':
			o->chunks = v;
			break;
		case 'w':
			o->warm = v;
			break;
		case 'b':
			o->bound = v;
			break;
		case 't':
			o->timeout_s = v;
			break;
		case 's':
			o->smart = !!v;
			break;
		case 'u':
			o->unique = v;
			break;
		case 'm':
			o->measure = v;
			break;
		case 'n':
			o->pages_to_scan = v;
			break;
		case 'l':
			o->sleep_ms = v;
			break;
		case 'P':
			o->pulse = v;
			break;
		case 'A':
			o->rounds = v;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o->pages < 16 || o->chunks < 1 || o->warm < 0 ||
	    o->bound < 1 || o->timeout_s < 1 || o->pages_to_scan < 1 ||
	    o->sleep_ms < 0 || o->unique < 0 || o->measure < 0 || o->pulse < 0 ||
	    o->rounds < 1 || o->rounds > 16)
		usage();
}

int main(int argc, char **argv)
{
	struct opts o = {
		.pages = 4096, .chunks = 9, .warm = 12, .bound = 24,
		.timeout_s = 300, .smart = 1, .pages_to_scan = 10000,
		.sleep_ms = 10, .rounds = 3,
	};
	const uint64_t seed = 0x5a3e9a9e1a7e7715ULL;
	double deadline;
	unsigned long sk0;

	parse(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0 || access(KSM_DIR "run", W_OK) < 0) {
		printf("ok - # SKIP needs root and KSM (" KSM_DIR ")\n");
		return EXIT_SKIP;
	}
	if (o.smart && access(KSM_DIR "smart_scan", F_OK) < 0) {
		printf("ok - # SKIP the kernel has no smart scan\n");
		return EXIT_SKIP;
	}
	deadline = now() + o.timeout_s;
	if (setup_knobs(&o) < 0)
		return 1;
	printf("# %ld pages per twin, A faulted in over %ld full scans, %ld full scans alone, bound %ld full scans; ksmd %ld pages / %ld ms, smart_scan=%d\n",
	       o.pages, o.chunks, o.warm, o.bound, o.pages_to_scan, o.sleep_ms,
	       o.smart);
	if (o.unique && start_twin(o.unique, 1, ~seed, deadline) < 0) {
		printf("not ok - the unique-pages process did not start\n");
		return 1;
	}
	sk0 = knob_ulong("pages_skipped");
	if (start_twin(o.pages, o.chunks, seed, deadline) < 0 ||
	    !wait_scans(o.warm, deadline)) {
		printf("not ok - twin A did not start and age in time\n");
		return 1;
	}
	printf("# twin A alone: %lu pages skipped so far\n",
	       knob_ulong("pages_skipped") - sk0);
	if (o.smart && knob_ulong("pages_skipped") == sk0) {
		printf("not ok - smart scan skipped none of A's pages: the test shows nothing\n");
		return 1;
	}
	if (o.measure && measure(&o, deadline) < 0)
		return 1;
	return late_twin(&o, seed, deadline);
}
