#!/usr/bin/env bats
# Self-opt-in: a process that turns KSM on by itself (prctl, madvise,
# io_uring) is denied by the seccomp fragment, seen by status, metrics and
# doctor, and keeps a new domain out under `exclusive`.

load helpers

setup() {
	setup_common
	requires ksm prctl_ksm
	ksm_save
	EXEC_PID=""
}

teardown() {
	# The `samepage exec` stand-in is ours: started by this test.
	if [ -n "${EXEC_PID:-}" ]; then
		kill "$EXEC_PID" 2>/dev/null || true
		wait "$EXEC_PID" 2>/dev/null || true
	fi
	teardown_common
}

# A busybox bundle running the probe, with the seccomp fragment merged in.
selfopt_bundle() {
	local name=$1 b
	shift
	b=$(make_bundle "$name" "$@" -- selfopt sleep)
	cp "$(static_test_bin selfopt)" "$b/rootfs/bin/selfopt"
	echo "$b"
}

deny_ksm() {
	run_ok "$SAMEPAGE" oci-config --seccomp --no-hook "$1"
}

# Unattributed processes must not exist before a test that counts them:
# something else on the machine would decide the result.
no_foreign_self_opt_in() {
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status --json
	echo "$output" | jq -e '.unattributed.processes == []' >/dev/null ||
		fail "processes outside this test already opted in to KSM: $(echo "$output" | jq -c .unattributed.processes)"
}

# Start `samepage exec -- sleep`: a process with ksm_merge_any that no
# workload of the state covers (a self-opting container would look alike).
start_self_opter() {
	"$SAMEPAGE" exec -- sleep 1000 3>&- &
	EXEC_PID=$!
	for _ in $(seq 1 50); do
		[ "$(ksm_field "$EXEC_PID" ksm_merge_any 2>/dev/null)" = yes ] && return 0
		sleep 0.1
	done
	fail "samepage exec did not turn KSM on for pid $EXEC_PID"
}

# run_probe NAME BUNDLE EXPECTED: start the probe's container and check the
# line it printed.
run_probe() {
	start_container "$1" "$2"
	[ "$status" -eq 0 ] || fail "$output"
	wait_ready "$1"
	run_ok cat "$BATS_TEST_TMPDIR/$1.log"
	assert_line --index 0 "$3"
}

stop_self_opter() {
	kill "$EXEC_PID"
	wait "$EXEC_PID" 2>/dev/null || true
	EXEC_PID=""
}

@test "self-opt-in: under the fragment prctl, madvise and io_uring_setup fail with EPERM and the container runs" {
	local b open pid
	# Without the fragment the probe succeeds: the test can tell.
	open=$(selfopt_bundle open)
	run_probe open "$open" "prctl=ok madvise=ok io_uring_setup=ok"
	pid=$(container_pid open)
	run "$SAMEPAGE" --state-dir "$STATE_DIR" doctor --container-pid "$pid"
	assert_output --regexp "fail +self_opt_in +pid $pid has no seccomp filter"
	# and, having opted in, it is seen, named with its container
	assert_output --regexp "fail +unattributed .*pid $pid \(selfopt, merge_any, cgroup [^,]*, container open-[0-9]+\)"

	b=$(selfopt_bundle denied)
	deny_ksm "$b"
	run_probe denied "$b" "prctl=EPERM madvise=EPERM io_uring_setup=EPERM"
	pid=$(container_pid denied)
	[ "$(ksm_field "$pid" ksm_merge_any)" = no ] || fail "merge_any on under the fragment"
	[ "$(ksm_field "$pid" ksm_mergeable)" = no ] || fail "mergeable under the fragment"
	grep -q '^State:[[:space:]]*S' "/proc/$pid/status" || fail "the probe is not running"
	run "$SAMEPAGE" --state-dir "$STATE_DIR" doctor --container-pid "$pid"
	assert_output --regexp "ok +self_opt_in +pid $pid cannot turn KSM on for itself: prctl\(PR_SET_MEMORY_MERGE, 1\): errno 1 [^,]*, madvise\(MADV_MERGEABLE\): errno 1 [^,]*, io_uring_setup: errno 1"
}

@test "self-opt-in: a filter that allows the three first is rewritten so the deny wins" {
	local b pid
	b=$(selfopt_bundle logged)
	# runc uses the first matching entry: without the rewrite this LOG
	# entry would let all three through.
	jq '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW",
		syscalls: [{names: ["prctl", "madvise", "io_uring_setup", "getppid"], action: "SCMP_ACT_LOG"}]}' \
		"$b/config.json" > "$b/config.json.new"
	mv "$b/config.json.new" "$b/config.json"
	deny_ksm "$b"
	run_ok jq -c '[.linux.seccomp.syscalls[] | .names]' "$b/config.json"
	assert_output '[["prctl"],["prctl"],["prctl"],["madvise"],["madvise"],["io_uring_setup"],["getppid"]]'
	# Twice is once.
	cp "$b/config.json" "$BATS_TEST_TMPDIR/once.json"
	deny_ksm "$b"
	run_ok cmp "$BATS_TEST_TMPDIR/once.json" "$b/config.json"

	run_probe logged "$b" "prctl=EPERM madvise=EPERM io_uring_setup=EPERM"
}

