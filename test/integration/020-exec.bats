#!/usr/bin/env bats
# samepage exec: KSM for any command, kept across exec and fork.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	requires root prctl_ksm
}

@test "exec: --help" {
	run_ok "$SAMEPAGE" exec --help
	assert_output --partial "Usage: samepage exec"
}

@test "exec: the command and its children run with ksm_merge_any" {
	run_ok "$SAMEPAGE" exec -- sh -c 'grep ksm_merge_any /proc/self/ksm_stat; sh -c "grep ksm_merge_any /proc/self/ksm_stat"'
	[ "$(grep -c 'ksm_merge_any: yes' <<< "$output")" -eq 2 ] || fail "not inherited: $output"
	run_ok sh -c 'grep ksm_merge_any /proc/self/ksm_stat'
	assert_output --partial "ksm_merge_any: no"
}

@test "exec: keeps the command's exit status" {
	run "$SAMEPAGE" exec -- sh -c 'exit 42'
	[ "$status" -eq 42 ]
	run "$SAMEPAGE" exec -- true
	[ "$status" -eq 0 ]
}

@test "exec: a missing command is 127 with a message naming it" {
	run -127 "$SAMEPAGE" exec -- /no/such/cmd
	assert_output --partial "run \`/no/such/cmd\`"
	run "$SAMEPAGE" exec
	[ "$status" -eq 125 ]
	assert_output --partial "missing CMD"
}

@test "exec: a kernel without prctl KSM gives a clear error" {
	requires cmd:gcc
	# Make prctl(PR_SET_MEMORY_MERGE) answer EINVAL, as a pre-6.4 kernel
	# does, with a seccomp filter.
	local deny=$BATS_TEST_TMPDIR/deny-prctl
	gcc -O2 -o "$deny" -x c - <<'C'
#include <errno.h>
#include <stddef.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prctl, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 67, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return 99;
	execv(argv[1], argv + 1);
	return 98;
}
C
	run "$deny" "$SAMEPAGE" exec -- true
	[ "$status" -eq 125 ] || fail "status $status: $output"
	assert_output --partial "this kernel has no whole-process KSM"
}
