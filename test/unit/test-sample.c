/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * host/sample: the ksm_stat (through host/ksm.h's parser) and statm texts
 * of one process, and the once-per-mm summing (with a fake comparator, and
 * for real with a CLONE_VM child and kcmp).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <cmocka.h>

#include "base/cleanup.h"
#include "host/sample.h"

static void test_parse(void **state)
{
	struct ksm_proc_sample s;

	(void)state;
	/* 6.18 prints "key: value" for the flags. */
	assert_int_equal(ksm_proc_sample_parse("ksm_rmap_items 10\nksm_zero_pages 2\nksm_merging_pages 7\n"
					       "ksm_process_profit -1234\nksm_merge_any: yes\nksm_mergeable: yes\n",
					       "765 429 402 5 0 123 0\n", &s),
			 0);
	assert_int_equal(s.rmap_items, 10);
	assert_int_equal(s.zero_pages, 2);
	assert_int_equal(s.merging_pages, 7);
	assert_int_equal(s.profit, -1234);
	assert_int_equal(s.merge_any, 1);
	assert_int_equal(s.vm_pages, 765);
	assert_int_equal(s.resident_pages, 429);
	assert_int_equal(s.anon_pages, 27);
	assert_int_equal(ksm_proc_sample_parse("ksm_merge_any: no\n", "1 1 1\n", &s), 0);
	assert_int_equal(s.merge_any, 0);
	/* 6.12 has no flag lines: unknown, not "no". */
	assert_int_equal(ksm_proc_sample_parse("ksm_rmap_items 0\nksm_zero_pages 0\nksm_merging_pages 0\n"
					       "ksm_process_profit 0\n",
					       "1 1 1\n", &s),
			 0);
	assert_int_equal(s.merge_any, -1);
	/* No mm (zombie, kernel thread): the kernel prints nothing. */
	assert_int_equal(ksm_proc_sample_parse("", "0 0 0\n", &s), -ENODATA);
	assert_int_equal(ksm_proc_sample_parse("ksm_rmap_items 1\n", "garbage", &s), -EINVAL);
}

static void test_read_self(void **state)
{
	struct ksm_proc_sample s;
	sp_error_t err = NULL;

	(void)state;
	assert_int_equal(ksm_proc_sample_read(getpid(), &s, &err), 0);
	assert_int_equal(s.pid, getpid());
	assert_true(s.resident_pages > 0);
	/* pid_max is at most 2^22: this one does not exist. */
	assert_int_equal(ksm_proc_sample_read(0x3ffffff0, &s, &err), -ESRCH);
	assert_null(err);
}

static void test_share_and_add(void **state)
{
	struct ksm_group_stat a, b;

	(void)state;
	ksm_group_stat_init(&a);
	assert_true(ksm_group_merged_share(&a, 4096) == 0);
	a.processes = 2;
	a.merge_any = 2;
	a.merging_pages = 50;
	a.zero_pages = 50;
	a.anon_bytes = 150 * 4096; /* zero pages are not resident: 150 + 50 */
	assert_true(ksm_group_merged_share(&a, 4096) > 0.4999 && ksm_group_merged_share(&a, 4096) < 0.5001);
	ksm_group_stat_init(&b);
	b.processes = 1;
	b.merge_any_known = false;
	b.profit = -100;
	ksm_group_stat_add(&a, &b);
	assert_int_equal(a.processes, 3);
	assert_false(a.merge_any_known);
	assert_int_equal(a.profit, -100);
}

/* pids 10 and 11 share an mm, 20 and 21 do not (same figures, though). */
static bool fake_same_mm(pid_t a, pid_t b)
{
	return (a == 10 && b == 11) || (a == 11 && b == 10);
}

static void test_sum_once_per_mm(void **state)
{
	struct ksm_proc_sample s[5] = {
		{ .pid = 21, .merging_pages = 5, .profit = 100, .merge_any = 1, .anon_pages = 10 },
		{ .pid = 10, .merging_pages = 3, .profit = 60, .merge_any = 1, .anon_pages = 8 },
		{ .pid = 11, .merging_pages = 3, .profit = 60, .merge_any = 1, .anon_pages = 8 },
		{ .pid = 20, .merging_pages = 5, .profit = 100, .merge_any = 1, .anon_pages = 10 },
		{ .pid = 30, .merging_pages = 0, .profit = 0, .merge_any = 0, .anon_pages = 4 },
	};
	struct ksm_group_stat g;

	(void)state;
	ksm_stat_sum_samples(s, 5, fake_same_mm, &g);
	assert_int_equal(g.processes, 4);
	assert_int_equal(g.merge_any, 3);
	assert_int_equal(g.merging_pages, 13);
	assert_int_equal(g.profit, 260);
	assert_int_equal(g.anon_bytes, 32 * (uint64_t)sysconf(_SC_PAGESIZE));
}

static int vm_child(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed assertion must not leave it behind */
	for (;;)
		pause();
	return 0;
}

/* For real: a CLONE_VM child shares our mm without being a thread; a
 * forked child has its own; a reaped pid is skipped. */
static void test_real_processes(void **state)
{
	size_t stack_size = 64 * 1024;
	char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pid_t pids[4], vm, forked, gone;
	struct ksm_group_stat g;
	sp_error_t err = NULL;

	(void)state;
	assert_true(stack != MAP_FAILED);
	vm = clone(vm_child, stack + stack_size, CLONE_VM | SIGCHLD, NULL);
	assert_true(vm > 0);
	forked = fork();
	if (forked == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	gone = fork();
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, NULL, 0), gone);

	pids[0] = getpid();
	pids[1] = vm;
	pids[2] = forked;
	pids[3] = gone;
	/* us + the forked child; the CLONE_VM child is us again, gone is gone.
	 * The two views of our mm are read at different instants, and the
	 * reading itself may grow our heap in between (then the figures differ
	 * and the sharer counts apart, as in the product): a warm-up read first,
	 * then a few tries, every one of which must see the forked child apart. */
	for (int tries = 0; tries < 5; tries++) {
		assert_int_equal(ksm_stat_pids(pids, 4, &g, &err), 0);
		assert_true(g.processes >= 2);
		if (g.processes == 2)
			break;
	}
	assert_int_equal(g.processes, 2);
	assert_true(g.anon_bytes > 0);

	kill(vm, SIGKILL);
	kill(forked, SIGKILL);
	waitpid(vm, NULL, 0);
	waitpid(forked, NULL, 0);
	munmap(stack, stack_size);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_read_self),
		cmocka_unit_test(test_share_and_add),
		cmocka_unit_test(test_sum_once_per_mm),
		cmocka_unit_test(test_real_processes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
