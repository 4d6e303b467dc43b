// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ksm-stress: the ksm cgroup controller under concurrent enable/disable
 * writes, process creation of every shape, exec, exit and migration, with
 * ksmd scanning at full speed; then checks that no process was missed.
 *
 * Runs as root in the test guest (kernel/guest/debug.sh), static, and needs
 * cgroup v2 at /sys/fs/cgroup with the `ksm` controller.  Usage:
 *
 *   ksm-stress [-t SECONDS] [-s SETTLE_SECONDS] [-v]
 *
 * Layout: /sys/fs/cgroup/ksm-stress-<pid>/ (the "top", +ksm in its
 * subtree_control) with c0, c1, c2, c3; c0 (+ksm too) has the leaves c0/a and
 * c0/b.  Processes live in the leaves c0/a, c0/b, c1, c2, c3.  The processes
 * of the stress (all descendants of this program) are:
 *
 *   writers    toggle ksm.enable 0/1 on every cgroup of the layout
 *   spawners   live in the leaves (the first one stays in c1, the others
 *              get migrated) and create processes: fork + exit,
 *              fork + exec(/proc/self/exe), vfork + exec,
 *              clone3(CLONE_INTO_CGROUP) with and without exec,
 *              clone3(CLONE_VFORK|CLONE_VM|CLONE_INTO_CGROUP) + exec (the
 *              shape of Go's os/exec with UseCgroupFD and of glibc's
 *              posix_spawn into a cgroup), long-lived children, opted-out
 *              children (prctl(PR_SET_MEMORY_MERGE, 0)) and their exec'd
 *              children, and processes whose thread-group leader exited
 *   migrators  move random processes (and the leader-exited ones) between
 *              the leaves through cgroup.procs
 *   a reader   reads ksm.stat of the top and the leaves
 *
 * Every process fills a few pages with the same bytes so that ksmd (run=1,
 * sleep_millisecs=0, pages_to_scan=5000; all saved and restored) merges and
 * the disable path really unmerges.
 *
 * Phases: STRESS (-t, default 60 s: all of the above); then the writers set
 * a fixed final state (top 0, c0 1, c0/a 0, c0/b 1, c1 0, c2 1, c3 0) and
 * stop;
 * SETTLE (-s, default 10 s: spawns, execs and migrations go on, so every way
 * into an enabled cgroup happens while no write walks); then everything
 * stops and the checks run:
 *
 *   1. every process in an effectively enabled cgroup (c0/a, c0/b, c2) is
 *      enabled (a VMA with `mg` in smaps; for a process whose leader has
 *      exited, through a live thread's smaps), except the opted-out ones;
 *   2. no opted-out process (nor a child that inherited the opt-out, nor one
 *      that exec'd after it) is enabled, in any cgroup;
 *   3. fresh processes cloned into c2 (enabled) are enabled, merge, and
 *      after writing 0 to c2 are disabled when the write returns and their
 *      ksm_merging_pages drop to 0 (polled: the counter follows ksmd).
 *
 * Checks 1 and 2 are retried for a few seconds (the controller may enable
 * asynchronously, from task_work or a workqueue).  Exit status: 0 all
 * checks pass, 1 a check failed, 2 setup error.  The kernel log is the
 * caller's business (kernel/guest/debug.sh fails on any splat).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef __x86_64__
#error "ksm-stress: the CLONE_VM clone3 trampoline is written for x86_64"
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#define CG_ROOT "/sys/fs/cgroup"
#define KSM_SYSFS "/sys/kernel/mm/ksm/"
#define NLEAF 5
#define NWRITER 3
#define NSPAWNER 4
#define NMIGRATOR 2
#define MAX_LONG 10	/* long-lived children per spawner */
#define MAX_LEADERLESS 8
#define FILL_PAGES 16

/* Leaves processes live in (c0 is an inner cgroup). */
static const char *const leaf_names[NLEAF] = { "c0/a", "c0/b", "c1", "c2", "c3" };
/* Cgroups writers toggle: the top ("") and every other one. */
static const char *const knob_names[] = { "", "c0", "c0/a", "c0/b", "c1", "c2", "c3" };
#define NKNOB (sizeof(knob_names) / sizeof(knob_names[0]))

enum { PHASE_STRESS, PHASE_SETTLE, PHASE_STOP };

/* Shared between this program and its workers (MAP_SHARED). */
struct shared {
	volatile int phase;
	volatile int writers_done;
	volatile int spawners_done;
	volatile pid_t leaderless[MAX_LEADERLESS];
	volatile pid_t pinned;		/* spawner 0: stays in c1, never migrated */
	unsigned long ops[16];
};
enum {
	OP_WRITE, OP_WRITE_ERR, OP_FORK, OP_EXEC, OP_VFORK, OP_CLONE3,
	OP_CLONE3_VFORK, OP_CLONE3_ERR, OP_LONG, OP_OPTOUT, OP_LEADERLESS,
	OP_MIGRATE, OP_MIGRATE_ERR, OP_MIGRATE_LEADERLESS, OP_STAT, OP_NR
};
static const char *const op_names[OP_NR] = {
	"ksm.enable writes", "ksm.enable write errors", "fork+exit",
	"fork+exec", "vfork+exec", "clone3 into cgroup",
	"clone3 vfork|vm into cgroup + exec", "clone3 errors",
	"long-lived children", "opted-out children", "leader-exited processes",
	"migrations", "migration errors (gone)", "leader-exited migrations",
	"ksm.stat reads",
};

static struct shared *sh;
static char top[256];
static char self_exe[4096];
static bool verbose;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "ksm-stress: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
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

	while (nanosleep(&ts, &ts) && errno == EINTR)
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
	ssize_t n, len = 0;

	if (fd < 0)
		return -errno;
	while (len < (ssize_t)size - 1 &&
	       (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += n;
	if (n < 0 && len == 0)
		len = -errno;
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	return len;
}

static void cg_path(char *buf, size_t size, const char *cg, const char *file)
{
	snprintf(buf, size, "%s%s%s/%s", top, *cg ? "/" : "", cg, file);
}

/* Touch a few pages with the same content as every other process. */
static void fill_pages(void)
{
	size_t len = FILL_PAGES * 4096;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED)
		memset(p, 0x5a, len);	/* kept mapped until exit */
}

/* ---- roles of exec'd children (argv[1]) ---------------------------------- */

/* "--child MS": fill pages, sleep MS milliseconds, exit. */
static int role_child(const char *ms)
{
	fill_pages();
	msleep((unsigned int)atoi(ms));
	return 0;
}

/* "--long": fill pages, sleep until killed. */
static __attribute__((noreturn)) int role_long(void)
{
	fill_pages();
	for (;;)
		pause();
}

/*
 * "--optout": opt out, then sleep until killed, forking one child (which
 * inherits the opt-out) and exec'ing one "--optout-inherit" child (which
 * keeps it across exec) on the way.
 */
static __attribute__((noreturn)) int role_optout(void)
{
	pid_t pid;

	setpgid(0, 0);
	if (prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0))
		fprintf(stderr, "ksm-stress: optout: prctl: %s\n", strerror(errno));
	fill_pages();
	pid = fork();
	if (pid == 0) {
		fill_pages();
		for (;;)
			pause();
	}
	pid = fork();
	if (pid == 0) {
		execl(self_exe, "ksm-stress", "--optout-inherit", (char *)NULL);
		_exit(127);
	}
	for (;;)
		pause();
}

static void *leaderless_thread(void *arg)
{
	(void)arg;
	fill_pages();
	for (;;)
		pause();
	return NULL;
}

/* "--leaderless": two threads keep going after the leader exits. */
static int role_leaderless(void)
{
	pthread_t t;
	int i;

	fill_pages();
	for (i = 0; i < 2; i++)
		if (pthread_create(&t, NULL, leaderless_thread, NULL))
			_exit(1);
	pthread_exit(NULL);
}

static int run_role(int argc, char **argv)
{
	if (!strcmp(argv[1], "--child") && argc > 2)
		return role_child(argv[2]);
	if (!strcmp(argv[1], "--long"))
		return role_long();
	if (!strcmp(argv[1], "--optout"))
		return role_optout();
	if (!strcmp(argv[1], "--optout-inherit"))
		return role_long();
	if (!strcmp(argv[1], "--leaderless"))
		return role_leaderless();
	return -1;
}

/* ---- clone3 ------------------------------------------------------------- */

static long clone3_plain(struct clone_args *args)
{
	return syscall(SYS_clone3, args, sizeof(*args));
}

/*
 * clone3 with CLONE_VM: the child runs @fn(@arg) on the stack in @args and
 * must not return (it execs or _exits).  The child cannot return through
 * the C code of its parent, which shares its memory.
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

struct exec_req {
	char *const *argv;
};

static void exec_child(void *arg)
{
	struct exec_req *req = arg;

	execv(self_exe, req->argv);
	_exit(127);
}

/* ---- spawners ----------------------------------------------------------- */

struct spawner {
	int cg_fd[NLEAF];
	pid_t longs[MAX_LONG];
	char stack[64 * 1024] __attribute__((aligned(16)));
};

/* How spawn_exec() created a process; its argv[2] for the checks' reports. */
static const char *const shape_names[] = {
	"fork+exec", "vfork+exec", "clone3-into-cgroup+exec",
	"clone3-vfork-vm-into-cgroup+exec",
};

static pid_t spawn_exec(struct spawner *sp, int how, char *const *argv)
{
	struct clone_args ca = { .exit_signal = SIGCHLD };
	struct exec_req req = { argv };
	pid_t pid;

	switch (how) {
	case 0:		/* fork + exec */
		pid = fork();
		if (pid == 0)
			exec_child(&req);
		op(OP_EXEC);
		return pid;
	case 1:		/* vfork + exec */
		pid = vfork();
		if (pid == 0) {
			execv(self_exe, argv);
			_exit(127);
		}
		op(OP_VFORK);
		return pid;
	case 2:		/* clone3 into a cgroup, then exec */
		ca.flags = CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)sp->cg_fd[rnd(NLEAF)];
		pid = clone3_plain(&ca);
		if (pid == 0)
			exec_child(&req);
		op(pid < 0 ? OP_CLONE3_ERR : OP_CLONE3);
		return pid;
	default:	/* clone3 vfork|vm into a cgroup, exec */
		ca.flags = CLONE_VFORK | CLONE_VM | CLONE_INTO_CGROUP;
		ca.cgroup = (uint64_t)sp->cg_fd[rnd(NLEAF)];
		ca.stack = (uint64_t)(uintptr_t)sp->stack;
		ca.stack_size = sizeof(sp->stack);
		pid = clone3_vm(&ca, exec_child, &req);
		op(pid < 0 ? OP_CLONE3_ERR : OP_CLONE3_VFORK);
		return pid;
	}
}

