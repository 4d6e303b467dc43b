// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ksm-domain-stress: KSM domains (ksm.domain, kernel/patches/0008-0009)
 * under concurrent domain and enable writes, process creation of several
 * shapes, exec, exit and migration between cgroups of different domains,
 * with ksmd scanning at full speed; a checker looks, while all of that
 * runs, for a physical page frame that processes of two domains map.
 *
 * Runs as root in the test guest (kernel/guest/check.sh, debug.sh), static,
 * and needs cgroup v2 at /sys/fs/cgroup with the `ksm` controller and its
 * `ksm.domain` file.  Usage:
 *
 *   ksm-domain-stress [-t SECONDS] [-s SETTLE_MAX_SECONDS] [-n] [-v]
 *
 * Layout, under /sys/fs/cgroup/ksm-domain-stress-<pid>/ (the "top"):
 *
 *   a    ksm.domain new      a/x, a/y  inherit (domain A)
 *                            a/n       numeric id I (domain N)
 *   b    ksm.domain new      b/x, b/y  inherit (domain B)
 *                            b/n       numeric id I (domain N: a/n and
 *                                      b/n are unrelated and share it)
 *   g    inherit (the global domain 0)
 *   d    deny
 *
 * Processes live in the leaves (a/x a/y a/n b/x b/y b/n g d); ksm.enable is
 * 1 on the top.  Every process that fills maps NFILL pages at FILL_ADDR:
 * NCOMMON pages whose content is the same in every process of every domain
 * (missing isolation would merge them across), and NPRIVATE pages whose
 * content depends on the family (A, B, N, G, D) of the leaf it filled in.
 *
 * The processes of the stress (descendants of this program):
 *   writers         write ksm.domain (new, inherit, id I, id J, deny) on
 *                   every cgroup but d and the top, and ksm.enable 0/1 on
 *                   every cgroup
 *   fork spawners   fill, then fork (children that exit or stay), fork +
 *                   exec, clone3(CLONE_INTO_CGROUP) with and without exec,
 *                   processes whose leader exits, deny probes
 *   vfork spawners  fill nothing; vfork + exec and clone3(CLONE_VFORK |
 *                   CLONE_VM | CLONE_INTO_CGROUP) + exec (posix_spawn's
 *                   shape).  They do not fill because a CLONE_VM child's
 *                   mm is its parent's: when a write or a migration sets
 *                   the domain of that shared mm, the kernel documents that
 *                   the last one wins, so the parent's mm may be in a
 *                   domain its cgroup is not in; that is only harmless for
 *                   a parent that maps nothing the checker looks at
 *   migrators       move processes between the leaves (never out of d,
 *                   where the deny probes must stay; spawners never into d)
 *   deny probes     cloned into d: prctl(PR_SET_MEMORY_MERGE, 1) and
 *                   madvise(MADV_MERGEABLE) must fail with EPERM
 *
 * The checker (this program) samples every process of the layout: the
 * leaf of a live thread and its ksm.domain.effective, then the frames of
 * the filled pages (/proc/PID/task/TID/pagemap) and whether each is a KSM
 * page (/proc/kpageflags, KPF_KSM), then leaf and domain again.  A process
 * counts in a sample only if leaf and domain did not change during it and
 * its domain has been stable long enough for the kernel's documented
 * deferred part of a switch (ksmd unshares an mm's old-domain KSM pages on
 * its next pass over the mm): ksmd's full_scans must have advanced by 2
 * since the last event that could change the process's domain - a
 * ksm.domain write to its leaf or the leaf's parent, its migration
 * (writers and migrators record full_scans after each, and mark the
 * record busy while writing), or its fork (first seen by the checker).
 *
 * Violations, each confirmed by reading the frames again:
 *   - a KSM frame mapped by two stable processes with different domains;
 *   - a stable process under deny maps a KSM frame or has
 *     ksm_merging_pages > 0;
 *   - a deny probe's prctl or madvise did not fail with EPERM.
 *
 * Phases: STRESS (-t, default 60 s: everything above, sampled all along);
 * SETTLE: writers and migrators stop, the intended layout is written
 * again, 2 fresh processes are cloned into each leaf, and the checker goes
 * on until every merging domain (A, B, N, G) has a KSM frame shared by two
 * of its stable processes (at most -s seconds, default 60): if not, the
 * checker could not see merges and the run fails rather than passing
 * vacuously.
 *
 * -n (negative control): the layout keeps every cgroup in the global
 * domain (no ksm.domain writes at all), while the checker labels each
 * process with its leaf's intended family; identical content then merges
 * across the labels and the checker must report violations (exit 1).
 * Measured in the guest (15 s): 6486 cross-domain merges, 892 KSM pages
 * under the intended deny, 173 of 173 probes not refused; exit 1.
 *
 * ksmd's knobs (run, sleep_millisecs, pages_to_scan) are saved and
 * restored, also on a setup error and on SIGINT/SIGTERM/SIGHUP; the
 * cgroups are removed (their processes killed with cgroup.kill).
 * Exit status: 0 pass, 1 a check failed, 2 setup error, 77 the kernel has
 * no ksm controller or no ksm.domain.  The kernel log is the caller's business.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef __x86_64__
#error "ksm-domain-stress: the CLONE_VM clone3 trampoline is written for x86_64"
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_MERGEABLE
#define MADV_MERGEABLE 12
#endif

#define PROG "ksm-domain-stress"
#define CG_ROOT "/sys/fs/cgroup"
#define KSM_SYSFS "/sys/kernel/mm/ksm/"
#define PAGE 4096UL
#define FILL_ADDR 0x3f0000000000UL
#define NCOMMON 24
#define NPRIVATE 8
#define NFILL (NCOMMON + NPRIVATE)	/* 32: one bit each in a uint32_t */
#define KPF_KSM 21
#define PM_PRESENT (1ULL << 63)
#define PM_PFN_MASK ((1ULL << 55) - 1)
#define NWRITER 2
#define NFSPAWNER 4
#define NVSPAWNER 2
#define NSPAWNER (NFSPAWNER + NVSPAWNER)
#define NMIGRATOR 2
#define MAX_LONG 8		/* long-lived children per spawner */
#define MAX_LEADERLESS 8
#define MAX_OBS 2048		/* processes per sample */
#define SETTLE_PER_LEAF 2
#define STABLE_SCANS 2		/* full scans after an event before a process counts */
#define MAX_REPORTS 20

/* probe exit statuses */
#define PROBE_OK 40
#define PROBE_PRCTL 1		/* bit: prctl(PR_SET_MEMORY_MERGE, 1) did not fail with EPERM */
#define PROBE_MADVISE 2		/* bit: madvise(MADV_MERGEABLE) did not fail with EPERM */

enum { FAM_A, FAM_B, FAM_N, FAM_G, FAM_D, NFAM };
static const char *const fam_names[NFAM] = { "A", "B", "N", "G", "D" };

enum { DOM_INHERIT, DOM_NEW, DOM_ID, DOM_ID2, DOM_DENY, NDOM };

struct cgdef {
	const char *name;
	int parent;		/* index, -1: the top */
	int family;
	int domain;		/* intended ksm.domain */
	bool leaf;
};

static const struct cgdef cgs[] = {
	{ "a", -1, FAM_A, DOM_NEW, false },
	{ "a/x", 0, FAM_A, DOM_INHERIT, true },
	{ "a/y", 0, FAM_A, DOM_INHERIT, true },
	{ "a/n", 0, FAM_N, DOM_ID, true },
	{ "b", -1, FAM_B, DOM_NEW, false },
	{ "b/x", 4, FAM_B, DOM_INHERIT, true },
	{ "b/y", 4, FAM_B, DOM_INHERIT, true },
	{ "b/n", 4, FAM_N, DOM_ID, true },
	{ "g", -1, FAM_G, DOM_INHERIT, true },
	{ "d", -1, FAM_D, DOM_DENY, true },
};
#define NCG ((int)(sizeof(cgs) / sizeof(cgs[0])))
#define CG_D 9
static const int leaves[] = { 1, 2, 3, 5, 6, 7, 8, 9 };
#define NLEAF ((int)(sizeof(leaves) / sizeof(leaves[0])))

