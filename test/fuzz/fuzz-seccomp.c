/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The classic-BPF interpreter samepage runs a process's seccomp filters with
 * (seccomp_bpf_run, seccomp_filters_eval), and the precedence and naming of
 * actions.  The programs come from the kernel, which accepted them; the
 * interpreter must still survive any bytes (memory safety, termination).
 *
 * Input: 1 byte filter count, the call (arch, nr, six args), then the
 * instructions, 8 bytes each, split evenly between the filters.
 * fuzz-seccomp-kernel checks the interpreter's verdicts against the kernel.
 */
#include <stdbool.h>
#include <linux/seccomp.h>
#include "test/fuzz/fuzz.h"
#include "base/kernel-abi.h"
#include "host/seccomp.h"


#define HEADER (1 + 4 + 4 + 6 * 8)

static void check_action(uint32_t r)
{
	uint32_t action = r & SECCOMP_RET_ACTION_FULL;
	char buf[64];
	size_t n;

	FUZZ_ASSERT(seccomp_action_allows(r) == (action == SECCOMP_RET_ALLOW || action == SECCOMP_RET_LOG),
		    "allows(0x%08x)", r);
	/* Like the kernel, a tie keeps the first: ALLOW's data is ignored. */
	if (action != SECCOMP_RET_ALLOW) {
		FUZZ_ASSERT(seccomp_action_combine(SECCOMP_RET_ALLOW, r) == r, "ALLOW beats 0x%08x", r);
		FUZZ_ASSERT(seccomp_action_combine(r, SECCOMP_RET_ALLOW) == r, "ALLOW beats 0x%08x", r);
	}
	FUZZ_ASSERT((seccomp_action_combine(SECCOMP_RET_KILL_PROCESS, r) & SECCOMP_RET_ACTION_FULL) ==
			    SECCOMP_RET_KILL_PROCESS ||
		    (r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_KILL_PROCESS, "0x%08x beats KILL_PROCESS", r);
	for (n = 1; n <= sizeof(buf); n++) {
		memset(buf, 'x', sizeof(buf));
		FUZZ_ASSERT(seccomp_action_describe(r, buf, n) == buf, "describe");
		FUZZ_ASSERT(strnlen(buf, n) < n, "describe overran %zu bytes", n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_error_ sp_error_t err = NULL;
	struct seccomp_call call;
	struct seccomp_filters f = { 0 };
	size_t ninsn, per, i;
	uint32_t combined = SECCOMP_RET_ALLOW, action;
	bool any_invalid = false, any_ip = false, ip;
	int ret;

	if (size < HEADER || size > HEADER + 4 * 4096 * sizeof(struct sock_filter))
		return -1;
	f.n = data[0] % 4 + 1;
	memcpy(&call.arch, data + 1, 4);
	memcpy(&call.nr, data + 5, 4);
	memcpy(call.args, data + 9, sizeof(call.args));
	ninsn = (size - HEADER) / sizeof(struct sock_filter);
	per = ninsn / f.n;

	/* Each program in its own allocation, so ASan sees a read past it. */
	f.progs = calloc(f.n, sizeof(*f.progs));
	f.lens = calloc(f.n, sizeof(*f.lens));
	if (!f.progs || !f.lens)
		abort();
	for (i = 0; i < f.n; i++) {
		uint32_t r1 = 0, r2 = 0;
		bool ip2;
		int ret2;

		f.lens[i] = i == f.n - 1 ? ninsn - per * i : per;
		f.progs[i] = malloc(f.lens[i] * sizeof(struct sock_filter) + 1);
		if (!f.progs[i])
			abort();
		memcpy(f.progs[i], data + HEADER + per * i * sizeof(struct sock_filter),
		       f.lens[i] * sizeof(struct sock_filter));

		ret = seccomp_bpf_run(f.progs[i], f.lens[i], &call, &r1, &ip);
		ret2 = seccomp_bpf_run(f.progs[i], f.lens[i], &call, &r2, &ip2);
		FUZZ_ASSERT(ret == 0 || ret == -EINVAL, "ret %d", ret);
		FUZZ_ASSERT(ret == ret2 && (ret < 0 || (r1 == r2 && ip == ip2)), "not deterministic");
		if (ret < 0) {
			any_invalid = true;
			continue;
		}
		any_ip |= ip;
		check_action(r1);
		action = seccomp_action_combine(combined, r1);
		FUZZ_ASSERT(action == combined || action == r1, "combine invented 0x%08x", action);
		combined = action;
	}

	ret = seccomp_filters_eval(&f, &call, &action, &ip, &err);
	if (any_invalid) {
		FUZZ_ASSERT(ret == -EINVAL && err && err->msg, "invalid filter accepted by eval (%d)", ret);
	} else {
		FUZZ_ASSERT(ret == 0, "eval failed: %s", sp_error_msg(err));
		FUZZ_ASSERT(action == combined, "eval 0x%08x, filters one by one 0x%08x", action, combined);
		FUZZ_ASSERT(ip == any_ip, "reads_ip");
	}
	seccomp_filters_free(&f);
	return 0;
}
