#!/usr/bin/env bats
# Every ptrace wait has a deadline: `samepage enable --pid` on a process
# that cannot be stopped (a vfork parent; a process whose own seccomp
# supervisor took a notification and never answers) ends within the
# deadline with a message saying so, leaves the process as it was, and a
# container started meanwhile is not held up.

load helpers

setup() {
	setup_common
	STUCK_PIDS=()
}

teardown() {
	local p c
	for p in "${STUCK_PIDS[@]}"; do
		# The vfork child or the supervisor child first, then the process.
		for c in $(cat /proc/$p/task/*/children 2>/dev/null); do kill -9 "$c" 2>/dev/null || true; done
		kill -9 "$p" 2>/dev/null || true
	done
	teardown_common
}

# start_stuck MODE: start the workload, wait for "ready" and for the
# process to sit in the kernel (state D for vfork; the user-notification
# wait only turns killable, D, once something wakes it); sets STUCK.
start_stuck() {
	local out=$BATS_TEST_TMPDIR/stuck-$1.out i want=D
	[ "$1" = vfork ] || want='[SD]'
	"$(static_test_bin stuck)" "$1" > "$out" 2>&1 &
	STUCK=$!
	STUCK_PIDS+=("$STUCK")
	for i in $(seq 1 100); do
		grep -q ready "$out" && awk '/^State:/ {print $2}' "/proc/$STUCK/status" | grep -q "$want" && return 0
		sleep 0.05
	done
	fail "stuck $1 not ready: $(cat "$out"); $(grep State /proc/$STUCK/status)"
}

# enable_bounded MODE: `samepage enable --pid` on the stuck process ends
# within 5 s (deadline 1 s, release grace 0.2 s) with the deadline message,
# and the process's signal mask is what it was.
enable_bounded() {
	local before after t0 t1
	start_stuck "$1"
	before=$(grep SigBlk "/proc/$STUCK/status")
	t0=$(date +%s%N)
	run timeout 30 "$ROOT/build/samepage" --state-dir "$STATE_DIR" --config "$CONFIG" enable --pid "$STUCK"
	t1=$(date +%s%N)
	echo "$output" >&2
	echo "took $(( (t1 - t0) / 1000000 )) ms" >&2
	[ "$status" -ne 124 ] || fail "enable hung"
	[ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || fail "enable took more than 5 s"
	assert_output --partial "not reached within the deadline"
	after=$(grep SigBlk "/proc/$STUCK/status")
	[ "$before" = "$after" ] || fail "signal mask changed: $before -> $after"
}

@test "deadlines: enable --pid on a vfork parent ends within the deadline" {
	requires prctl_ksm
	enable_bounded vfork
}

@test "deadlines: enable --pid on a process waiting for its own seccomp supervisor ends within the deadline" {
	requires prctl_ksm
	enable_bounded usernotif
}

@test "deadlines: a container starts while enable is stuck on a vfork parent" {
	requires prctl_ksm
	local b pid enabler t0 t1
	start_stuck vfork
	"$ROOT/build/samepage" --state-dir "$STATE_DIR" --config "$CONFIG" enable --pid "$STUCK" \
		> "$BATS_TEST_TMPDIR/enable.out" 2>&1 &
	enabler=$!
	b=$(make_bundle other samepage.io/merge=true)
	t0=$(date +%s%N)
	start_container other "$b"
	t1=$(date +%s%N)
	wait "$enabler" || true
	[ "$status" -eq 0 ] || fail "container did not start: $output"
	echo "container start took $(( (t1 - t0) / 1000000 )) ms" >&2
	[ $(( (t1 - t0) / 1000000 )) -lt 8000 ] || fail "container start held up"
	pid=$(container_pid other)
	[ "$(ksm_field "$pid" ksm_merge_any)" = yes ] || fail "container init $pid not enabled"
}
