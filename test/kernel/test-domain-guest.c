/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Kernel domains (issue 12) through samepage's own admission, against the
 * real controller.  Runs inside the test guest (kernel/guest/check.sh), as
 * root; exits 77 when the kernel has no ksm.domain.
 *
 * Two samepage domains x two cgroups, every child filling the same pages:
 * `samepage enable --cgroup` (sp_admit, default config: domain_policy
 * kernel) gives each domain its own kernel id, each pair merges, and no
 * KSM page is shared across the domains (every KSM page has exactly two
 * mappers: pages_sharing == pages_shared).  Forgetting a cgroup writes
 * `inherit` back.  A shared cgroup (the one this test runs in) is refused.
 * `deny`: prctl(PR_SET_MEMORY_MERGE, 1) fails with EPERM.
 *
 * Everything lives below /sys/fs/cgroup/sp-domain-test, removed at the
 * end (the test's children killed first); ksmd's knobs are restored.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fileio.h"
#include "cgroupfs/native.h"
#include "cgroupfs/native-domain.h"
#include "host/ksm.h"
#include "node/admit.h"

#define BASE "/sys/fs/cgroup/sp-domain-test"
#define KSM "/sys/kernel/mm/ksm"
#define STATE_DIR "/run/sp-domain-test"
#define FILL_PAGES 512
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif

static const char *const cgs[] = { BASE "/a1", BASE "/a2", BASE "/b1", BASE "/b2" };
static const char *const domains[] = { "local/team-a", "local/team-a", "local/team-b", "local/team-b" };
static pid_t kids[8];
static int nkids, failures;
static const char *const knobs[] = { "run", "pages_to_scan", "sleep_millisecs", "merge_across_nodes" };
static char *saved[4];

#define CHECK(cond, ...)                                                                        \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			failures++;                                                             \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                             \
			printf(__VA_ARGS__);                                                    \
			putchar('\n');                                                          \
		}                                                                               \
	} while (0)

static void fill(void)
{
	unsigned char *p = mmap(NULL, FILL_PAGES * 4096L, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(3);
	for (long i = 0; i < FILL_PAGES; i++)
		for (long j = 0; j < 4096; j += 8) {
			uint64_t v = (uint64_t)i * 0x9e3779b97f4a7c15ULL + (uint64_t)j + 7;
			memcpy(p + i * 4096 + j, &v, 8);
		}
}

/* A child in cgroup that fills the same pages as every other and waits;
 * with prctl_result it reports what prctl(PR_SET_MEMORY_MERGE, 1) gave. */
static pid_t spawn(const char *cgroup, int *prctl_errno)
{
	int p[2];
	int e = 0;
	pid_t pid;

	if (pipe(p) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		char procs[256];

		close(p[0]);
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgroup);
		if (write_file_str(procs, "0", NULL) < 0)
			_exit(2);
		fill();
		if (prctl_errno)
			e = prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) < 0 ? errno : 0;
		if (write(p[1], &e, sizeof(e)) != sizeof(e))
			_exit(4);
		for (;;)
			pause();
	}
	close(p[1]);
	kids[nkids++] = pid;
	if (read(p[0], &e, sizeof(e)) != sizeof(e))
		e = -1;
	close(p[0]);
	if (prctl_errno)
		*prctl_errno = e;
	return pid;
}

static long long knob(const char *name)
{
	uint64_t v = 0;

	return ksm_knob_read_u64(name, &v, NULL) < 0 ? -1 : (long long)v;
}

static long long merging(pid_t pid)
{
	struct ksm_proc_stat s;

	return ksm_proc_stat_read(pid, &s, NULL) < 0 ? -1 : s.merging_pages;
}

static void cleanup(void)
{
	for (int i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	for (int i = 3; i >= 0; i--)
		for (int k = 0; k < 50 && rmdir(cgs[i]) < 0 && errno == EBUSY; k++)
			usleep(20000);
	rmdir(BASE "/deny");
	rmdir(BASE);
	unlink(STATE_DIR "/state.json");
	unlink(STATE_DIR "/state.json.prev");
	unlink(STATE_DIR "/lock");
	rmdir(STATE_DIR);
	write_file_str(KSM "/run", "2", NULL); /* unmerge what the test merged */
	for (int i = 3; i >= 0; i--) {
		char path[128];

		if (!saved[i])
			continue;
		snprintf(path, sizeof(path), KSM "/%s", knobs[i]);
		write_file_str(path, saved[i], NULL);
	}
}

static int admit(int i, struct sp_admission *a, bool forget)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct sp_node_paths paths = { .config = BASE ".conf-none", .state_dir = STATE_DIR };
	struct sp_workload w = { .scope = KSM_SCOPE_CGROUP, .cgroup = cgs[i], .domain = domains[i] };
	int ret = forget ? sp_forget(&paths, &w, a, &err) : sp_admit(&paths, &w, a, &err);

	if (ret < 0)
		printf("%s %s: %s\n", forget ? "forget" : "admit", cgs[i], sp_error_msg(err));
	sp_admission_free(a);
	return ret;
}

