#!/usr/bin/env bats
# samepage-hook + runc or crun (RUNTIME) on the native backend (the `ksm` cgroup controller of
# kernel/patches/).  Runs inside the test guest (kernel/guest/check.sh):
# cgroup v2 only, the host's root read-only, /tmp a tmpfs.
#
# Before the patch series exists the guest kernel has no controller: the
# first test then checks that the runtime and the hook work in the guest at all
# (stock backend), and the controller's tests skip.

load helpers

setup() {
	ktest_setup
}

teardown() {
	ktest_teardown
}

@test "guest: $RUNTIME and the hook enable an annotated container (stock before the series, native after)" {
	local b pid
	b=$(make_bundle g1 samepage.io/merge=true -- fillmem 2 3)
	start_container g1 "$b"
	wait_ready_n g1 1
	pid=$(container_pid g1)
	[ "$(mergeable_vmas "$pid")" -gt 0 ] || fail "init pid $pid has no mergeable VMA"
	[ "$(state_field g1 backend)" = "$(expected_backend)" ] || fail "backend $(state_field g1 backend)"
}

@test "native: the container's cgroup is enabled, and so are its init's children" {
	local b cg pid n=0
	requires_controller
	b=$(make_bundle c1 samepage.io/merge=true -- fillmem 2 1 2)
	start_container c1 "$b"
	wait_ready_n c1 3
	cg=$(container_cgroup c1)
	[ "$(cat "$cg/ksm.enable")" = 1 ] || fail "$cg/ksm.enable is $(cat "$cg/ksm.enable")"
	[ "$(cat "$cg/ksm.enable.effective")" = 1 ]
	for pid in $(container_pids c1); do
		[ "$(mergeable_vmas "$pid")" -gt 0 ] || fail "pid $pid ($(cat "/proc/$pid/comm")) has no mergeable VMA"
		n=$((n + 1))
	done
	[ "$n" -eq 3 ] || fail "$n processes in $cg, 3 expected"
	[ "$(state_field c1 backend)" = native ]
	[ "$(state_field c1 cgroup)" = "$cg" ]
}

@test "native: a process added with $RUNTIME exec is enabled too (attach)" {
	local b pid init found=""
	requires_controller
	b=$(make_bundle c2 samepage.io/merge=true -- sleep 1000)
	start_container c2 "$b"
	init=$(container_pid c2)
	rt exec -d c2 /bin/fillmem 1 7 </dev/null >"$BATS_TEST_TMPDIR/c2-exec.log" 2>&1 ||
		fail "$RUNTIME exec: $(cat "$BATS_TEST_TMPDIR/c2-exec.log")"
	for pid in $(container_pids c2); do
		[ "$pid" = "$init" ] || found=$pid
	done
	[ -n "$found" ] || fail "no exec'd process in c2"
	[ "$(mergeable_vmas "$found")" -gt 0 ] || fail "exec'd pid $found has no mergeable VMA"
	[ "$(mergeable_vmas "$init")" -gt 0 ]
}

@test "guest: a container without the annotation is left alone" {
	local b cg pid
	b=$(make_bundle c3 -- fillmem 1 1 1)
	start_container c3 "$b"
	wait_ready_n c3 2
	cg=$(container_cgroup c3)
	if [ -f "$cg/ksm.enable" ]; then
		[ "$(cat "$cg/ksm.enable")" = 0 ]
	fi
	for pid in $(container_pids c3); do
		[ "$(mergeable_vmas "$pid")" -eq 0 ] || fail "pid $pid is mergeable"
	done
}

@test "native: identical containers merge; ksm.stat is the sum of their /proc/<pid>/ksm_stat" {
	local b1 b2 cg i merged=0 id k want sum
	b1=$(make_bundle m1 samepage.io/merge=true -- fillmem 8 5 1)
	b2=$(make_bundle m2 samepage.io/merge=true -- fillmem 8 5 1)
	start_container m1 "$b1"
	start_container m2 "$b2"
	wait_ready_n m1 2
	wait_ready_n m2 2
	ksm_fast
	# 4 processes x 2048 pages, identical across them: everything merges.
	for i in $(seq 1 600); do
		merged=$(($(proc_sum m1 ksm_merging_pages) + $(proc_sum m2 ksm_merging_pages)))
		[ "$merged" -ge $((4 * 2048)) ] && break
		sleep 0.1
	done
	echo "merged pages: $merged after $((i / 10)) s; pages_sharing $(cat $KSM/pages_sharing)" >&2
	[ "$merged" -ge $((4 * 2048)) ] || fail "only $merged pages merged"
	[ "$(cat $KSM/pages_sharing)" -gt 0 ]

	requires_controller
	# Freeze ksmd (merged pages stay) and compare with /proc.
	echo 0 >$KSM/run
	sleep 0.2
	for id in m1 m2; do
		cg=$(container_cgroup "$id")
		cat "$cg/ksm.stat" >&2
		[ "$(kv "$cg/ksm.stat" nr_processes)" -eq 2 ]
		[ "$(kv "$cg/ksm.stat" nr_merge_any)" -eq 2 ]
		for k in ksm_rmap_items ksm_zero_pages ksm_merging_pages ksm_process_profit; do
			sum=$(proc_sum "$id" "$k")
			# v2 of the series calls the sum ksm_process_profit_sum
			want=$(kv "$cg/ksm.stat" "${k/#ksm_process_profit/ksm_process_profit_sum}")
			[ "$want" = "$sum" ] || fail "$cg: ksm.stat $k=$want, sum over /proc/<pid>/ksm_stat=$sum"
		done
	done
}
