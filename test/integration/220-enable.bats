#!/usr/bin/env bats
# samepage enable/disable on running workloads: an unannotated runc
# container gets KSM for its processes, the children they forked before and
# the ones they fork later; disable reverts; a process whose seccomp filter
# would not allow the prctl is skipped by name and survives; the domain
# policy refuses a second domain.

load helpers

setup() {
	setup_common
	requires prctl_ksm
	config_no_ksmd
	SLEEPER=""
}

teardown() {
	if [ -n "$SLEEPER" ]; then
		kill "$SLEEPER" 2>/dev/null || true
		wait "$SLEEPER" 2>/dev/null || true
	fi
	teardown_common
}

# merge_any of every process of a cgroup, one "pid value" per line (the
# spawner's short `sleep 0.1` children may be gone by the time we look).
merge_any_of() {
	local p v
	for p in $(cgroup_pids "$1"); do
		v=$(ksm_field "$p" ksm_merge_any 2>/dev/null) || continue
		# not `[ -n "$v" ] && echo`: a last pid gone by now would make
		# the function's status 1, which fails the caller's assignment
		if [ -n "$v" ]; then echo "$p $v"; fi
	done
}

# No container recorded (a state that was never written is empty too).
state_empty() {
	[ ! -f "$STATE_DIR/state.json" ] || jq -e '.containers == []' "$STATE_DIR/state.json" >/dev/null \
		|| fail "state not empty: $(cat "$STATE_DIR/state.json")"
}

all_merge_any() {
	local want=$1 cg=$2 lines
	lines=$(merge_any_of "$cg")
	echo "$lines" >&2
	[ -n "$lines" ] || fail "no processes in $cg"
	! echo "$lines" | awk -v w="$want" '$2 != w { bad = 1 } END { exit !bad }' || fail "not all $want: $lines"
}

# An unannotated container whose init is a shell that starts a child
# (fillmem, which forks one more), and starts another `sleep` whenever
# /tmp/spawn appears in its rootfs.
spawner_bundle() {
	make_bundle "$1" -- sh -c 'fillmem 4 3 1 & while :; do if [ -e /tmp/spawn ]; then rm /tmp/spawn; sleep 1000 & fi; sleep 0.1; done'
}

@test "enable: usage errors" {
	run "$SAMEPAGE" enable
	[ "$status" -eq 2 ] || fail "no target: exit $status"
	assert_output --partial "exactly one of --cgroup PATH and --pid PID"
	run "$SAMEPAGE" enable --pid 1 --cgroup "$(test_cgroup_root)"
	[ "$status" -eq 2 ] || fail "two targets: exit $status"
	run "$SAMEPAGE" enable --pid abc
	[ "$status" -eq 2 ] || fail "bad pid: exit $status"
	run_fail "$SAMEPAGE" --state-dir "$STATE_DIR" enable --cgroup "$BATS_TEST_TMPDIR"
	assert_output --partial "is not a cgroup directory"
}

@test "enable --domain: the hook's domain rule, the bad value named" {
	# Team_A is the value 000-hook.bats shows the hook refusing as an annotation.
	run "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --pid $$ --domain Team_A
	[ "$status" -eq 2 ] || fail "bad domain: exit $status"
	assert_output --partial "enable: --domain: invalid domain \`Team_A\` (want 1-63 of a-z, 0-9 and '-'"
	[ "$(ksm_field $$ ksm_merge_any)" = no ] || fail "the test shell got KSM"
	state_empty
	run "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" disable --pid $$ --domain -a
	[ "$status" -eq 2 ] || fail "bad domain on disable: exit $status"
	assert_output --partial "invalid domain \`-a\`"
}