static void test_two_domains(void)
{
	struct ksm_domain_state d[4];
	long long shared, sharing;
	int i, round;

	/* Admission wants a running process in the cgroup (its representative). */
	for (i = 0; i < 4; i++) {
		CHECK(mkdir(cgs[i], 0755) == 0, "mkdir %s", cgs[i]);
		spawn(cgs[i], NULL);
	}
	for (i = 0; i < 4; i++) {
		struct sp_admission a;

		CHECK(admit(i, &a, false) == 0, "admission of %s", cgs[i]);
		CHECK(ksm_domain_effective(cgs[i], &d[i], NULL) == 0 && !d[i].deny && d[i].id > 0,
		      "%s has no kernel domain", cgs[i]);
	}
	CHECK(d[0].id == d[1].id && d[2].id == d[3].id && d[0].id != d[2].id,
	      "ids: a1 %llu a2 %llu b1 %llu b2 %llu", (unsigned long long)d[0].id, (unsigned long long)d[1].id,
	      (unsigned long long)d[2].id, (unsigned long long)d[3].id);
	for (round = 0; round < 600; round++) {
		bool done = true;

		for (i = 0; i < 4; i++)
			done &= merging(kids[i]) >= FILL_PAGES * 9 / 10;
		if (done)
			break;
		usleep(100000);
	}
	for (i = 0; i < 4; i++)
		CHECK(merging(kids[i]) >= FILL_PAGES * 9 / 10, "%s merged %lld of %d pages", cgs[i], merging(kids[i]),
		      FILL_PAGES);
	shared = knob("pages_shared");
	sharing = knob("pages_sharing");
	printf("pages_shared %lld pages_sharing %lld (one domain would give %d and %d)\n", shared, sharing,
	       FILL_PAGES, 3 * FILL_PAGES);
	CHECK(shared >= 2 * FILL_PAGES * 9 / 10, "fewer KSM pages than two domains need: %lld", shared);
	CHECK(sharing <= shared + 16, "a KSM page has more than two mappers: merged across domains");

	for (i = 0; i < 4; i++) {
		struct sp_admission a;
		_cleanup_free_ char *own = NULL;

		CHECK(admit(i, &a, true) == 0, "forget %s", cgs[i]);
		CHECK(ksm_domain_read(cgs[i], &own, NULL) == 0 && strcmp(own, "inherit") == 0,
		      "%s keeps ksm.domain `%s` after forget", cgs[i], own ? own : "?");
	}
}

static void test_refusals_and_deny(void)
{
	_cleanup_error_ sp_error_t err = NULL;
	_cleanup_free_ char *own = NULL;
	int e = 0;

	/* the cgroup this test runs in is shared with it */
	CHECK(ksm_native_cgroup_of_pid(getpid(), &own, NULL) == 0, "own cgroup");
	CHECK(own && ksm_domain_assign(own, 5, 0, &err) == -EPERM, "own cgroup accepted: %s",
	      err ? sp_error_msg(err) : "no error");
	sp_error_free(&err);
	CHECK(ksm_domain_assign("/sys/fs/cgroup", 5, 0, &err) == -EPERM, "the root accepted");

	CHECK(mkdir(BASE "/deny", 0755) == 0, "mkdir deny");
	CHECK(ksm_domain_deny(BASE "/deny", NULL) == 1, "write deny");
	spawn(BASE "/deny", &e);
	CHECK(e == EPERM, "prctl(PR_SET_MEMORY_MERGE, 1) under deny gave errno %d, want EPERM", e);
	CHECK(merging(kids[nkids - 1]) <= 0, "a process under deny merges");
}

int main(void)
{
	int lock;

	if (!ksm_native_available()) {
		printf("no ksm controller\n");
		return 77;
	}
	lock = open("/run/lock/samepage-ksm.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock < 0 || flock(lock, LOCK_EX) < 0)
		return 1;
	rmdir(BASE);
	if (mkdir(BASE, 0755) < 0 && errno != EEXIST)
		return 1;
	if (!ksm_domain_available_at(BASE)) {
		printf("the kernel has no ksm.domain\n");
		rmdir(BASE);
		return 77;
	}
	for (int i = 0; i < 4; i++) {
		char path[128];

		snprintf(path, sizeof(path), KSM "/%s", knobs[i]);
		read_file_line(path, &saved[i], NULL);
	}
	write_file_str(KSM "/pages_to_scan", "5000", NULL);
	write_file_str(KSM "/sleep_millisecs", "10", NULL);
	write_file_str(KSM "/run", "1", NULL);
	test_two_domains();
	test_refusals_and_deny();
	cleanup();
	printf("%s: %d failure%s\n", failures ? "FAIL" : "PASS", failures, failures == 1 ? "" : "s");
	return failures ? 1 : 0;
}
