#!/usr/bin/env bats
# samepage-hook + runc on the native backend (the `ksm` cgroup controller).
# Runs inside the test guest (kernel/guest/check.sh): cgroup v2 only, a
# kernel with samepage's patch series, the host's root read-only.
#
# On 6.12 /proc/<pid>/ksm_stat has no ksm_merge_any line; whole-process KSM
# shows as the `mg` (VM_MERGEABLE) flag in /proc/<pid>/smaps.

load '../integration/helpers'

setup() {
	requires root runc jq busybox
	grep -qw ksm /sys/fs/cgroup/cgroup.controllers || fail "the kernel has no ksm cgroup controller"
	setup_common
	ksm_save
}

teardown() {
	teardown_common
	# helpers.bash cleans the hybrid layout (/sys/fs/cgroup/<ctrl>/...);
	# here the runtime's parent is directly below the v2 root.
	if [ -d "/sys/fs/cgroup/$CGROUP_PARENT" ]; then
		find "/sys/fs/cgroup/$CGROUP_PARENT" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	fi
}

# The container's cgroup2 directory.
container_cgroup() {
	local pid
	pid=$(container_pid "$1")
	echo "/sys/fs/cgroup$(sed -n 's/^0:://p' "/proc/$pid/cgroup")"
}

# Number of VMAs of a process with VM_MERGEABLE.
mergeable_vmas() {
	grep -c '^VmFlags:.* mg' "/proc/$1/smaps" || true
}

# Wait until the container's log has N "ready" lines (fillmem with children).
wait_ready_n() {
	local id=$1 want=$2 i
	for i in $(seq 1 600); do
		[ "$(grep -c '^ready' "$BATS_TEST_TMPDIR/$id.log" 2>/dev/null)" -ge "$want" ] && return 0
		sleep 0.1
	done
	fail "container $id: $want ready lines expected: $(cat "$BATS_TEST_TMPDIR/$id.log")"
}

stat_field() { # stat_field FILE KEY
	awk -v k="$2" '$1 == k {print $2}' "$1"
}

@test "native: an annotated container is enabled through its cgroup, children included" {
	local b cg pid n=0
	b=$(make_bundle c1 samepage.io/merge=true -- fillmem 2 1 2)
	start_container c1 "$b"
	assert_success
	wait_ready_n c1 3
	cg=$(container_cgroup c1)
	[ "$(cat "$cg/ksm.enable")" = 1 ] || fail "$cg/ksm.enable is $(cat "$cg/ksm.enable")"
	[ "$(cat "$cg/ksm.enable.effective" 2>/dev/null || echo 1)" = 1 ]
	for pid in $(container_pids c1); do
		[ "$(mergeable_vmas "$pid")" -gt 0 ] || fail "pid $pid ($(cat /proc/$pid/comm)) has no mergeable VMA"
		n=$((n + 1))
	done
	[ "$n" -eq 3 ]
	# The hook says which backend it used.
	run_ok jq -r '.containers[] | select(.id == "c1") | .backend' "$STATE_DIR/state.json"
	assert_output native
	run_ok jq -r '.containers[] | select(.id == "c1") | .cgroup' "$STATE_DIR/state.json"
	assert_output "$cg"
}

@test "native: a process added with runc exec is enabled too (attach)" {
	local b pid init found=0
	b=$(make_bundle c2 samepage.io/merge=true -- sleep 1000)
	start_container c2 "$b"
	assert_success
	init=$(container_pid c2)
	run_ok rt exec -d c2 /bin/fillmem 1 7
	for i in $(seq 1 100); do
		for pid in $(container_pids c2); do
			[ "$pid" = "$init" ] && continue
			[ -r "/proc/$pid/smaps" ] || continue
			found=$pid
		done
		[ "$found" != 0 ] && break
		sleep 0.1
	done
	[ "$found" != 0 ] || fail "no exec'd process in c2"
	[ "$(mergeable_vmas "$found")" -gt 0 ] || fail "exec'd pid $found has no mergeable VMA"
	[ "$(mergeable_vmas "$init")" -gt 0 ]
}

@test "native: a container without the annotation is left alone" {
	local b cg pid
	b=$(make_bundle c3 -- sleep 1000)
	start_container c3 "$b"
	assert_success
	cg=$(container_cgroup c3)
	if [ -f "$cg/ksm.enable" ]; then
		[ "$(cat "$cg/ksm.enable")" = 0 ]
	fi
	for pid in $(container_pids c3); do
		[ "$(mergeable_vmas "$pid")" -eq 0 ] || fail "pid $pid is mergeable"
	done
}

@test "native: identical containers merge; ksm.stat is the sum of their /proc/<pid>/ksm_stat" {
	local b1 b2 cg1 cg2 cg i merged=0 pid k sum want
	b1=$(make_bundle m1 samepage.io/merge=true -- fillmem 8 5 1)
	b2=$(make_bundle m2 samepage.io/merge=true -- fillmem 8 5 1)
	start_container m1 "$b1"
	assert_success
	start_container m2 "$b2"
	assert_success
	wait_ready_n m1 2
	wait_ready_n m2 2
	ksm_fast
	cg1=$(container_cgroup m1)
	cg2=$(container_cgroup m2)
	# 4 processes x 2048 pages, identical across them: everything merges.
	for i in $(seq 1 600); do
		merged=$(($(stat_field "$cg1/ksm.stat" ksm_merging_pages) + $(stat_field "$cg2/ksm.stat" ksm_merging_pages)))
		[ "$merged" -ge $((4 * 2048)) ] && break
		sleep 0.1
	done
	echo "merged pages: $merged; ksmd pages_sharing $(cat /sys/kernel/mm/ksm/pages_sharing)" >&2
	[ "$merged" -ge $((4 * 2048)) ] || fail "only $merged pages merged"
	[ "$(cat /sys/kernel/mm/ksm/pages_sharing)" -gt 0 ]

	# Freeze ksmd (merged pages stay) and compare with /proc.
	echo 0 > /sys/kernel/mm/ksm/run
	sleep 0.2
	for cg in "$cg1" "$cg2"; do
		cat "$cg/ksm.stat" >&2
		[ "$(stat_field "$cg/ksm.stat" nr_processes)" -eq 2 ]
		[ "$(stat_field "$cg/ksm.stat" nr_merge_any)" -eq 2 ]
		for k in ksm_rmap_items ksm_zero_pages ksm_merging_pages ksm_process_profit; do
			sum=0
			for pid in $(cat "$cg/cgroup.procs"); do
				sum=$((sum + $(awk -v k="$k" '$1 == k {print $2}' "/proc/$pid/ksm_stat")))
			done
			want=$(stat_field "$cg/ksm.stat" "$k")
			[ "$want" = "$sum" ] || fail "$cg: ksm.stat $k=$want, sum over /proc/<pid>/ksm_stat=$sum"
		done
	done
}