/* A domain label: the effective id, or one of these. */
#define LABEL_DENY UINT64_MAX
#define LABEL_NONE (UINT64_MAX - 1)

enum { PHASE_STRESS, PHASE_SETTLE, PHASE_STOP };

enum {
	OP_DOMAIN_WRITE, OP_DOMAIN_WRITE_ERR, OP_ENABLE_WRITE, OP_ENABLE_WRITE_ERR,
	OP_FORK, OP_FORK_LONG, OP_EXEC, OP_VFORK, OP_CLONE3, OP_CLONE3_EXEC,
	OP_CLONE3_VFORK, OP_CLONE3_ERR, OP_LEADERLESS, OP_KILL, OP_MIGRATE,
	OP_MIGRATE_ERR, OP_PROBE_OK, OP_PROBE_FAIL, OP_NR
};
static const char *const op_names[OP_NR] = {
	"ksm.domain writes", "ksm.domain write errors", "ksm.enable writes",
	"ksm.enable write errors", "fork (+exit)", "fork, stays (no exec)",
	"fork+exec", "vfork+exec", "clone3 into cgroup (no exec)",
	"clone3 into cgroup + exec", "clone3 vfork|vm into cgroup + exec",
	"clone3 errors", "leader-exited processes", "long-lived ones killed",
	"migrations", "migration errors (gone)", "deny probes: EPERM as expected",
	"deny probes: FAILED",
};

/*
 * Event records: full_scans after the event in the upper 56 bits, the number
 * of events in progress in the low 8 (busy while not 0).
 */
struct shared {
	volatile int phase;
	volatile int writers_done;
	volatile int migrators_done;
	volatile pid_t spawners[NSPAWNER];
	volatile pid_t leaderless[MAX_LEADERLESS];
	uint64_t cg_event[NCG];
	unsigned long ops[OP_NR];
	volatile int probe_fail_bits;
};

static struct shared *sh;
static uint64_t *pid_event;	/* shared, indexed by pid */
static uint64_t *seen_start;	/* the checker's: start time of the pid it saw */
static uint64_t *seen_scan;	/* ... and full_scans when it first saw it */
static long pid_max;
static char top[256];
static char self_exe[4096];
static char dom_id[24], dom_id2[24];
static bool verbose, negative;
static pid_t main_pid;
static int kpageflags_fd = -1;
static volatile sig_atomic_t stop_requested;
static int fill_family = NFAM;

static void cleanup(void);

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);		/* the main process cleans up in its atexit handler */
}

static void op(int which)
{
	__atomic_add_fetch(&sh->ops[which], 1, __ATOMIC_RELAXED);
}

static unsigned int rnd(unsigned int n)
{
	static __thread unsigned int seed;

	if (!seed)
		seed = (unsigned int)getpid() * 2654435761u ^ (unsigned int)time(NULL);
	return n ? (unsigned int)rand_r(&seed) % n : 0;
}

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR && !stop_requested)
		;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Write @val to @path; 0 or -errno. */
static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Read up to @size - 1 bytes of @path into @buf; length or -errno. */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0, len = 0;

	if (fd < 0) {
		buf[0] = '\0';
		return -errno;
	}
	while (len < (ssize_t)size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	if (n < 0 && len == 0)
		len = -errno;
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	return len;
}

static void cg_path(char *buf, size_t size, int cg, const char *file)
{
	snprintf(buf, size, "%s%s%s/%s", top, cg >= 0 ? "/" : "", cg >= 0 ? cgs[cg].name : "", file);
}