/*
 * Replace a random long-lived child of this spawner (kill the old one),
 * created in any of the exec shapes; these are the processes the checks
 * look at.  An opted-out child leads a process group (its own children
 * are in it), so the whole group is killed.  Slots are cleared when the
 * child is reaped (reap()), so a pid here is always an unreaped child.
 */
static void spawn_long(struct spawner *sp, bool optout)
{
	int i = rnd(MAX_LONG), how = rnd(4);
	char *argv[] = { "ksm-stress", optout ? "--optout" : "--long",
			 (char *)shape_names[how], NULL };
	pid_t pid;

	if (sp->longs[i] > 0) {
		kill(-sp->longs[i], SIGKILL);
		kill(sp->longs[i], SIGKILL);
		sp->longs[i] = 0;
	}
	pid = spawn_exec(sp, how, argv);
	if (pid > 0) {
		sp->longs[i] = pid;
		op(optout ? OP_OPTOUT : OP_LONG);
	}
}

static void spawn_leaderless(struct spawner *sp)
{
	int i = rnd(MAX_LEADERLESS), how = rnd(4);
	char *argv[] = { "ksm-stress", "--leaderless", (char *)shape_names[how], NULL };
	pid_t pid, old = sh->leaderless[i];

	/* Another spawner's child, maybe: it clears the slot when it reaps. */
	if (old > 0 && __atomic_compare_exchange_n(&sh->leaderless[i], &old, 0, false,
						   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		kill(old, SIGKILL);
	pid = spawn_exec(sp, how, argv);
	if (pid > 0) {
		__atomic_store_n(&sh->leaderless[i], pid, __ATOMIC_SEQ_CST);
		op(OP_LEADERLESS);
	}
}

/* Reap finished children and forget them. */
static void reap(struct spawner *sp)
{
	pid_t pid;
	int i;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		for (i = 0; i < MAX_LONG; i++)
			if (sp->longs[i] == pid)
				sp->longs[i] = 0;
		for (i = 0; i < MAX_LEADERLESS; i++) {
			pid_t old = pid;

			__atomic_compare_exchange_n(&sh->leaderless[i], &old, 0, false,
						    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
		}
	}
}

static void spawner_step(struct spawner *sp)
{
	char ms[16];
	char *argv[] = { "ksm-stress", "--child", ms, NULL };
	/* While settling, create what the checks look at: long-lived ones. */
	unsigned int r = sh->phase == PHASE_SETTLE ? 60 + rnd(40) : rnd(100);
	pid_t pid;

	snprintf(ms, sizeof(ms), "%u", rnd(200));
	if (r < 20) {
		pid = fork();
		if (pid == 0) {
			fill_pages();
			msleep(rnd(50));
			_exit(0);
		}
		op(OP_FORK);
	} else if (r < 60) {
		spawn_exec(sp, rnd(4), argv);
	} else if (r < 82) {
		spawn_long(sp, false);
	} else if (r < 92) {
		spawn_long(sp, true);
	} else {
		spawn_leaderless(sp);
	}
	reap(sp);
}

static __attribute__((noreturn)) int spawner_main(int idx)
{
	static struct spawner sp;
	char path[512];
	int i;

	for (i = 0; i < NLEAF; i++) {
		cg_path(path, sizeof(path), leaf_names[i], "");
		sp.cg_fd[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sp.cg_fd[i] < 0)
			die("open %s: %s", path, strerror(errno));
	}
	/*
	 * Spawner 0 stays in c1 (not enabled in the final state), so that it
	 * is off while settling and its children show whether the ways into
	 * enabled cgroups work without inheriting merging from their parent.
	 */
	if (idx == 0)
		sh->pinned = getpid();
	cg_path(path, sizeof(path), idx == 0 ? "c1" : leaf_names[idx % NLEAF],
		"cgroup.procs");
	if (write_file(path, "0"))
		die("spawner: cannot join %s", path);
	fill_pages();
	while (sh->phase != PHASE_STOP) {
		spawner_step(&sp);
		msleep(rnd(20));
	}
	/* Short-lived children end on their own; long-lived ones stay. */
	for (i = 0; i < 20; i++) {
		reap(&sp);
		msleep(50);
	}
	__atomic_add_fetch(&sh->spawners_done, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pause();
}

/* ---- writers, migrators, reader ----------------------------------------- */

static void write_enable(const char *cg, int val)
{
	char path[512];

	cg_path(path, sizeof(path), cg, "ksm.enable");
	if (write_file(path, val ? "1" : "0"))
		op(OP_WRITE_ERR);
	else
		op(OP_WRITE);
}

static int writer_main(int idx)
{
	while (sh->phase == PHASE_STRESS) {
		write_enable(knob_names[rnd(NKNOB)], rnd(2));
		msleep(rnd(10));
	}
	if (idx == 0) {
		/*
		 * The final state (see the header comment), written after
		 * the other writers' last writes.
		 */
		while (__atomic_load_n(&sh->writers_done, __ATOMIC_SEQ_CST) < NWRITER - 1)
			msleep(10);
		write_enable("", 0);
		write_enable("c0", 1);
		write_enable("c0/a", 0);
		write_enable("c0/b", 1);
		write_enable("c1", 0);
		write_enable("c2", 1);
		write_enable("c3", 0);
	}
	__atomic_add_fetch(&sh->writers_done, 1, __ATOMIC_SEQ_CST);
	return 0;
}

/* A random pid of @leaf's cgroup.procs, or 0. */
static pid_t random_pid(const char *leaf)
{
	char path[512], buf[8192], *p, *save;
	pid_t pids[256];
	int n = 0;

	cg_path(path, sizeof(path), leaf, "cgroup.procs");
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return 0;
	for (p = strtok_r(buf, "\n", &save); p && n < 256;
	     p = strtok_r(NULL, "\n", &save))
		pids[n++] = atoi(p);
	return n ? pids[rnd(n)] : 0;
}

static void migrate(pid_t pid, int leader_exited)
{
	char path[512], val[32];
	int err;

	cg_path(path, sizeof(path), leaf_names[rnd(NLEAF)], "cgroup.procs");
	snprintf(val, sizeof(val), "%d", pid);
	err = write_file(path, val);
	if (!err)
		op(leader_exited ? OP_MIGRATE_LEADERLESS : OP_MIGRATE);
	else if (err == -ESRCH || err == -ENOENT)
		op(OP_MIGRATE_ERR);
	else if (verbose)
		fprintf(stderr, "ksm-stress: migrate %d -> %s: %s\n", pid,
			path, strerror(-err));
}

static int migrator_main(void)
{
	while (sh->phase != PHASE_STOP) {
		pid_t pid;

		/*
		 * While settling, only leader-exited processes move: any
		 * migration into an enabled cgroup would also heal a process
		 * another way into it missed.
		 */
		if (rnd(2) == 0 || sh->phase == PHASE_SETTLE) {
			pid = sh->leaderless[rnd(MAX_LEADERLESS)];
			if (pid > 0)
				migrate(pid, 1);
		} else {
			pid = random_pid(leaf_names[rnd(NLEAF)]);
			if (pid > 0 && pid != sh->pinned)
				migrate(pid, 0);
		}
		msleep(rnd(5));
	}
	return 0;
}

static int reader_main(void)
{
	char path[512], buf[4096];

	while (sh->phase != PHASE_STOP) {
		cg_path(path, sizeof(path), rnd(2) ? "" : leaf_names[rnd(NLEAF)],
			"ksm.stat");
		if (read_file(path, buf, sizeof(buf)) > 0)
			op(OP_STAT);
		msleep(rnd(50));
	}
	return 0;
}

/* ---- ksmd knobs ----------------------------------------------------------- */

static const char *const knobs[] = { "run", "sleep_millisecs", "pages_to_scan" };
static const char *const fast[] = { "1", "0", "5000" };
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
			fprintf(stderr, "ksm-stress: cannot restore %s=%s\n", path,
				saved[i]);
	}
}

/* ---- cgroups ------------------------------------------------------------ */

static void setup_cgroups(void)
{
	static const char *const dirs[] = { "", "c0", "c0/a", "c0/b", "c1", "c2", "c3" };
	char path[512], buf[512];
	size_t i;

	if (read_file(CG_ROOT "/cgroup.subtree_control", buf, sizeof(buf)) < 0 ||
	    !strstr(buf, "ksm"))
		die("the ksm controller is not enabled in %s/cgroup.subtree_control", CG_ROOT);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		cg_path(path, sizeof(path), dirs[i], "");
		if (mkdir(path, 0755))
			die("mkdir %s: %s", path, strerror(errno));
		if (i < 2) {
			cg_path(path, sizeof(path), dirs[i], "cgroup.subtree_control");
			if (write_file(path, "+ksm"))
				die("+ksm in %s failed", path);
		}
	}
}