@test "enable --cgroup: running unannotated container, its earlier and later children; disable reverts" {
	local b cg id
	b=$(spawner_bundle plain)
	start_container plain "$b"
	[ "$status" -eq 0 ] || fail "container did not start: $output"
	cg=$(container_cgroup plain)
	for _ in $(seq 1 50); do [ "$(cgroup_pids "$cg" | wc -l)" -ge 4 ] && break; sleep 0.1; done
	all_merge_any no "$cg"

	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --cgroup "$cg" --domain team-a
	assert_output --partial "enable: KSM on for cgroup:$cg (domain local/team-a)"
	all_merge_any yes "$cg"
	id="cgroup:$cg"
	run_ok jq -e --arg id "$id" --arg cg "$cg" \
		'.containers[] | select(.id == $id) | .enabled and .domain == "local/team-a" and .cgroup == $cg and .backend == "stock"' \
		"$STATE_DIR/state.json"

	# A child forked after enable inherits it.  The loop's own `sleep 0.1`
	# children come and go, so wait for the `sleep 1000` itself.
	local p child=""
	touch "$b/rootfs/tmp/spawn"
	for _ in $(seq 1 50); do
		for p in $(cgroup_pids "$cg"); do
			[ "$(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null)" = "sleep 1000 " ] && child=$p
		done
		[ -n "$child" ] && break
		sleep 0.1
	done
	[ -n "$child" ] || fail "no new child appeared"
	[ "$(ksm_field "$child" ksm_merge_any)" = yes ] || fail "the child forked after enable has no KSM"
	all_merge_any yes "$cg"

	# status shows it in its domain
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status --json
	echo "$output" | jq -e --arg id "$id" '.containers[] | select(.id == $id) | .state == "on" and .processes >= 4
		and .processes == .merge_any_processes' || fail "status row"

	# Running enable again finds nothing to do.
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --cgroup "$cg" --domain team-a
	assert_output --partial ": 0 processes changed"

	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" disable --cgroup "$cg"
	assert_output --partial "disable: KSM off for cgroup:$cg"
	all_merge_any no "$cg"
	run_ok jq -e '.containers == []' "$STATE_DIR/state.json"
}

@test "enable: a process whose seccomp filter denies the prctl is skipped by name and survives" {
	local b cg action pid
	for action in SCMP_ACT_ERRNO SCMP_ACT_KILL; do
		b=$(make_bundle "sc-$action" -- fillmem 4 5 0)
		jq --arg a "$action" '.linux.seccomp = {defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"],
			syscalls: [{names: ["prctl"], action: $a, errnoRet: 1,
				    args: [{index: 0, value: 67, op: "SCMP_CMP_EQ"}]}]}' \
			"$b/config.json" > "$b/config.json.new"
		mv "$b/config.json.new" "$b/config.json"
		start_container "sc-$action" "$b"
		[ "$status" -eq 0 ] || fail "container did not start: $output"
		wait_ready "sc-$action"
		cg=$(container_cgroup "sc-$action")
		pid=$(cgroup_pids "$cg" | head -n1)
		grep -q '^Seccomp:[[:space:]]*2' "/proc/$pid/status" || fail "runc installed no seccomp filter"

		run "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --cgroup "$cg"
		echo "$output" >&2
		[ "$status" -eq 1 ] || fail "$action: expected exit 1 (nothing enabled), got $status"
		assert_output --partial "skipped pid $pid (fillmem): its seccomp filter answers prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0) with"
		if [ "$action" = SCMP_ACT_ERRNO ]; then
			assert_output --partial "errno 1"
		else
			assert_output --partial "kill_thread"
		fi
		kill -0 "$pid" || fail "$action: pid $pid died"
		grep -q '^State:[[:space:]]*S' "/proc/$pid/status" || fail "$action: pid $pid left in state $(grep State /proc/$pid/status)"
		[ "$(ksm_field "$pid" ksm_merge_any)" = no ] || fail "merge_any changed"
		state_empty
	done
}

@test "enable: the domain policy refuses a second domain; shared allows it" {
	local b1 b2 cg1 cg2
	b1=$(make_bundle d1)
	b2=$(make_bundle d2)
	start_container d1 "$b1"
	start_container d2 "$b2"
	cg1=$(container_cgroup d1)
	cg2=$(container_cgroup d2)
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --cgroup "$cg1" --domain team-a
	run_fail "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --cgroup "$cg2" --domain team-b
	assert_output --partial "domain \`local/team-b\` refused: domain \`local/team-a\` owns KSM on this node"
	all_merge_any no "$cg2"
	# the same domain is fine
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --cgroup "$cg2" --domain team-a
	all_merge_any yes "$cg2"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" disable --cgroup "$cg2"
	config_no_ksmd '"domain_policy": "shared"'
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --cgroup "$cg2" --domain team-b
	all_merge_any yes "$cg2"
}

@test "enable --pid: that process only; status lists it; disable reverts" {
	sleep 1000 &
	SLEEPER=$!
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --pid "$SLEEPER"
	[ "$(ksm_field "$SLEEPER" ksm_merge_any)" = yes ] || fail "not enabled"
	# our own shell was not touched
	[ "$(ksm_field $$ ksm_merge_any)" = no ] || fail "the test shell got KSM"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status --json
	echo "$output" | jq -e --arg id "pid:$SLEEPER" '.containers[] | select(.id == $id) | .processes == 1
		and .merge_any_processes == 1 and .domain == "local/default"' || fail "status row"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" disable --pid "$SLEEPER"
	[ "$(ksm_field "$SLEEPER" ksm_merge_any)" = no ] || fail "not disabled"
	run_ok jq -e '.containers == []' "$STATE_DIR/state.json"
}