static uint64_t full_scans(void)
{
	char buf[32];

	if (read_file(KSM_SYSFS "full_scans", buf, sizeof(buf)) <= 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

/* ---- event records ------------------------------------------------------ */

static void ev_begin(uint64_t *ev)
{
	__atomic_add_fetch(ev, 1, __ATOMIC_SEQ_CST);
}

static void ev_end(uint64_t *ev)
{
	uint64_t s = full_scans(), old = __atomic_load_n(ev, __ATOMIC_SEQ_CST), new;

	do {
		uint64_t scan = old >> 8;

		if (s > scan)
			scan = s;
		new = scan << 8 | ((old & 0xff) - 1);
	} while (!__atomic_compare_exchange_n(ev, &old, new, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
}

/* Merge record @ev into *@scan (the latest event); false if it is busy. */
static bool ev_fold(uint64_t ev, uint64_t *scan)
{
	if (ev & 0xff)
		return false;
	if ((ev >> 8) > *scan)
		*scan = ev >> 8;
	return true;
}

/* ---- cgroups and labels --------------------------------------------------- */

static const char *dom_value(int dom)
{
	switch (dom) {
	case DOM_NEW: return "new";
	case DOM_ID: return dom_id;
	case DOM_ID2: return dom_id2;
	case DOM_DENY: return "deny";
	default: return "inherit";
	}
}

static int write_domain(int cg, int dom)
{
	char path[512];
	int err;

	cg_path(path, sizeof(path), cg, "ksm.domain");
	ev_begin(&sh->cg_event[cg]);
	err = write_file(path, dom_value(dom));
	ev_end(&sh->cg_event[cg]);
	op(err ? OP_DOMAIN_WRITE_ERR : OP_DOMAIN_WRITE);
	if (err && verbose)
		fprintf(stderr, PROG ": write %s to %s: %s\n", dom_value(dom), path, strerror(-err));
	return err;
}

/* ksm.enable of @cg (-1: the top) */
static int write_enable(int cg, int val)
{
	char path[512];
	int err;

	cg_path(path, sizeof(path), cg, "ksm.enable");
	err = write_file(path, val ? "1" : "0");
	op(err ? OP_ENABLE_WRITE_ERR : OP_ENABLE_WRITE);
	return err;
}

/* The domain of @cg's processes: its ksm.domain.effective, or with -n the
 * label of its intended family. */
static uint64_t read_label(int cg)
{
	char path[512], buf[32];

	if (negative)
		return cgs[cg].family == FAM_D ? LABEL_DENY : (uint64_t)cgs[cg].family;
	cg_path(path, sizeof(path), cg, "ksm.domain.effective");
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return LABEL_NONE;
	if (!strncmp(buf, "deny", 4))
		return LABEL_DENY;
	return strtoull(buf, NULL, 10);
}

static const char *label_str(uint64_t label, char *buf, size_t size)
{
	if (label == LABEL_DENY)
		snprintf(buf, size, "deny");
	else if (label == LABEL_NONE)
		snprintf(buf, size, "?");
	else if (negative)
		snprintf(buf, size, "intended %s", fam_names[label]);
	else
		snprintf(buf, size, "%" PRIu64, label);
	return buf;
}

/* The cgroup of the layout @task ("/proc/PID[/task/TID]") is in, or -1. */
static int task_cg(const char *task)
{
	char path[400], buf[512], *p;
	size_t tlen = strlen(top) - strlen(CG_ROOT);
	int i;

	if (strlen(top) <= strlen(CG_ROOT))
		return -1;
	snprintf(path, sizeof(path), "%s/cgroup", task);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "0::");
	if (!p || strncmp(p + 3, top + strlen(CG_ROOT), tlen) || p[3 + tlen] != '/')
		return -1;
	p += 3 + tlen + 1;
	p[strcspn(p, "\n")] = '\0';
	for (i = 0; i < NCG; i++)
		if (!strcmp(p, cgs[i].name))
			return i;
	return -1;
}

/* ---- the pages ------------------------------------------------------------ */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Page @i: the same in every process if common, else per family. */
static void fill_page(int i)
{
	uint64_t *p = (uint64_t *)(FILL_ADDR + i * PAGE);
	uint64_t seed = i < NCOMMON ? 0xc0ffee0000ULL + i : 0xfa00000000ULL + (uint64_t)fill_family * 256 + i;
	size_t j;

	for (j = 0; j < PAGE / 8; j++)
		p[j] = mix(seed << 12 | j);
}

/* Map and fill the pages at FILL_ADDR (a forked child has them already). */
static void fill(void)
{
	void *p = mmap((void *)FILL_ADDR, NFILL * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	int i, cg;

	if (p == MAP_FAILED && errno == EEXIST)
		return;
	if (p != (void *)FILL_ADDR)
		_exit(3);
	cg = task_cg("/proc/self");
	fill_family = cg >= 0 ? cgs[cg].family : NFAM;
	for (i = 0; i < NFILL; i++)
		fill_page(i);
}

/* A long-lived process: rewrite one page now and then (the same bytes: a
 * write breaks the KSM page's sharing, ksmd merges the copy again). */
static __attribute__((noreturn)) void churn_forever(void)
{
	for (;;) {
		msleep(200 + rnd(800));
		fill_page(rnd(NFILL));
	}
}

/* ---- roles of exec'd children (argv[1]) ----------------------------------- */

static void *pause_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int role_leaderless(void)
{
	pthread_attr_t attr;
	pthread_t t;
	int i;

	fill();
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (i = 0; i < 2; i++)
		if (pthread_create(&t, &attr, pause_thread, NULL))
			_exit(1);
	pthread_exit(NULL);
}

/* In d (deny): self-opt-in must be refused with EPERM. */
static int role_deny_probe(const char *ms)
{
	int bad = 0;

	fill();
	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) == 0 || errno != EPERM)
		bad |= PROBE_PRCTL;
	if (madvise((void *)FILL_ADDR, NFILL * PAGE, MADV_MERGEABLE) == 0 || errno != EPERM)
		bad |= PROBE_MADVISE;
	msleep((unsigned int)atoi(ms));
	return PROBE_OK + bad;
}

/* An exec'd child: find the top of the layout from its own cgroup. */
static void top_from_self(void)
{
	char buf[512], *p, *end;

	if (read_file("/proc/self/cgroup", buf, sizeof(buf)) <= 0)
		return;
	p = strstr(buf, "0::");
	if (!p || !(p = strstr(p, "/" PROG "-")))
		return;
	end = p + 1 + strcspn(p + 1, "/\n");
	snprintf(top, sizeof(top), CG_ROOT "%.*s", (int)(end - p), p);
}

static int run_role(int argc, char **argv)
{
	top_from_self();
	if (!strcmp(argv[1], "--child") && argc > 2) {
		fill();
		msleep((unsigned int)atoi(argv[2]));
		return 0;
	}
	if (!strcmp(argv[1], "--long")) {
		fill();
		churn_forever();
	}
	if (!strcmp(argv[1], "--settle")) {
		fill();
		for (;;)
			pause();
	}
	if (!strcmp(argv[1], "--leaderless"))
		return role_leaderless();
	if (!strcmp(argv[1], "--deny-probe") && argc > 2)
		return role_deny_probe(argv[2]);
	fprintf(stderr, PROG ": unknown role %s\n", argv[1]);
	return 2;
}

/* ---- clone3 --------------------------------------------------------------- */

static long clone3_plain(struct clone_args *args)
{
	return syscall(SYS_clone3, args, sizeof(*args));
}

/*
 * clone3 with CLONE_VM: the child runs @fn(@arg) on the stack given in @args
 * and must not return (it execs or _exits): it cannot return through the C
 * frames of its parent, whose memory it shares.
 */
static long clone3_vm(struct clone_args *args, void (*fn)(void *), void *arg)
{
	register long rax __asm__("rax") = SYS_clone3;
	register void *rdi __asm__("rdi") = args;
	register size_t rsi __asm__("rsi") = sizeof(*args);
	register void (*r12)(void *) __asm__("r12") = fn;
	register void *r13 __asm__("r13") = arg;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "mov %%r13, %%rdi\n\t"
			 "and $-16, %%rsp\n\t"
			 "call *%%r12\n\t"
			 "ud2\n"
			 "1:\n\t"
			 : "+r"(rax)
			 : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
			 : "rcx", "r11", "memory");
	return rax;
}

static void exec_child(void *arg)
{
	execv(self_exe, (char *const *)arg);
	_exit(127);
}

/* ---- spawners ------------------------------------------------------------- */

struct spawner {
	bool vfork_kind;
	int cg_fd[NCG];
	pid_t longs[MAX_LONG];
	char stack[64 * 1024] __attribute__((aligned(16)));
};

static int random_leaf(bool with_d)
{
	int cg;

	do
		cg = leaves[rnd(NLEAF)];
	while (!with_d && cg == CG_D);
	return cg;
}

enum { HOW_FORK_EXEC, HOW_VFORK_EXEC, HOW_CLONE3_EXEC, HOW_CLONE3_VFORK_EXEC };
static const char *const how_names[] = {
	"fork+exec", "vfork+exec", "clone3-into-cgroup+exec", "clone3-vfork-vm-into-cgroup+exec",
};

/* Create a process running @role (argv[1]) with @arg, by @how, into @cg
 * for the clone3 shapes; its pid or -1. */
static pid_t spawn_exec(struct spawner *sp, int how, int cg, const char *role, const char *arg)
{
	struct clone_args ca = { .exit_signal = SIGCHLD };
	char *argv[] = { PROG, (char *)role, (char *)(arg ? arg : how_names[how]), (char *)how_names[how], NULL };
	pid_t pid;

	switch (how) {
	case HOW_FORK_EXEC:
		pid = fork();
		if (pid == 0)
			exec_child(argv);
		op(OP_EXEC);
		return pid;
	case HOW_VFORK_EXEC:
		pid = vfork();
		if (pid == 0) {
			execv(self_exe, argv);
			_exit(127);
		}
		op(OP_VFORK);
		return pid;
	case HOW_CLONE3_EXEC:
		ca.flags = CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)sp->cg_fd[cg];
		pid = clone3_plain(&ca);
		if (pid == 0)
			exec_child(argv);
		op(pid < 0 ? OP_CLONE3_ERR : OP_CLONE3_EXEC);
		return pid;
	default:
		ca.flags = CLONE_VFORK | CLONE_VM | CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)sp->cg_fd[cg];
		ca.stack = (uint64_t)(uintptr_t)sp->stack;
		ca.stack_size = sizeof(sp->stack);
		pid = clone3_vm(&ca, exec_child, argv);
		op(pid < 0 ? OP_CLONE3_ERR : OP_CLONE3_VFORK);
		return pid;
	}
}

/* Put @pid into a free or random long-lived slot; the old one is killed. */
static void keep_long(struct spawner *sp, pid_t pid)
{
	int i = rnd(MAX_LONG);

	if (pid <= 0)
		return;
	if (sp->longs[i] > 0) {
		kill(sp->longs[i], SIGKILL);
		op(OP_KILL);
	}
	sp->longs[i] = pid;
}

static void keep_leaderless(pid_t pid)
{
	int i = rnd(MAX_LEADERLESS);
	pid_t old = sh->leaderless[i];

	if (pid <= 0)
		return;
	/* Another spawner's child, maybe: it clears the slot when it reaps. */
	if (old > 0 && __atomic_compare_exchange_n(&sh->leaderless[i], &old, 0, false, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST))
		kill(old, SIGKILL);
	__atomic_store_n(&sh->leaderless[i], pid, __ATOMIC_SEQ_CST);
	op(OP_LEADERLESS);
}

