/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * node/unattributed and host/ksm-scan: which processes count as self-opted
 * in, the node-wide arithmetic (pages_shared + pages_sharing against the
 * recorded processes' ksm_merging_pages, read twice), the container a cgroup
 * name carries, smaps' `mg`, a scan of a fake /proc, and the config key.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "host/ksm-scan.h"
#include "node/config.h"
#include "node/unattributed.h"

static struct ksm_scan_proc proc(pid_t pid, int merge_any, int mergeable, int64_t rmap, int64_t merging)
{
	return (struct ksm_scan_proc){ .pid = pid, .merge_any = merge_any, .mergeable = mergeable,
				       .rmap_items = rmap, .merging_pages = merging };
}

static void scan_of(struct ksm_scan *s, const struct ksm_scan_proc *p, size_t n)
{
	s->procs = malloc(n * sizeof(*p));
	assert_non_null(s->procs);
	memcpy(s->procs, p, n * sizeof(*p));
	s->n = s->cap = n;
}

static void test_evidence(void **state)
{
	struct ksm_scan_proc none = proc(1, 0, 0, 0, 0), unknown = proc(1, -1, -1, 0, 0);

	(void)state;
	assert_false(ksm_scan_proc_mergeable(&none));
	assert_false(ksm_scan_proc_mergeable(&unknown));
	assert_string_equal(ksm_scan_proc_evidence(&(struct ksm_scan_proc){ .merge_any = 1, .mergeable = 1 }), "merge_any");
	assert_string_equal(ksm_scan_proc_evidence(&(struct ksm_scan_proc){ .merge_any = 0, .mergeable = 1 }), "mergeable");
	assert_string_equal(ksm_scan_proc_evidence(&(struct ksm_scan_proc){ .merge_any = -1, .mergeable = -1,
									    .merging_pages = 3 }), "merging");
	assert_string_equal(ksm_scan_proc_evidence(&(struct ksm_scan_proc){ .merge_any = -1, .mergeable = -1,
									    .rmap_items = 3 }), "scanned");
	unknown.vma_mg = true;
	assert_true(ksm_scan_proc_mergeable(&unknown));
	assert_string_equal(ksm_scan_proc_evidence(&unknown), "smaps mg");
}

/* Recorded processes 10 and 11 merge 300 pages; 20 and 21 are outside. */
static void test_attribute(void **state)
{
	const struct ksm_scan_proc procs[] = {
		proc(10, 1, 1, 400, 200), proc(20, 1, 1, 50, 40), proc(11, 1, 1, 100, 100), proc(21, 0, 1, 0, 0),
	};
	_cleanup_(pid_list_free) struct pid_list rec = { 0 };
	struct sp_unattributed u;
	struct ksm_scan s;

	(void)state;
	pid_list_add(&rec, 11);
	pid_list_add(&rec, 10);
	pid_list_add(&rec, 99); /* recorded, not merging: counts nothing */
	pid_list_sort_unique(&rec);

	scan_of(&s, procs, ARRAY_SIZE(procs));
	assert_int_equal(sp_unattributed_attribute(&s, &rec, 345, 350, &u), 0);
	assert_null(s.procs);
	assert_int_equal(u.attributed_pages, 300);
	assert_int_equal(u.node_pages, 345);   /* the smaller reading */
	assert_int_equal(u.pages, 45);
	assert_int_equal(u.n, 2);
	assert_int_equal(u.procs[0].p.pid, 20);
	assert_int_equal(u.procs[1].p.pid, 21);
	sp_unattributed_free(&u);

	/* Merging went on while the processes were read: never below 0. */
	scan_of(&s, procs, 1);
	assert_int_equal(sp_unattributed_attribute(&s, &rec, 150, 260, &u), 0);
	assert_int_equal(u.pages, 0);
	assert_int_equal(u.n, 0);
	sp_unattributed_free(&u);

	/* No KSM sysfs: the node-wide figure is unknown, the processes are not. */
	scan_of(&s, procs, ARRAY_SIZE(procs));
	assert_int_equal(sp_unattributed_attribute(&s, &rec, -1, 10, &u), 0);
	assert_int_equal(u.pages, -1);
	assert_int_equal(u.node_pages, -1);
	assert_int_equal(u.n, 2);
	sp_unattributed_free(&u);
}

static void test_describe(void **state)
{
	struct sp_unattributed_proc procs[3] = {
		{ .p = { .pid = 7, .comm = "sleep", .merge_any = 1 }, .cgroup = "/sys/fs/cgroup/x", .container = "c1" },
		{ .p = { .pid = 8, .comm = "", .merge_any = 0, .mergeable = 1 } },
		{ .p = { .pid = 9, .comm = "a", .merge_any = 1 } },
	};
	struct sp_unattributed u = { .procs = procs, .n = 3 };
	_cleanup_free_ char *all = sp_unattributed_describe(&u, 8), *two = sp_unattributed_describe(&u, 2);

	(void)state;
	assert_string_equal(all, "pid 7 (sleep, merge_any, cgroup /sys/fs/cgroup/x, container c1), "
				 "pid 8 (?, mergeable, cgroup -), pid 9 (a, merge_any, cgroup -)");
	assert_string_equal(two, "pid 7 (sleep, merge_any, cgroup /sys/fs/cgroup/x, container c1), "
				 "pid 8 (?, mergeable, cgroup -) and 1 more");
}

static void test_container_from_cgroup(void **state)
{
	static const char *const cases[][2] = {
		{ "/sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice/crio-3f2a.scope", "3f2a" },
		{ "/sys/fs/cgroup/system.slice/docker-abc.scope", "abc" },
		{ "/sys/fs/cgroup/machine.slice/libpod-77.scope", "77" },
		{ "/sys/fs/cgroup/k8s.io/cri-containerd-99.scope", "99" },
		{ "/sys/fs/cgroup/pids/samepage-test/c1-7216", "c1-7216" },
		{ "/sys/fs/cgroup/machine.slice/libpod-conmon-77.scope", NULL },
		{ "/sys/fs/cgroup/x/crio-conmon-1.scope", NULL },
		{ "/sys/fs/cgroup/x/.scope", NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *id = sp_container_from_cgroup(cases[i][0]);

		if (cases[i][1])
			assert_string_equal(id, cases[i][1]);
		else
			assert_null(id);
	}
}

static void test_smaps_mg(void **state)
{
	(void)state;
	assert_true(ksm_smaps_text_has_mg("00400000-00401000 r-xp 0 0 0 /x\nSize: 4 kB\n"
					  "VmFlags: rd ex mr mw me dw\n7f00-7f01 rw-p\nVmFlags: rd wr mr mw me ac mg\n"));
	assert_true(ksm_smaps_text_has_mg("VmFlags: mg rd"));
	assert_false(ksm_smaps_text_has_mg("VmFlags: rd wr mr mw me ac\nName: mg\n"));
	assert_false(ksm_smaps_text_has_mg("VmFlags: rd wrmg mgx\n"));
	assert_false(ksm_smaps_text_has_mg(""));
}

static void write_file(const char *dir, const char *name, const char *text)
{
	_cleanup_free_ char *path = NULL;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void fake_proc(const char *root, int pid, const char *comm, const char *ksm_stat, const char *smaps)
{
	_cleanup_free_ char *dir = NULL, *stat = NULL;

	assert_true(asprintf(&dir, "%s/%d", root, pid) > 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_true(asprintf(&stat, "%d (%s) S 1 1 1 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 4242 0 0\n", pid, comm) > 0);
	write_file(dir, "stat", stat);
	write_file(dir, "ksm_stat", ksm_stat);
	if (smaps)
		write_file(dir, "smaps", smaps);
}

/* A 6.18-style process with merge_any, a madvise'd one, an idle one, a
 * kernel thread (empty ksm_stat), and on an older kernel (no merge_any or
 * mergeable lines) one whose smaps shows `mg`, seen only by a deep scan. */
static void test_scan_fake_proc(void **state)
{
	char root[] = "/tmp/test-unattributed.XXXXXX";
	struct ksm_scan s;
	sp_error_t err = NULL;
	_cleanup_free_ char *cmd = NULL;

	(void)state;
	assert_non_null(mkdtemp(root));
	fake_proc(root, 100, "attacker", "ksm_rmap_items 0\nksm_zero_pages 0\nksm_merging_pages 0\n"
		  "ksm_process_profit 0\nksm_merge_any: yes\nksm_mergeable: yes\n", NULL);
	fake_proc(root, 101, "madv", "ksm_rmap_items 0\nksm_merging_pages 0\nksm_merge_any: no\nksm_mergeable: yes\n",
		  NULL);
	fake_proc(root, 102, "idle", "ksm_rmap_items 0\nksm_merging_pages 0\nksm_merge_any: no\nksm_mergeable: no\n",
		  "VmFlags: rd wr mg\n");
	fake_proc(root, 103, "kthread", "", NULL);
	fake_proc(root, 104, "old", "ksm_rmap_items 0\nksm_merging_pages 0\n", "VmFlags: rd wr\nVmFlags: rd wr mg\n");
	setenv("SAMEPAGE_PROC_ROOT", root, 1);

	assert_int_equal(ksm_scan_node(0, &s, &err), 0);
	assert_int_equal(s.n, 2);
	ksm_scan_free(&s);

	assert_int_equal(ksm_scan_node(KSM_SCAN_SMAPS, &s, &err), 0);
	assert_int_equal(s.n, 3);
	for (size_t i = 0; i < s.n; i++) {
		if (s.procs[i].pid == 100) {
			assert_string_equal(s.procs[i].comm, "attacker");
			assert_int_equal(s.procs[i].start_time, 4242);
		} else if (s.procs[i].pid == 104) {
			assert_true(s.procs[i].vma_mg);
		} else {
			assert_int_equal(s.procs[i].pid, 101);
		}
	}
	ksm_scan_free(&s);
	unsetenv("SAMEPAGE_PROC_ROOT");
	assert_true(asprintf(&cmd, "rm -rf '%s'", root) > 0);
	assert_int_equal(system(cmd), 0);
}

static void test_config_key(void **state)
{
	struct sp_config cfg;
	sp_error_t err = NULL;

	(void)state;
	sp_config_defaults(&cfg);
	assert_int_equal(cfg.unattributed, SP_UNATTRIBUTED_REFUSE);
	assert_int_equal(sp_config_parse("{\"unattributed\": \"warn\"}", "c.json", &cfg, &err), 0);
	assert_int_equal(cfg.unattributed, SP_UNATTRIBUTED_WARN);
	assert_string_equal(sp_unattributed_mode_name(cfg.unattributed), "warn");
	assert_true(sp_config_parse("{\"unattributed\": \"ignore\"}", "c.json", &cfg, &err) < 0);
	assert_string_equal(sp_error_msg(err), "c.json: `unattributed`: invalid value `ignore` (want refuse or warn)");
	sp_error_free(&err);
	assert_true(sp_config_parse("{\"unattributed\": false}", "c.json", &cfg, &err) < 0);
	assert_string_equal(sp_error_msg(err), "c.json: `unattributed` must be a string");
	sp_error_free(&err);
}

/* The gate asks nothing of /proc under shared or warn. */
static void test_gate_relaxed(void **state)
{
	struct sp_state st = { 0 };
	struct sp_config cfg;
	sp_error_t err = NULL;

	(void)state;
	setenv("SAMEPAGE_PROC_ROOT", "/nonexistent", 1);
	sp_config_defaults(&cfg);
	cfg.domain_policy = SP_POLICY_SHARED;
	assert_int_equal(sp_unattributed_gate(&st, &cfg, "team-a", &err), 0);
	cfg.domain_policy = SP_POLICY_EXCLUSIVE;
	cfg.unattributed = SP_UNATTRIBUTED_WARN;
	assert_int_equal(sp_unattributed_gate(&st, &cfg, "team-a", &err), 0);
	/* refuse: the scan runs, and an unreadable /proc is an error, not a pass. */
	cfg.unattributed = SP_UNATTRIBUTED_REFUSE;
	assert_int_equal(sp_unattributed_gate(&st, &cfg, "team-a", &err), -ENOENT);
	assert_non_null(strstr(sp_error_msg(err), "/nonexistent"));
	sp_error_free(&err);
	unsetenv("SAMEPAGE_PROC_ROOT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evidence),
		cmocka_unit_test(test_attribute),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_container_from_cgroup),
		cmocka_unit_test(test_smaps_mg),
		cmocka_unit_test(test_scan_fake_proc),
		cmocka_unit_test(test_config_key),
		cmocka_unit_test(test_gate_relaxed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