/* Kill everything in the subtree and remove it (leaves first). */
static void cleanup_cgroups(void)
{
	static const char *const dirs[] = { "c0/a", "c0/b", "c0", "c1", "c2", "c3", "" };
	char path[512], buf[512];
	size_t i;
	int tries;

	cg_path(path, sizeof(path), "", "cgroup.kill");
	write_file(path, "1");
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		cg_path(path, sizeof(path), dirs[i], "");
		for (tries = 0; tries < 100 && rmdir(path) && errno == EBUSY; tries++) {
			cg_path(buf, sizeof(buf), "", "cgroup.kill");
			write_file(buf, "1");
			msleep(100);
		}
		if (access(path, F_OK) == 0)
			fprintf(stderr, "ksm-stress: cannot remove %s\n", path);
	}
}

/* ---- checks ------------------------------------------------------------- */

/*
 * A thread of process @pid that still has its mm (for a process whose
 * leader has exited, not the leader), as "/proc/PID/task/TID", and whether
 * it has a VMA marked mergeable (`mg`: whole-process merging marks every
 * compatible VMA, the stack at least).  1 or 0, -1 when no thread has an
 * mm any more.
 */
static int pid_enabled(pid_t pid, char *task, size_t size)
{
	char path[400], line[512];
	struct dirent *de;
	DIR *d;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while (ret < 0 && (de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(task, size, "/proc/%d/task/%s", pid, de->d_name);
		snprintf(path, sizeof(path), "%s/smaps", task);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "VmFlags:", 8))
				continue;
			if (ret < 0)
				ret = 0;
			if (strstr(line, " mg"))
				ret = 1;
		}
		fclose(f);
	}
	closedir(d);
	return ret;
}