/* A plain fork (no exec): the child has this spawner's pages, KSM ones too. */
static void spawn_fork(bool stay, int into_cg, struct spawner *sp)
{
	struct clone_args ca = { .exit_signal = SIGCHLD };
	pid_t pid;

	if (into_cg >= 0) {
		ca.flags = CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)sp->cg_fd[into_cg];
		pid = clone3_plain(&ca);
	} else {
		pid = fork();
	}
	if (pid == 0) {
		prctl(PR_SET_NAME, stay ? "kds-fork-stay" : "kds-fork", 0, 0, 0);
		if (stay)
			churn_forever();
		msleep(rnd(300));
		_exit(0);
	}
	if (pid < 0) {
		op(OP_CLONE3_ERR);
		return;
	}
	op(into_cg >= 0 ? OP_CLONE3 : stay ? OP_FORK_LONG : OP_FORK);
	if (stay)
		keep_long(sp, pid);
}

static void reap(struct spawner *sp)
{
	pid_t pid;
	int st, i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (WIFEXITED(st) && WEXITSTATUS(st) >= PROBE_OK && WEXITSTATUS(st) <= PROBE_OK + 3) {
			int bad = WEXITSTATUS(st) - PROBE_OK;

			op(bad ? OP_PROBE_FAIL : OP_PROBE_OK);
			__atomic_or_fetch(&sh->probe_fail_bits, bad, __ATOMIC_SEQ_CST);
		}
		for (i = 0; i < MAX_LONG; i++)
			if (sp->longs[i] == pid)
				sp->longs[i] = 0;
		for (i = 0; i < MAX_LEADERLESS; i++) {
			pid_t old = pid;

			__atomic_compare_exchange_n(&sh->leaderless[i], &old, 0, false, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST);
		}
	}
}

static void fork_spawner_step(struct spawner *sp)
{
	unsigned int r = rnd(100);
	char ms[16];

	snprintf(ms, sizeof(ms), "%u", rnd(400));
	if (r < 15)
		spawn_fork(false, -1, sp);
	else if (r < 27)
		spawn_fork(true, -1, sp);
	else if (r < 40)
		spawn_exec(sp, HOW_FORK_EXEC, -1, "--child", ms);
	else if (r < 50)
		spawn_fork(rnd(2), random_leaf(true), sp);
	else if (r < 64)
		keep_long(sp, spawn_exec(sp, HOW_CLONE3_EXEC, random_leaf(true), "--long", NULL));
	else if (r < 74)
		spawn_exec(sp, HOW_CLONE3_EXEC, random_leaf(true), "--child", ms);
	else if (r < 82)
		keep_leaderless(spawn_exec(sp, rnd(2) ? HOW_FORK_EXEC : HOW_CLONE3_EXEC, random_leaf(true),
					   "--leaderless", NULL));
	else if (r < 90)
		spawn_exec(sp, HOW_CLONE3_EXEC, CG_D, "--deny-probe", ms);
	else if (r < 95)
		keep_long(sp, spawn_exec(sp, HOW_FORK_EXEC, -1, "--long", NULL));
	else {
		int i = rnd(MAX_LONG);

		if (sp->longs[i] > 0) {
			kill(sp->longs[i], SIGKILL);
			op(OP_KILL);
		}
	}
}

static void vfork_spawner_step(struct spawner *sp)
{
	unsigned int r = rnd(100);
	char ms[16];

	snprintf(ms, sizeof(ms), "%u", rnd(400));
	if (r < 25)
		spawn_exec(sp, HOW_VFORK_EXEC, -1, "--child", ms);
	else if (r < 50)
		spawn_exec(sp, HOW_CLONE3_VFORK_EXEC, random_leaf(true), "--child", ms);
	else if (r < 70)
		keep_long(sp, spawn_exec(sp, HOW_CLONE3_VFORK_EXEC, random_leaf(true), "--long", NULL));
	else if (r < 80)
		keep_long(sp, spawn_exec(sp, HOW_VFORK_EXEC, -1, "--long", NULL));
	else if (r < 90)
		spawn_exec(sp, HOW_CLONE3_VFORK_EXEC, CG_D, "--deny-probe", ms);
	else
		keep_leaderless(spawn_exec(sp, HOW_CLONE3_VFORK_EXEC, random_leaf(true), "--leaderless", NULL));
}

static __attribute__((noreturn)) int spawner_main(int idx)
{
	static struct spawner sp;
	static const int start_cg[NSPAWNER] = { 1, 6, 3, 8, 5, 7 };	/* a/x b/y a/n g b/x b/n */
	char path[512];
	int i;

	sp.vfork_kind = idx >= NFSPAWNER;
	prctl(PR_SET_NAME, sp.vfork_kind ? "kds-vspawner" : "kds-fspawner", 0, 0, 0);
	for (i = 0; i < NCG; i++) {
		sp.cg_fd[i] = -1;
		if (!cgs[i].leaf)
			continue;
		cg_path(path, sizeof(path), i, "");
		sp.cg_fd[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sp.cg_fd[i] < 0)
			die("open %s: %s", path, strerror(errno));
	}
	sh->spawners[idx] = getpid();
	cg_path(path, sizeof(path), start_cg[idx], "cgroup.procs");
	if (write_file(path, "0"))
		die("spawner: cannot join %s", path);
	if (!sp.vfork_kind)
		fill();
	while (sh->phase != PHASE_STOP) {
		if (sh->phase == PHASE_STRESS) {
			if (sp.vfork_kind)
				vfork_spawner_step(&sp);
			else
				fork_spawner_step(&sp);
		}
		reap(&sp);
		msleep(rnd(20));
	}
	for (;;)
		pause();
}

/* ---- writers, migrators --------------------------------------------------- */

