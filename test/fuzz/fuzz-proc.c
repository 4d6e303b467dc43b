/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Text the kernel writes and samepage parses: /proc/<pid>/stat
 * (proc_info_parse), /proc/<pid>/ksm_stat (ksm_proc_stat_parse) and the
 * native backend's ksm.stat (ksm_native_parse_stat).
 *
 * Each input is fed raw to all three parsers (no crash, no leak, sane
 * output), and is also read as the values of a well-formed file, which is
 * printed the way the kernel prints it and parsed back: what the kernel
 * printed must come out.  A process chooses its own comm (prctl PR_SET_NAME,
 * any bytes but NUL), so the stat line's comm is attacker-controlled.
 */
#include <inttypes.h>
#include <stdbool.h>
#include "test/fuzz/fuzz.h"
#include "host/ksm.h"
#include "cgroupfs/native.h"
#include "host/proc.h"

struct reader {
	const uint8_t *p;
	size_t left;
};

static uint64_t take_u64(struct reader *r)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < 8 && r->left; i++, r->left--)
		v = v << 8 | *r->p++;
	return v;
}

static uint8_t take_u8(struct reader *r)
{
	if (!r->left)
		return 0;
	r->left--;
	return *r->p++;
}

/* A growing text buffer; the harness aborts on allocation failure. */
struct text {
	char *s;
	size_t len;
};

__attribute__((format(printf, 2, 3))) static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	char *more;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&more, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	t->s = realloc(t->s, t->len + n + 1);
	if (!t->s)
		abort();
	memcpy(t->s + t->len, more, n + 1);
	t->len += n;
	free(more);
}

static void raw_inputs(const uint8_t *data, size_t size)
{
	_cleanup_error_ sp_error_t err = NULL;
	char *text = fuzz_strndup(data, size);
	struct proc_info pi;
	struct ksm_proc_stat ks;
	struct ksm_cg_stat cs;

	if (proc_info_parse(text, &pi) == 0)
		FUZZ_ASSERT(memchr(pi.comm, '\0', sizeof(pi.comm)), "comm not terminated");
	FUZZ_ASSERT(ksm_proc_stat_parse(text, &ks) == 0, "ksm_proc_stat_parse failed");
	FUZZ_ASSERT(ks.merge_any >= -1 && ks.merge_any <= 1, "merge_any %d", ks.merge_any);
	FUZZ_ASSERT(ks.mergeable >= -1 && ks.mergeable <= 1, "mergeable %d", ks.mergeable);
	if (ksm_native_parse_stat(text, "fuzz/ksm.stat", &cs, &err) < 0)
		FUZZ_ASSERT(err && err->msg, "ksm.stat failed without a message");
	free(text);
}

/* fs/proc/array.c: "%d (%s) %c" then 49 numbers; field 20 is num_threads,
 * 22 the start time. */
static void stat_line(struct reader *r)
{
	static const char states[] = "RSDTtXZPI";
	struct proc_info pi;
	struct text t = { 0 };
	char comm[16];
	size_t clen = take_u8(r) % 16, i;
	pid_t pid = (pid_t)(take_u64(r) & 0x3fffffff), ppid = (pid_t)(take_u64(r) & 0x3fffffff);
	char state = states[take_u8(r) % (sizeof(states) - 1)];
	long threads = (long)(take_u64(r) & 0x7fffffff);
	unsigned long long start = take_u64(r);
	int field;

	for (i = 0; i < clen; i++) {
		comm[i] = (char)take_u8(r);
		if (comm[i] == '\0')
			comm[i] = ')';
	}
	comm[clen] = '\0';

	text_add(&t, "%d (%s) %c %d", (int)pid, comm, state, (int)ppid);
	for (field = 5; field <= 52; field++) {
		if (field == 20)
			text_add(&t, " %ld", threads);
		else if (field == 22)
			text_add(&t, " %llu", start);
		else
			text_add(&t, " %" PRId64, (int64_t)take_u64(r) >> (take_u8(r) % 64));
	}
	text_add(&t, "\n");

	FUZZ_ASSERT(proc_info_parse(t.s, &pi) == 0, "rejected: %s", t.s);
	FUZZ_ASSERT(pi.pid == pid && pi.ppid == ppid && pi.state == state && pi.num_threads == threads &&
			    pi.start_time == start && strcmp(pi.comm, comm) == 0,
		    "misread: %s -> pid %d ppid %d state %c threads %ld start %llu comm `%s`", t.s, (int)pi.pid,
		    (int)pi.ppid, pi.state, pi.num_threads, pi.start_time, pi.comm);
	free(t.s);
}