/* argv[1] and argv[2] of @task ("/proc/PID/task/TID"), or "" */
static void task_role(const char *task, char *role, size_t size)
{
	char path[400], buf[256];
	ssize_t n;
	size_t len;

	role[0] = '\0';
	snprintf(path, sizeof(path), "%s/cmdline", task);
	n = read_file(path, buf, sizeof(buf));
	if (n <= 0)
		return;
	len = strlen(buf);
	if ((ssize_t)len + 1 >= n)
		return;
	snprintf(role, size, "%s", buf + len + 1);
	len += 1 + strlen(buf + len + 1);
	if ((ssize_t)len + 1 < n)
		snprintf(role + strlen(role), size - strlen(role), " %s", buf + len + 1);
}

/*
 * The leaf of the stress @task is in, or -1.  Asked of the thread, not of
 * cgroup.procs: a process whose leader has exited is listed in the
 * cgroup.procs of the cgroup its leader died in, wherever its threads
 * have moved since.
 */
static int task_leaf(const char *task)
{
	char path[400], buf[512], *p;
	size_t tlen = strlen(top) - strlen(CG_ROOT);
	int i;

	snprintf(path, sizeof(path), "%s/cgroup", task);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strstr(buf, "0::");
	if (!p || strncmp(p + 3, top + strlen(CG_ROOT), tlen) || p[3 + tlen] != '/')
		return -1;
	p += 3 + tlen + 1;
	p[strcspn(p, "\n")] = '\0';
	for (i = 0; i < NLEAF; i++)
		if (!strcmp(p, leaf_names[i]))
			return i;
	return -1;
}

