#!/usr/bin/env bats
# The record is about processes, not names: an entry is a container id *and*
# its init's pid and start time.

load helpers

setup() {
	setup_common
	requires ksm prctl_ksm
	ksm_save
	RT_ROOT2=$BATS_TEST_TMPDIR/rt-root2
	mkdir -p "$RT_ROOT2"
}

teardown() {
	RT_ROOT=$RT_ROOT2 rt delete -f dup >/dev/null 2>&1 || true
	teardown_common
}

@test "record: a container id reused by a second container does not evict the first's entry" {
	local a b pid1 pid2
	a=$(make_bundle dup samepage.io/merge=true)
	start_container dup "$a"
	[ "$status" -eq 0 ] || fail "$output"
	pid1=$(container_pid dup)

	# the same id under another runtime root (another runtime, another
	# engine on the node)
	b=$(make_bundle dup-second samepage.io/merge=true)
	# (all output to a file: the detached container keeps what it inherits open)
	RT_ROOT=$RT_ROOT2 rt run -d -b "$b" dup < /dev/null > "$BATS_TEST_TMPDIR/dup2.log" 2>&1 ||
		fail "second container: $(cat "$BATS_TEST_TMPDIR/dup2.log")"
	pid2=$(RT_ROOT=$RT_ROOT2 rt state dup | jq -r .pid)
	[ "$pid1" != "$pid2" ]
	run_ok jq -e '[.containers[] | select(.id == "dup" and .enabled)] | length == 2' "$STATE_DIR/state.json"

	# the second stops: its poststop removes its own entry only
	RT_ROOT=$RT_ROOT2 rt delete -f dup
	run_ok jq -e --argjson pid "$pid1" '[.containers[] | select(.id == "dup")] | length == 1 and .[0].pid == $pid and .[0].enabled' "$STATE_DIR/state.json"
	[ "$(ksm_field "$pid1" ksm_merge_any)" = yes ]

	# and the first one's poststop removes the rest
	run_ok rt delete -f dup
	run_ok jq -e '[.containers[] | select(.id == "dup")] | length == 0' "$STATE_DIR/state.json"
}