@test "self-opt-in: annotated containers under the fragment still get ksm_merge_any and merge" {
	ksm_fast
	local mib=16 a b pa pb
	a=$(make_bundle m-a samepage.io/merge=true samepage.io/domain=team-a -- fillmem $mib 7)
	b=$(make_bundle m-b samepage.io/merge=true samepage.io/domain=team-a -- fillmem $mib 7)
	deny_ksm "$a"
	deny_ksm "$b"
	start_container m-a "$a"
	[ "$status" -eq 0 ] || fail "$output"
	start_container m-b "$b"
	[ "$status" -eq 0 ] || fail "$output"
	wait_ready m-a
	wait_ready m-b
	pa=$(container_pid m-a)
	pb=$(container_pid m-b)
	grep -q '^Seccomp:[[:space:]]*2' "/proc/$pa/status" || fail "no seccomp filter in m-a"
	[ "$(ksm_field "$pa" ksm_merge_any)" = yes ] || fail "m-a: no ksm_merge_any under the fragment"
	[ "$(ksm_field "$pb" ksm_merge_any)" = yes ] || fail "m-b: no ksm_merge_any under the fragment"
	wait_merged $((mib * 256)) "$pa" "$pb"
}

@test "self-opt-in: a samepage exec process makes doctor fail and shows in status and metrics" {
	no_foreign_self_opt_in
	start_self_opter
	run "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" doctor
	echo "$output" >&2
	[ "$status" -eq 1 ] || fail "doctor passed with a self-opting process"
	assert_output --regexp "fail +unattributed +[0-9]+ merged pages and 1 process outside samepage's record .*pid $EXEC_PID \(sleep, merge_any, cgroup "

	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status --json
	echo "$output" | jq -e --argjson pid "$EXEC_PID" '.unattributed.processes | length == 1 and .[0].pid == $pid
		and .[0].comm == "sleep" and .[0].merge_any == true and .[0].container == null' || fail "status --json"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status
	assert_output --partial "pid $EXEC_PID (sleep): merge_any, 0 merging pages, cgroup "
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" metrics
	assert_line "samepage_unattributed_processes 1"

	# shared: a warning, not a failure.
	echo '{"domain_policy": "shared"}' > "$CONFIG"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" doctor --json
	echo "$output" | jq -e '.checks[] | select(.name == "unattributed") | .status == "warn"' || fail "shared: not a warning"

	stop_self_opter
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" metrics
	assert_line "samepage_unattributed_processes 0"
}

@test "self-opt-in: under exclusive a new domain is refused while it lives and admitted after" {
	local a pa b pb c pc
	no_foreign_self_opt_in
	start_self_opter
	a=$(make_bundle first samepage.io/merge=true samepage.io/domain=team-a)
	start_container first "$a"
	[ "$status" -eq 0 ] || fail "optional container failed: $output"
	pa=$(container_pid first)
	[ "$(ksm_field "$pa" ksm_merge_any)" = no ] || fail "admitted a new domain beside a self-opting process"
	run_ok jq -r '.containers[] | select(.id == "first") | .reason' "$STATE_DIR/state.json"
	assert_output --partial "domain \`local/team-a\` refused: 1 process outside samepage's record can merge (pid $EXEC_PID (sleep, merge_any, cgroup "
	assert_output --partial "no new domain is admitted under domain_policy exclusive"

	# Relaxed by the config, explicitly.
	echo '{"unattributed": "warn"}' > "$CONFIG"
	b=$(make_bundle relaxed samepage.io/merge=true samepage.io/domain=team-b)
	start_container relaxed "$b"
	[ "$status" -eq 0 ] || fail "$output"
	pb=$(container_pid relaxed)
	[ "$(ksm_field "$pb" ksm_merge_any)" = yes ] || fail "unattributed: warn did not admit"
	rt delete -f relaxed
	echo '{}' > "$CONFIG"

	stop_self_opter
	c=$(make_bundle after samepage.io/merge=true samepage.io/domain=team-c)
	start_container after "$c"
	[ "$status" -eq 0 ] || fail "$output"
	pc=$(container_pid after)
	[ "$(ksm_field "$pc" ksm_merge_any)" = yes ] || fail "not admitted once the self-opting process was gone"
}