static bool is_leaderless(pid_t pid)
{
	int i;

	for (i = 0; i < MAX_LEADERLESS; i++)
		if (sh->leaderless[i] == pid)
			return true;
	return false;
}

static int leaf_effective(const char *leaf)
{
	char path[512], buf[16];

	cg_path(path, sizeof(path), leaf, "ksm.enable.effective");
	if (read_file(path, buf, sizeof(buf)) <= 0)
		die("read %s: %s", path, strerror(errno));
	return atoi(buf);
}

enum { WANT_ANY, WANT_ON };

/*
 * Check every process of the stress (found through /proc, so that none
 * hides): opted-out ones must be off; the others as want[leaf] says.
 * Prints the violations when @report; returns their number.
 */
static int check_processes(const int want[NLEAF], bool report)
{
	char task[320], role[96];
	struct dirent *de;
	int bad = 0;
	DIR *d = opendir("/proc");

	if (!d)
		die("opendir /proc: %s", strerror(errno));
	while ((de = readdir(d))) {
		pid_t pid = atoi(de->d_name);
		const char *what = NULL;
		int on, leaf;
		bool optout;

		if (pid <= 0 || (on = pid_enabled(pid, task, sizeof(task))) < 0)
			continue;
		leaf = task_leaf(task);
		if (leaf < 0)
			continue;
		task_role(task, role, sizeof(role));
		optout = !strncmp(role, "--optout", 8);
		if (optout && on)
			what = "opted out (prctl PR_SET_MEMORY_MERGE 0, or inherited), but enabled";
		else if (!optout && want[leaf] == WANT_ON && !on)
			what = "MISSED: in an effectively enabled cgroup, not enabled";
		if (!what)
			continue;
		bad++;
		if (report)
			printf("ksm-stress: %s: pid %d (%s%s) in %s\n", what, pid,
			       *role ? role : "worker",
			       is_leaderless(pid) ? ", leader exited" : "",
			       leaf_names[leaf]);
	}
	closedir(d);
	return bad;
}