/* fs/proc/base.c proc_pid_ksm_stat(); the last two lines since 6.13. */
static void ksm_stat_text(struct reader *r)
{
	struct ksm_proc_stat ks;
	struct text t = { 0 };
	int64_t rmap = (int64_t)(take_u64(r) >> 1), zero = (int64_t)(take_u64(r) >> 1);
	int64_t merging = (int64_t)(take_u64(r) >> 1), profit = (int64_t)take_u64(r);
	uint8_t flags = take_u8(r);
	bool newer = flags & 1, any = flags & 2, mergeable = flags & 4;

	text_add(&t, "ksm_rmap_items %" PRId64 "\nksm_zero_pages %" PRId64 "\nksm_merging_pages %" PRId64
		     "\nksm_process_profit %" PRId64 "\n",
		 rmap, zero, merging, profit);
	if (newer)
		text_add(&t, "ksm_merge_any: %s\nksm_mergeable: %s\n", any ? "yes" : "no", mergeable ? "yes" : "no");

	FUZZ_ASSERT(ksm_proc_stat_parse(t.s, &ks) == 0, "rejected: %s", t.s);
	FUZZ_ASSERT(ks.rmap_items == rmap && ks.zero_pages == zero && ks.merging_pages == merging &&
			    ks.process_profit == profit,
		    "misread counters: %s", t.s);
	FUZZ_ASSERT(ks.merge_any == (newer ? any : -1) && ks.mergeable == (newer ? mergeable : -1),
		    "misread flags (%d %d): %s", ks.merge_any, ks.mergeable, t.s);
	free(t.s);
}

/* kernel/patches/0003: six "key value" lines.  The parser must not depend
 * on their order and must skip keys a later kernel may add. */
static void cg_stat_text(struct reader *r)
{
	static const char *const keys[6] = {
		"ksm_rmap_items", "ksm_zero_pages", "ksm_merging_pages",
		"ksm_process_profit", "nr_processes", "nr_merge_any",
	};
	_cleanup_error_ sp_error_t err = NULL;
	struct ksm_cg_stat cs;
	struct text t = { 0 };
	uint64_t v[6];
	uint8_t order = take_u8(r), extra = take_u8(r);
	int i;

	for (i = 0; i < 6; i++)
		v[i] = take_u64(r);
	v[1] >>= 1; /* printed with %ld; the kernel's count is never negative */
	for (i = 0; i < 6; i++) {
		int k = (i + order) % 6;

		if (extra & (1 << i))
			text_add(&t, "ksm_future_counter_%d %u\n", i, (unsigned)take_u8(r));
		if (k == 3 || k == 1)
			text_add(&t, "%s %" PRId64 "\n", keys[k], (int64_t)v[k]);
		else
			text_add(&t, "%s %" PRIu64 "\n", keys[k], v[k]);
	}

	FUZZ_ASSERT(ksm_native_parse_stat(t.s, "ksm.stat", &cs, &err) == 0, "rejected (%s): %s", sp_error_msg(err),
		    t.s);
	FUZZ_ASSERT(cs.rmap_items == v[0] && cs.zero_pages == v[1] && cs.merging_pages == v[2] &&
			    cs.process_profit == (int64_t)v[3] && cs.nr_processes == v[4] && cs.nr_merge_any == v[5],
		    "misread: %s", t.s);
	free(t.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = { data, size };

	if (size > 64 * 1024)
		return -1;
	raw_inputs(data, size);
	stat_line(&r);
	ksm_stat_text(&r);
	cg_stat_text(&r);
	return 0;
}