static int writer_main(int idx)
{
	(void)idx;
	prctl(PR_SET_NAME, "kds-writer", 0, 0, 0);
	while (sh->phase == PHASE_STRESS) {
		if (!negative && rnd(2)) {
			int cg;

			do
				cg = rnd(NCG);
			while (cg == CG_D);
			write_domain(cg, rnd(NDOM));
		} else {
			/* mostly 1, so that there is something to merge */
			write_enable((int)rnd(NCG + 1) - 1, rnd(4) != 0);
		}
		msleep(rnd(400));
	}
	__atomic_add_fetch(&sh->writers_done, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static bool is_spawner(pid_t pid)
{
	int i;

	for (i = 0; i < NSPAWNER; i++)
		if (sh->spawners[i] == pid)
			return true;
	return false;
}

/* A random pid of @cg's cgroup.procs, or 0. */
static pid_t random_pid(int cg)
{
	char path[512], buf[8192], *p, *save;
	pid_t pids[256];
	int n = 0;

	cg_path(path, sizeof(path), cg, "cgroup.procs");
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	for (p = strtok_r(buf, "\n", &save); p && n < 256; p = strtok_r(NULL, "\n", &save))
		pids[n++] = atoi(p);
	return n ? pids[rnd(n)] : 0;
}

static int migrator_main(int idx)
{
	char path[512], val[32];

	(void)idx;
	prctl(PR_SET_NAME, "kds-migrator", 0, 0, 0);
	while (sh->phase == PHASE_STRESS) {
		pid_t pid = rnd(3) == 0 ? sh->leaderless[rnd(MAX_LEADERLESS)] : random_pid(random_leaf(false));
		int dst, err;

		if (pid <= 0 || pid > pid_max) {
			msleep(rnd(20));
			continue;
		}
		/* deny probes stay in d; spawners stay out of it */
		dst = random_leaf(!is_spawner(pid));
		cg_path(path, sizeof(path), dst, "cgroup.procs");
		snprintf(val, sizeof(val), "%d", pid);
		ev_begin(&pid_event[pid]);
		err = write_file(path, val);
		ev_end(&pid_event[pid]);
		if (!err)
			op(OP_MIGRATE);
		else if (err == -ESRCH || err == -ENOENT)
			op(OP_MIGRATE_ERR);
		else if (verbose)
			fprintf(stderr, PROG ": migrate %d -> %s: %s\n", pid, path, strerror(-err));
		msleep(rnd(60));
	}
	__atomic_add_fetch(&sh->migrators_done, 1, __ATOMIC_SEQ_CST);
	return 0;
}

/* ---- ksmd knobs ----------------------------------------------------------- */

static const char *const knobs[] = { "run", "sleep_millisecs", "pages_to_scan" };
static const char *const fast[] = { "1", "0", "10000" };
#define NKNOBS (sizeof(knobs) / sizeof(knobs[0]))
static char saved[NKNOBS][32];
static bool knobs_saved;

static void knobs_save_and_speed_up(void)
{
	char path[256];
	size_t i;

	for (i = 0; i < NKNOBS; i++) {
		snprintf(path, sizeof(path), KSM_SYSFS "%s", knobs[i]);
		if (read_file(path, saved[i], sizeof(saved[i])) <= 0)
			die("read %s: %s", path, strerror(errno));
		saved[i][strcspn(saved[i], "\n")] = '\0';
	}
	knobs_saved = true;
	for (i = 0; i < NKNOBS; i++) {
		snprintf(path, sizeof(path), KSM_SYSFS "%s", knobs[i]);
		if (write_file(path, fast[i]))
			die("write %s to %s failed", fast[i], path);
	}
}

static void knobs_restore(void)
{
	char path[256];
	size_t i;

	if (!knobs_saved)
		return;
	/* run last: the others take effect on the next scan */
	for (i = NKNOBS; i-- > 0;) {
		snprintf(path, sizeof(path), KSM_SYSFS "%s", knobs[i]);
		if (write_file(path, saved[i]))
			fprintf(stderr, PROG ": cannot restore %s=%s\n", path, saved[i]);
	}
	knobs_saved = false;
}

/* ---- setup and cleanup ---------------------------------------------------- */

static bool cgroups_made;
static pid_t workers[NWRITER + NSPAWNER + NMIGRATOR];
static int nworkers;

static void write_layout(void)
{
	int i;

	for (i = 0; i < NCG; i++)
		if (!negative && write_domain(i, cgs[i].domain))
			die("write %s to %s/ksm.domain failed", dom_value(cgs[i].domain), cgs[i].name);
	if (write_enable(-1, 1))
		die("write 1 to %s/ksm.enable failed", top);
	for (i = 0; i < NCG; i++)
		if (write_enable(i, 1))
			die("write 1 to %s/ksm.enable failed", cgs[i].name);
}

/* 0, or 77 when the kernel has no ksm controller or no ksm.domain */
static int setup_cgroups(void)
{
	char path[512], buf[512];
	int i;

	if (read_file(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) < 0 || !strstr(buf, "ksm"))
		return 77;
	if (read_file(CG_ROOT "/cgroup.subtree_control", buf, sizeof(buf)) < 0 || !strstr(buf, "ksm"))
		die("the ksm controller is not enabled in %s/cgroup.subtree_control", CG_ROOT);
	if (mkdir(top, 0755))
		die("mkdir %s: %s", top, strerror(errno));
	cgroups_made = true;
	cg_path(path, sizeof(path), -1, "cgroup.subtree_control");
	if (write_file(path, "+ksm"))
		die("+ksm in %s failed", path);
	for (i = 0; i < NCG; i++) {
		cg_path(path, sizeof(path), i, "");
		if (mkdir(path, 0755))
			die("mkdir %s: %s", path, strerror(errno));
		if (!cgs[i].leaf) {
			cg_path(path, sizeof(path), i, "cgroup.subtree_control");
			if (write_file(path, "+ksm"))
				die("+ksm in %s failed", path);
		}
	}
	cg_path(path, sizeof(path), 0, "ksm.domain");
	if (access(path, F_OK))
		return 77;
	return 0;
}

static void cleanup(void)
{
	static const int order[] = { 1, 2, 3, 5, 6, 7, 8, 9, 0, 4 };
	char path[512], kill_path[512];
	int i, tries;

	if (getpid() != main_pid)
		return;
	if (sh)
		sh->phase = PHASE_STOP;
	for (i = 0; i < nworkers; i++)
		kill(workers[i], SIGKILL);
	nworkers = 0;
	if (cgroups_made) {
		cg_path(kill_path, sizeof(kill_path), -1, "cgroup.kill");
		write_file(kill_path, "1");
	}
	while (waitpid(-1, NULL, 0) > 0)
		;
	if (cgroups_made) {
		for (i = 0; i <= (int)(sizeof(order) / sizeof(order[0])); i++) {
			if (i < (int)(sizeof(order) / sizeof(order[0])))
				cg_path(path, sizeof(path), order[i], "");
			else
				snprintf(path, sizeof(path), "%s", top);
			for (tries = 0; tries < 100 && rmdir(path) && errno == EBUSY; tries++) {
				write_file(kill_path, "1");
				while (waitpid(-1, NULL, WNOHANG) > 0)
					;
				msleep(100);
			}
			if (access(path, F_OK) == 0)
				fprintf(stderr, PROG ": cannot remove %s\n", path);
		}
		cgroups_made = false;
	}
	knobs_restore();
}

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static pid_t start(int (*fn)(int), int arg)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getppid() != main_pid)
			_exit(0);
		_exit(fn(arg));
	}
	workers[nworkers++] = pid;
	return pid;
}

/* ---- the checker ---------------------------------------------------------- */

struct obs {
	pid_t pid;
	int state;		/* OBS_MOVED, OBS_UNSTABLE, OBS_STABLE */
	int cg;
	uint64_t label;
	char task[64];		/* /proc/PID/task/TID of a thread with the mm */
	uint64_t pfn[NFILL];	/* 0: not present */
	uint32_t ksm;		/* bit i: page i is a KSM page */
};

struct totals {
	unsigned long samples, proc_samples, stable, unstable, moved;
	unsigned long frames, ksm_frames, distinct_ksm, shared;
	unsigned long cross, deny_ksm, deny_merging, unconfirmed;
	unsigned long reports;
};

/* What one sample found that the final check needs. */
struct sample_result {
	unsigned long shared_by_fam[NFAM];	/* KSM frames shared by 2+ processes of the family's domain */
	unsigned long ksm_frames;
};

static struct obs obs[MAX_OBS];
static int nobs;
static struct totals tot;
static uint64_t exp_label[NFAM];	/* the settled layout's domain per family */
static bool exp_known;

static uint64_t start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* field 22, starttime; p is at the end of field 2 */
	for (i = 2; i < 22 && p; i++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* full_scans when the checker first saw this incarnation of @pid (a fork
 * maps its parent's KSM pages until ksmd passes the child). */
static uint64_t first_seen(pid_t pid, uint64_t starttime)
{
	if (seen_start[pid] != starttime || !seen_scan[pid]) {
		seen_start[pid] = starttime;
		seen_scan[pid] = full_scans() + 1;	/* +1: 0 means unseen */
	}
	return seen_scan[pid] - 1;
}

/* Has nothing changed @pid's domain in @cg since full scan @s - STABLE_SCANS? */
static bool stable_at(pid_t pid, int cg, uint64_t s)
{
	uint64_t last = 0;

	if (!ev_fold(__atomic_load_n(&pid_event[pid], __ATOMIC_SEQ_CST), &last) ||
	    !ev_fold(__atomic_load_n(&sh->cg_event[cg], __ATOMIC_SEQ_CST), &last) ||
	    (cgs[cg].parent >= 0 &&
	     !ev_fold(__atomic_load_n(&sh->cg_event[cgs[cg].parent], __ATOMIC_SEQ_CST), &last)))
		return false;
	if (seen_scan[pid] && seen_scan[pid] - 1 > last)
		last = seen_scan[pid] - 1;
	return s >= last + STABLE_SCANS;
}

static bool page_is_ksm(uint64_t pfn)
{
	uint64_t flags;

	if (pread(kpageflags_fd, &flags, sizeof(flags), (off_t)(pfn * 8)) != sizeof(flags))
		return false;
	return flags >> KPF_KSM & 1;
}

/*
 * Whether kpageflags tells KSM pages apart: a page of our own, written and
 * mapped only here, must not read as KSM.  6.12 without kernel/patches/0011
 * sets KPF_KSM on every anonymous page, which would make every page that a
 * fork shares look like a KSM page of two domains.
 */
static void kpageflags_ksm_check(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	volatile char *p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t pm = 0;
	int fd;

	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	p[0] = 1;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, &pm, sizeof(pm), (off_t)((uintptr_t)p / ps * 8)) != sizeof(pm) ||
	    !(pm & PM_PRESENT) || !(pm & PM_PFN_MASK))
		die("cannot read this process's own pagemap frame");
	close(fd);
	if (page_is_ksm(pm & PM_PFN_MASK))
		die("/proc/kpageflags says KSM for a plain anonymous page: this kernel lacks "
		    "kernel/patches/0011 (fs/proc/page: report KPF_KSM only for KSM pages), KSM pages cannot be told apart");
	munmap((void *)p, ps);
}