/* Checks 1 and 2 of the header comment, retried for up to 10 s. */
static int check_enabled(void)
{
	double deadline = now() + 10;
	int want[NLEAF], bad, i;
	bool last;

	for (i = 0; i < NLEAF; i++)
		want[i] = leaf_effective(leaf_names[i]) ? WANT_ON : WANT_ANY;
	do {
		last = now() >= deadline;
		bad = check_processes(want, last);
		if (bad && !last)
			msleep(500);
	} while (bad && !last);
	return bad;
}

static long pid_merging_pages(pid_t pid)
{
	char path[64], buf[32];

	snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", pid);
	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return atol(buf);
}

/* Wait up to @seconds for all @pids to satisfy @ok; the number that do not. */
static int wait_all(const pid_t *pids, int n, bool (*ok)(pid_t), int seconds)
{
	double deadline = now() + seconds;
	int i, bad;

	for (;;) {
		for (i = 0, bad = 0; i < n; i++)
			bad += !ok(pids[i]);
		if (!bad || now() >= deadline)
			return bad;
		msleep(200);
	}
}

static bool is_on(pid_t pid) { char t[320]; return pid_enabled(pid, t, sizeof(t)) == 1; }
static bool is_off(pid_t pid) { char t[320]; return pid_enabled(pid, t, sizeof(t)) == 0; }
static bool has_merged(pid_t pid) { return pid_merging_pages(pid) > 0; }
static bool none_merged(pid_t pid) { return pid_merging_pages(pid) == 0; }

#define NFRESH 4

/*
 * Check 3: writing 0 turns off and unmerges the processes the controller
 * enabled.  Which of the stress's processes the controller enabled depends on
 * their history (a process that left an enabled cgroup may own its setting),
 * so this uses fresh ones: NFRESH processes cloned straight into c2 (enabled),
 * left to merge, then c2 gets 0.
 */
static int check_disable(void)
{
	static char *argv[] = { "ksm-stress", "--long", NULL };
	struct clone_args ca = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD };
	pid_t pids[NFRESH];
	char path[512];
	int i, n, bad = 0;

	cg_path(path, sizeof(path), "c2", "");
	ca.cgroup = (uint64_t)open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if ((int)ca.cgroup < 0)
		die("open %s: %s", path, strerror(errno));
	for (i = 0; i < NFRESH; i++) {
		pids[i] = clone3_plain(&ca);
		if (pids[i] == 0) {
			execv(self_exe, argv);
			_exit(127);
		}
		if (pids[i] < 0)
			die("clone3 into %s: %s", path, strerror(errno));
	}
	close((int)ca.cgroup);
	if ((n = wait_all(pids, NFRESH, is_on, 10))) {
		printf("ksm-stress: MISSED: %d of %d fresh processes cloned into c2 (enabled) not enabled\n",
		       n, NFRESH);
		bad++;
	}
	n = wait_all(pids, NFRESH, has_merged, 20);
	printf("ksm-stress: fresh processes in c2 with merged pages before writing 0: %d of %d\n",
	       NFRESH - n, NFRESH);
	write_enable("c2", 0);
	if (leaf_effective("c2")) {
		printf("ksm-stress: c2: ksm.enable.effective is 1 after writing 0 to it and its ancestors\n");
		bad++;
	}
	if ((n = wait_all(pids, NFRESH, is_off, 0))) {
		printf("ksm-stress: %d of %d fresh processes in c2 still enabled after writing 0 returned\n",
		       n, NFRESH);
		bad++;
	}
	/* The per-mm counter drops when ksmd next scans the mm: poll. */
	if ((n = wait_all(pids, NFRESH, none_merged, 20))) {
		printf("ksm-stress: %d of %d fresh processes in c2 still have merging pages 20 s after writing 0\n",
		       n, NFRESH);
		bad++;
	}
	for (i = 0; i < NFRESH; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], NULL, 0);
	}
	return bad;
}