/* Entries of @task's pagemap for pages @first..@first+@n-1 of the fill
 * region; the number read (0: no mm). */
static int read_pagemap(const char *task, int first, int n, uint64_t *pm)
{
	char path[96];
	int fd;
	ssize_t r;

	snprintf(path, sizeof(path), "%s/pagemap", task);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = pread(fd, pm, n * 8, (off_t)((FILL_ADDR / PAGE + first) * 8));
	close(fd);
	return r > 0 ? (int)(r / 8) : 0;
}

static long merging_pages(const char *task)
{
	char path[96], buf[32];

	snprintf(path, sizeof(path), "%s/ksm_merging_pages", task);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return atol(buf);
}

enum { OBS_NOT_OURS, OBS_NO_PAGES, OBS_MOVED, OBS_UNSTABLE, OBS_STABLE };

/*
 * Observe @pid: leaf and domain, frames, leaf and domain again.  A stable
 * observation fills @o.
 */
static int observe(pid_t pid, uint64_t s0, struct obs *o)
{
	char dir[64];
	struct dirent *de;
	uint64_t pm[NFILL];
	int cg1 = -1, cg2, n = 0, i;
	uint64_t label1 = LABEL_NONE, label2;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/task", pid);
	d = opendir(dir);
	if (!d)
		return OBS_NOT_OURS;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(o->task, sizeof(o->task), "/proc/%d/task/%.16s", pid, de->d_name);
		cg1 = task_cg(o->task);
		if (cg1 < 0)
			break;
		label1 = read_label(cg1);
		n = read_pagemap(o->task, 0, NFILL, pm);
		if (n > 0)
			break;	/* else: a thread without mm (an exited leader) */
	}
	closedir(d);
	if (cg1 < 0)
		return OBS_NOT_OURS;
	first_seen(pid, start_time(pid));
	o->pid = pid;
	o->ksm = 0;
	for (i = 0; i < NFILL; i++) {
		o->pfn[i] = 0;
		if (i < n && (pm[i] & PM_PRESENT) && (pm[i] & PM_PFN_MASK)) {
			o->pfn[i] = pm[i] & PM_PFN_MASK;
			if (page_is_ksm(o->pfn[i]))
				o->ksm |= 1u << i;
		}
	}
	if (n <= 0 || !(pm[0] & PM_PRESENT))
		return OBS_NO_PAGES;
	cg2 = task_cg(o->task);
	label2 = read_label(cg2 >= 0 ? cg2 : cg1);
	o->cg = cg1;
	o->label = label1;
	if (cg1 != cg2 || label1 != label2 || label1 == LABEL_NONE)
		return OBS_MOVED;
	if (!stable_at(pid, cg1, s0))
		return OBS_UNSTABLE;
	return OBS_STABLE;
}

/* argv[1] and argv[3] of @task (role and how it was made), or its comm. */
static void describe(const struct obs *o, char *buf, size_t size)
{
	char path[96], cmd[256], comm[32];
	ssize_t n;
	size_t a1, a2, a3;

	snprintf(path, sizeof(path), "%s/comm", o->task);
	read_file(path, comm, sizeof(comm));
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(path, sizeof(path), "%s/cmdline", o->task);
	n = read_file(path, cmd, sizeof(cmd));
	a1 = strlen(cmd) + 1;
	if (n > 0 && (ssize_t)a1 < n && !strncmp(cmd + a1, "--", 2)) {
		a2 = a1 + strlen(cmd + a1) + 1;
		a3 = (ssize_t)a2 < n ? a2 + strlen(cmd + a2) + 1 : a2;
		snprintf(buf, size, "%.40s %.40s", cmd + a1, (ssize_t)a3 < n ? cmd + a3 : "");
	} else {
		snprintf(buf, size, "%s", comm);
	}
}

/* Does @o's process still map @pfn (a KSM page) at page @page, in the same
 * leaf and domain, stable? */
static bool still_maps(const struct obs *o, int page, uint64_t pfn)
{
	uint64_t s = full_scans(), pm;
	int cg = task_cg(o->task);

	if (cg != o->cg || read_label(cg) != o->label)
		return false;
	if (read_pagemap(o->task, page, 1, &pm) != 1 || !(pm & PM_PRESENT) || (pm & PM_PFN_MASK) != pfn ||
	    !page_is_ksm(pfn))
		return false;
	return task_cg(o->task) == o->cg && read_label(cg) == o->label && stable_at(o->pid, cg, s);
}

/* The VmFlags of the fill region's VMA in @task's smaps. */
static void fill_vmflags(const char *task, char *buf, size_t size)
{
	char path[96], line[512];
	bool in = false;
	FILE *f;

	snprintf(buf, size, "?");
	snprintf(path, sizeof(path), "%s/smaps", task);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strtoul(line, NULL, 16) == FILL_ADDR)
			in = true;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, size, "%.100s", line + 9);
			break;
		}
	}
	fclose(f);
}

/* More about a reported frame: who else maps it in this sample. */
static void report_mappers(uint64_t pfn, const struct obs *p)
{
	static const char *const states[] = { "", "", "moved", "not stable", "stable" };
	char l[32], flags[128];
	int i, k;

	fill_vmflags(p->task, flags, sizeof(flags));
	printf(PROG ":     pid %d: ksm_merging_pages %ld, fill VMA flags: %s\n", p->pid, merging_pages(p->task), flags);
	for (i = 0; i < nobs; i++)
		for (k = 0; k < NFILL; k++)
			if (obs[i].pfn[k] == pfn && obs[i].pid != p->pid)
				printf(PROG ":     also mapped by pid %d in %s (domain %s, %s) page %d\n", obs[i].pid,
				       cgs[obs[i].cg].name, label_str(obs[i].label, l, sizeof(l)), states[obs[i].state], k);
}

static void report_pair(const char *what, uint64_t pfn, const struct obs *p, int pp, const struct obs *q, int qp)
{
	char l1[32], l2[32], d1[96], d2[96];

	if (tot.reports++ >= MAX_REPORTS)
		return;
	report_mappers(pfn, p);
	describe(p, d1, sizeof(d1));
	if (!q) {
		printf(PROG ": %s: pid %d (%s) in %s (domain %s), page %d, pfn 0x%" PRIx64 "\n", what, p->pid,
		       d1, cgs[p->cg].name, label_str(p->label, l1, sizeof(l1)), pp, pfn);
		return;
	}
	describe(q, d2, sizeof(d2));
	printf(PROG ": %s: pfn 0x%" PRIx64 " mapped by pid %d (%s) in %s (domain %s) page %d and by pid %d (%s) in %s (domain %s) page %d\n",
	       what, pfn, p->pid, d1, cgs[p->cg].name, label_str(p->label, l1, sizeof(l1)), pp, q->pid, d2,
	       cgs[q->cg].name, label_str(q->label, l2, sizeof(l2)), qp);
}