/* ---- main ----------------------------------------------------------------- */

static pid_t start(int (*fn)(int), int arg)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

static int migrator_fn(int arg)
{
	(void)arg;
	return migrator_main();
}

static int reader_fn(int arg)
{
	(void)arg;
	return reader_main();
}

static void wait_count(volatile int *counter, int want, int seconds)
{
	double deadline = now() + seconds;

	while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) < want && now() < deadline)
		msleep(50);
}

static void run_phases(int duration, int settle)
{
	double t0 = now();

	printf("ksm-stress: stress for %d s: %d writers, %d spawners, %d migrators, a ksm.stat reader; ksmd at full speed\n",
	       duration, NWRITER, NSPAWNER, NMIGRATOR);
	fflush(stdout);
	while (now() - t0 < duration)
		msleep(200);
	sh->phase = PHASE_SETTLE;
	wait_count(&sh->writers_done, NWRITER, 60);
	printf("ksm-stress: writers done (final state set); settling for %d s with spawns, execs and migrations\n",
	       settle);
	fflush(stdout);
	msleep(settle * 1000);
	sh->phase = PHASE_STOP;
	wait_count(&sh->spawners_done, NSPAWNER, 60);
	/* exec'd children still on their way to their role: let them get there */
	msleep(1000);
}

int main(int argc, char **argv)
{
	int duration = 60, settle = 10, opt, bad, i;
	pid_t workers[NWRITER + NSPAWNER + NMIGRATOR + 1];
	int nworkers = 0;

	if (readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1) < 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	if (argc > 1 && !strncmp(argv[1], "--", 2) && strcmp(argv[1], "--help"))
		return run_role(argc, argv);
	while ((opt = getopt(argc, argv, "t:s:v")) != -1) {
		switch (opt) {
		case 't': duration = atoi(optarg); break;
		case 's': settle = atoi(optarg); break;
		case 'v': verbose = true; break;
		default:
			fprintf(stderr, "usage: %s [-t SECONDS] [-s SETTLE_SECONDS] [-v]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	snprintf(top, sizeof(top), CG_ROOT "/ksm-stress-%d", getpid());
	setup_cgroups();
	knobs_save_and_speed_up();

	for (i = 0; i < NWRITER; i++)
		workers[nworkers++] = start(writer_main, i);
	for (i = 0; i < NSPAWNER; i++)
		workers[nworkers++] = start(spawner_main, i);
	for (i = 0; i < NMIGRATOR; i++)
		workers[nworkers++] = start(migrator_fn, 0);
	workers[nworkers++] = start(reader_fn, 0);

	run_phases(duration, settle);
	bad = check_enabled();
	bad += check_disable();

	for (i = 0; i < OP_NR; i++)
		printf("ksm-stress:   %-40s %lu\n", op_names[i], sh->ops[i]);
	cleanup_cgroups();
	for (i = 0; i < nworkers; i++)
		kill(workers[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	knobs_restore();
	if (!sh->ops[OP_MIGRATE] || !sh->ops[OP_CLONE3_VFORK] || !sh->ops[OP_WRITE]) {
		printf("ksm-stress: FAIL: the stress did not exercise migrations, clone3 vfork or writes\n");
		return 1;
	}
	printf("ksm-stress: %s (%d violation%s)\n", bad ? "FAIL" : "PASS", bad,
	       bad == 1 ? "" : "s");
	return bad ? 1 : 0;
}