struct frame_ref {
	uint64_t pfn;
	int obs;
	int page;
};

static int cmp_frame(const void *a, const void *b)
{
	const struct frame_ref *x = a, *y = b;

	if (x->pfn != y->pfn)
		return x->pfn < y->pfn ? -1 : 1;
	return x->obs - y->obs;
}

static struct frame_ref refs[MAX_OBS * NFILL];

static int family_of_label(uint64_t label)
{
	int f;

	if (!exp_known)
		return -1;
	for (f = 0; f < NFAM; f++)
		if (exp_label[f] == label)
			return f;
	return -1;
}

/* Compare the KSM frames of the stable observations @n: every frame must
 * belong to one domain. */
static void compare_frames(int n, struct sample_result *res)
{
	int nref = 0, i, j, k;

	for (i = 0; i < n; i++)
		for (k = 0; k < NFILL; k++)
			if (obs[i].state == OBS_STABLE && (obs[i].ksm >> k & 1))
				refs[nref++] = (struct frame_ref){ obs[i].pfn[k], i, k };
	qsort(refs, nref, sizeof(refs[0]), cmp_frame);
	for (i = 0; i < nref; i = j) {
		const struct frame_ref *a = &refs[i];
		bool mixed = false, shared = false;

		tot.distinct_ksm++;
		for (j = i + 1; j < nref && refs[j].pfn == a->pfn; j++) {
			const struct frame_ref *b = &refs[j];

			if (obs[b->obs].label != obs[a->obs].label && !mixed) {
				mixed = true;
				if (still_maps(&obs[a->obs], a->page, a->pfn) &&
				    still_maps(&obs[b->obs], b->page, b->pfn) &&
				    still_maps(&obs[a->obs], a->page, a->pfn)) {
					tot.cross++;
					report_pair("CROSS-DOMAIN MERGE", a->pfn, &obs[a->obs], a->page, &obs[b->obs],
						    b->page);
				} else {
					tot.unconfirmed++;
				}
			} else if (obs[b->obs].pid != obs[a->obs].pid) {
				shared = true;
			}
		}
		if (shared && !mixed) {
			int f = family_of_label(obs[a->obs].label);

			tot.shared++;
			if (f >= 0)
				res->shared_by_fam[f]++;
		}
	}
}

/* A stable process under deny: no KSM page, no merging page. */
static void check_deny(const struct obs *o)
{
	long m;
	int k;

	for (k = 0; k < NFILL; k++)
		if ((o->ksm >> k & 1) && still_maps(o, k, o->pfn[k])) {
			tot.deny_ksm++;
			report_pair("KSM PAGE UNDER DENY", o->pfn[k], o, k, NULL, 0);
			return;
		}
	m = merging_pages(o->task);
	if (m > 0) {
		uint64_t s = full_scans();

		/* again, with leaf and domain unchanged around the read */
		if (task_cg(o->task) == o->cg && read_label(o->cg) == o->label &&
		    (m = merging_pages(o->task)) > 0 && task_cg(o->task) == o->cg &&
		    read_label(o->cg) == o->label && stable_at(o->pid, o->cg, s)) {
			char d[96];

			tot.deny_merging++;
			if (tot.reports++ < MAX_REPORTS) {
				describe(o, d, sizeof(d));
				printf(PROG ": MERGING UNDER DENY: pid %d (%s) in %s: ksm_merging_pages %ld\n", o->pid,
				       d, cgs[o->cg].name, m);
			}
		} else {
			tot.unconfirmed++;
		}
	}
}

static void sample(struct sample_result *res)
{
	uint64_t s0 = full_scans();
	struct dirent *de;
	int n = 0, i, k;
	DIR *d = opendir("/proc");

	if (!d)
		die("opendir /proc: %s", strerror(errno));
	memset(res, 0, sizeof(*res));
	tot.samples++;
	while ((de = readdir(d)) && n < MAX_OBS && !stop_requested) {
		pid_t pid = atoi(de->d_name);

		if (pid <= 0 || pid > pid_max)
			continue;
		obs[n].state = observe(pid, s0, &obs[n]);
		switch (obs[n].state) {
		case OBS_MOVED: tot.proc_samples++; tot.moved++; n++; break;
		case OBS_UNSTABLE: tot.proc_samples++; tot.unstable++; n++; break;
		case OBS_STABLE:
			tot.proc_samples++;
			tot.stable++;
			n++;
			break;
		default: break;
		}
	}
	closedir(d);
	nobs = n;
	for (i = 0; i < n; i++) {
		if (obs[i].state != OBS_STABLE)
			continue;
		for (k = 0; k < NFILL; k++) {
			tot.frames += obs[i].pfn[k] != 0;
			tot.ksm_frames += obs[i].ksm >> k & 1;
			res->ksm_frames += obs[i].ksm >> k & 1;
		}
		if (obs[i].label == LABEL_DENY)
			check_deny(&obs[i]);
	}
	compare_frames(n, res);
}

/* ---- phases --------------------------------------------------------------- */

/* The layout as intended, checked after the settle writes. */
static bool settled_layout_ok(void)
{
	uint64_t a = read_label(1), b = read_label(5);
	int i, bad = 0;
	char l[32], w[32];

	if (negative) {
		for (i = 0; i < NFAM; i++)
			exp_label[i] = i == FAM_D ? LABEL_DENY : (uint64_t)i;
		exp_known = true;
		return true;
	}
	exp_label[FAM_A] = a;
	exp_label[FAM_B] = b;
	exp_label[FAM_N] = strtoull(dom_id, NULL, 10);
	exp_label[FAM_G] = 0;
	exp_label[FAM_D] = LABEL_DENY;
	exp_known = true;
	if (a == LABEL_NONE || a == LABEL_DENY || !a || b == LABEL_NONE || b == LABEL_DENY || !b || a == b ||
	    a == exp_label[FAM_N] || b == exp_label[FAM_N] || a == strtoull(dom_id2, NULL, 10) ||
	    b == strtoull(dom_id2, NULL, 10)) {
		printf(PROG ": FAIL: domains of a (%s) and b (%s) after writing `new`: not two distinct new ids\n",
		       label_str(a, l, sizeof(l)), label_str(b, w, sizeof(w)));
		return false;
	}
	for (i = 0; i < NCG; i++) {
		uint64_t want = exp_label[cgs[i].family], got = read_label(i);

		if (got != want) {
			printf(PROG ": FAIL: %s: ksm.domain.effective %s after the settle writes, want %s\n",
			       cgs[i].name, label_str(got, l, sizeof(l)), label_str(want, w, sizeof(w)));
			bad++;
		}
	}
	return !bad;
}

static pid_t settle_pids[NLEAF * SETTLE_PER_LEAF];

static void spawn_settlers(void)
{
	static char *argv[] = { PROG, "--settle", NULL };
	int i, j, n = 0;

	for (i = 0; i < NLEAF; i++) {
		struct clone_args ca = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD };
		char path[512];
		int fd;

		cg_path(path, sizeof(path), leaves[i], "");
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			die("open %s: %s", path, strerror(errno));
		ca.cgroup = (uint64_t)fd;
		for (j = 0; j < SETTLE_PER_LEAF; j++) {
			pid_t pid = clone3_plain(&ca);

			if (pid == 0) {
				execv(self_exe, argv);
				_exit(127);
			}
			if (pid < 0)
				die("clone3 into %s: %s", path, strerror(errno));
			settle_pids[n++] = pid;
		}
		close(fd);
	}
}

static bool positive(const struct sample_result *r)
{
	return r->shared_by_fam[FAM_A] && r->shared_by_fam[FAM_B] && r->shared_by_fam[FAM_N] &&
	       r->shared_by_fam[FAM_G];
}

static void wait_count(volatile int *counter, int want, int seconds)
{
	double deadline = now() + seconds;

	while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) < want && now() < deadline && !stop_requested)
		msleep(50);
}

static void interrupted(void)
{
	printf(PROG ": interrupted, cleaning up\n");
	cleanup();
	exit(2);
}

int main(int argc, char **argv)
{
	int duration = 60, settle_max = 60, opt, i, bad = 0, rc, lock;
	struct sample_result r = { { 0 }, 0 };
	unsigned long stress_samples;
	uint64_t scans0, scans_settle;
	double t0, t_settle;
	char buf[64];
	bool layout_ok, pos;

	if (readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1) < 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	if (argc > 1 && !strncmp(argv[1], "--", 2) && strcmp(argv[1], "--help"))
		return run_role(argc, argv);
	while ((opt = getopt(argc, argv, "t:s:nv")) != -1) {
		switch (opt) {
		case 't': duration = atoi(optarg); break;
		case 's': settle_max = atoi(optarg); break;
		case 'n': negative = true; break;
		case 'v': verbose = true; break;
		default:
			fprintf(stderr, "usage: %s [-t SECONDS] [-s SETTLE_MAX_SECONDS] [-n] [-v]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	main_pid = getpid();
	if (geteuid() != 0)
		die("must run as root (pagemap frames, kpageflags, cgroups)");

	/* the guest's other KSM tests take this lock too */
	mkdir("/run/lock", 0755);
	lock = open("/run/lock/samepage-ksm.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock >= 0 && flock(lock, LOCK_EX) < 0)
		die("flock /run/lock/samepage-ksm.lock: %s", strerror(errno));

	if (read_file("/proc/sys/kernel/pid_max", buf, sizeof(buf)) <= 0)
		die("read /proc/sys/kernel/pid_max");
	pid_max = atol(buf);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_event = mmap(NULL, (pid_max + 1) * 8, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	seen_start = mmap(NULL, (pid_max + 1) * 8, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	seen_scan = mmap(NULL, (pid_max + 1) * 8, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (sh == MAP_FAILED || pid_event == MAP_FAILED || seen_start == MAP_FAILED || seen_scan == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (kpageflags_fd < 0)
		die("open /proc/kpageflags: %s", strerror(errno));
	kpageflags_ksm_check();
	/* Numeric ids well below any cgroup id (those have bit 32 set). */
	snprintf(dom_id, sizeof(dom_id), "%d", 700000 + (int)(main_pid % 100000));
	snprintf(dom_id2, sizeof(dom_id2), "%d", 800000 + (int)(main_pid % 100000));
	snprintf(top, sizeof(top), CG_ROOT "/" PROG "-%d", main_pid);

	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);

	rc = setup_cgroups();
	if (rc == 77) {
		printf(PROG ": the kernel has no ksm controller or no ksm.domain\n");
		cleanup();
		return 77;
	}
	write_layout();
	knobs_save_and_speed_up();
	if (!settled_layout_ok())
		die("the initial layout is not what was written");
	exp_known = false;	/* during the stress, domains move */

	scans0 = full_scans();
	t0 = now();
	for (i = 0; i < NWRITER; i++)
		start(writer_main, i);
	for (i = 0; i < NSPAWNER; i++)
		start(spawner_main, i);
	for (i = 0; i < NMIGRATOR; i++)
		start(migrator_main, i);
	printf(PROG ": %s for %d s: %d writers (ksm.domain%s, ksm.enable), %d fork and %d vfork spawners, %d migrators; ksmd at full speed; numeric domain %s\n",
	       negative ? "NEGATIVE CONTROL (every cgroup in domain 0, labels as intended)" : "stress", duration,
	       NWRITER, negative ? " not written" : "", NFSPAWNER, NVSPAWNER, NMIGRATOR, dom_id);

	while (now() - t0 < duration && !stop_requested) {
		sample(&r);
		msleep(100);
	}
	if (stop_requested)
		interrupted();
	stress_samples = tot.samples;

	/* SETTLE: fixed domains, fresh processes in every leaf */
	sh->phase = PHASE_SETTLE;
	wait_count(&sh->writers_done, NWRITER, 60);
	wait_count(&sh->migrators_done, NMIGRATOR, 60);
	write_layout();
	layout_ok = settled_layout_ok();
	spawn_settlers();
	scans_settle = full_scans();
	t_settle = now();
	printf(PROG ": settling (writers and migrators stopped, layout written again, %d fresh processes per leaf); up to %d s for every domain to merge\n",
	       SETTLE_PER_LEAF, settle_max);
	do {
		msleep(500);
		sample(&r);
		if (stop_requested)
			interrupted();
	} while ((full_scans() < scans_settle + STABLE_SCANS + 1 || !positive(&r)) && now() - t_settle < settle_max);
	pos = positive(&r);
	sh->phase = PHASE_STOP;

	printf(PROG ": samples %lu (stress %lu, settle %lu); ksmd full scans %" PRIu64 "\n", tot.samples,
	       stress_samples, tot.samples - stress_samples, full_scans() - scans0);
	printf(PROG ": process samples %lu: stable %lu, domain not yet stable %lu, moved during the sample %lu\n",
	       tot.proc_samples, tot.stable, tot.unstable, tot.moved);
	printf(PROG ": frames checked %lu, KSM frames %lu (distinct per sample %lu, shared within one domain %lu)\n",
	       tot.frames, tot.ksm_frames, tot.distinct_ksm, tot.shared);
	printf(PROG ": final sample: KSM frames shared within domain A %lu, B %lu, N %lu, G %lu (KSM frames %lu)\n",
	       r.shared_by_fam[FAM_A], r.shared_by_fam[FAM_B], r.shared_by_fam[FAM_N], r.shared_by_fam[FAM_G],
	       r.ksm_frames);
	printf(PROG ": violations: cross-domain merges %lu, KSM pages under deny %lu, merging pages under deny %lu, deny probes failed %lu (of %lu); not confirmed on re-read %lu\n",
	       tot.cross, tot.deny_ksm, tot.deny_merging, sh->ops[OP_PROBE_FAIL],
	       sh->ops[OP_PROBE_FAIL] + sh->ops[OP_PROBE_OK], tot.unconfirmed);
	for (i = 0; i < OP_NR; i++)
		printf(PROG ":   %-40s %lu\n", op_names[i], sh->ops[i]);

	bad = tot.cross + tot.deny_ksm + tot.deny_merging + sh->ops[OP_PROBE_FAIL];
	if (sh->probe_fail_bits)
		printf(PROG ": deny probes:%s%s\n", sh->probe_fail_bits & PROBE_PRCTL ? " prctl(PR_SET_MEMORY_MERGE, 1) not EPERM" : "",
		       sh->probe_fail_bits & PROBE_MADVISE ? " madvise(MADV_MERGEABLE) not EPERM" : "");
	if (!layout_ok)
		bad++;
	if (!tot.ksm_frames) {
		printf(PROG ": FAIL: the checker saw no KSM frame at all: it would pass without isolation\n");
		bad++;
	} else if (!pos) {
		printf(PROG ": FAIL: not every domain merged its identical pages within %d s of settling: the checker cannot show isolation there\n",
		       settle_max);
		bad++;
	}
	if (!sh->ops[OP_PROBE_OK] && !negative) {
		printf(PROG ": FAIL: no deny probe ran\n");
		bad++;
	}
	if (!sh->ops[OP_MIGRATE] || !sh->ops[OP_CLONE3_VFORK] || (!negative && !sh->ops[OP_DOMAIN_WRITE])) {
		printf(PROG ": FAIL: the stress did not exercise migrations, clone3 vfork or domain writes\n");
		bad++;
	}
	cleanup();
	printf(PROG ": %s%s (%d failure%s) in %.0f s\n", negative ? "negative control: " : "", bad ? "FAIL" : "PASS",
	       bad, bad == 1 ? "" : "s", now() - t0);
	return bad ? 1 : 0;
}
