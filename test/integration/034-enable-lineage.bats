#!/usr/bin/env bats
# `samepage enable --pid` enables a process, and with it whatever it forks
# later (they inherit MMF_VM_MERGE_ANY).  The entry is that lineage
# (node/state.h), not one pid: after the enabled process exits, its live
# children keep the entry, its domain keeps owning KSM under exclusive, and
# they are never shown as unattributed.

load helpers

setup() {
	setup_common
	requires prctl_ksm cmd:setsid
	# The gate on unattributed memory is not what is tested here; other
	# suites' self-opting processes must not make these tests flaky.
	config_no_ksmd '"domain_policy": "exclusive", "unattributed": "warn"'
	PARENT="" OTHER="" LEADER=""
	DIR=$BATS_TEST_TMPDIR/lineage
	mkdir -p "$DIR"
}

teardown() {
	local p
	touch "$DIR/done"
	for p in "$PARENT" "$OTHER" "$(cat "$DIR/child" 2>/dev/null)" "$LEADER"; do
		[ -n "$p" ] || continue
		kill "$p" 2>/dev/null || true
	done
	teardown_common
}

# start_parent [setsid]: a shell that waits for $DIR/fork, then starts
# `sleep 1000` (its pid in $DIR/child), waits for $DIR/exit and exits.
# With setsid it leads a session of its own; without, it is one process of
# a session whose leader lives on until teardown.  That session is made
# here rather than taken from bats: /proc shows 0 for the session of pid 1,
# which CI's runner shares, and a session shown as 0 proves nothing
# (node/state.h, rule 3).
start_parent() {
	local i script='while [ ! -e "$0/fork" ]; do sleep 0.05; done
		sleep 1000 & echo $! > "$0/child.tmp"; mv "$0/child.tmp" "$0/child"
		while [ ! -e "$0/exit" ]; do sleep 0.05; done'
	if [ "${1:-}" = setsid ]; then
		setsid sh -c "$script" "$DIR" &
	else
		setsid sh -c 'sh -c "$1" "$2" & echo $! > "$2/parent.tmp"; mv "$2/parent.tmp" "$2/parent"
			while [ ! -e "$2/done" ]; do sleep 0.1; done' leader "$script" "$DIR" &
		LEADER=$!
		for i in $(seq 50); do [ -s "$DIR/parent" ] && break; sleep 0.1; done
		PARENT=$(cat "$DIR/parent")
		[ -n "$PARENT" ] || fail "the session leader did not start the parent"
		[ "$(ps -o sid= -p "$PARENT" | tr -d ' ')" != 0 ] || fail "the parent's session shows as 0"
		return 0
	fi
	PARENT=$!
	# setsid forks when it is a process group leader: find the shell itself
	sleep 0.2
	if [ "$(ps -o comm= -p "$PARENT")" != sh ]; then
		PARENT=$(pgrep -P "$PARENT" -x sh || echo "$PARENT")
	fi
}

fork_child() {
	touch "$DIR/fork"
	local i
	for i in $(seq 50); do [ -s "$DIR/child" ] && break; sleep 0.1; done
	CHILD=$(cat "$DIR/child")
	[ -n "$CHILD" ] || fail "no child"
	[ "$(ksm_field "$CHILD" ksm_merge_any)" = yes ] || fail "the child did not inherit KSM"
}

end_parent() {
	touch "$DIR/exit"
	local i
	for i in $(seq 50); do kill -0 "$PARENT" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$PARENT" 2>/dev/null || fail "parent $PARENT did not exit"
	wait "$PARENT" 2>/dev/null || true
	kill -0 "$CHILD" || fail "the child died with its parent"
}

# The entry of the parent is still there and running, covering the child.
assert_entry_lives() {
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" status --json
	echo "$output" | jq -e --arg id "pid:$PARENT" '.containers[] | select(.id == $id) | .running
		and .merge_any_processes >= 1 and .domain == "local/team-a"' || fail "status lost the entry"
	echo "$output" | jq -e --argjson c "$CHILD" '[.unattributed.processes[]? | .pid] | index($c) == null' \
		|| fail "the enabled parent's child is shown as unattributed"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" metrics
	assert_line "samepage_container_merge_any_processes{domain=\"local/team-a\",container=\"pid:$PARENT\"} 1"
}

@test "enable --pid: children forked later keep the entry and its domain after the process exits" {
	start_parent
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --pid "$PARENT" --domain team-a
	fork_child
	end_parent
	assert_entry_lives

	# under exclusive, another domain is still refused: the owner lives on
	sleep 1000 &
	OTHER=$!
	run_fail "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --pid "$OTHER" --domain team-b
	assert_output --partial "domain \`local/team-b\` refused: domain \`local/team-a\` owns KSM on this node"
	[ "$(ksm_field "$OTHER" ksm_merge_any)" = no ]
	# that admission's prune named the entry by the child, which it recorded
	run_ok jq -e --arg id "pid:$PARENT" --argjson c "$CHILD" \
		'.containers[] | select(.id == $id) | .pid == $c and ([.members[][0]] | index($c) != null)' \
		"$STATE_DIR/state.json"

	# once the child is gone, so is the entry, and team-b is admitted
	kill "$CHILD"
	wait_gone "$CHILD"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --pid "$OTHER" --domain team-b
	[ "$(ksm_field "$OTHER" ksm_merge_any)" = yes ]
	run_ok jq -e --arg id "pid:$PARENT" '[.containers[] | select(.id == $id)] == []' "$STATE_DIR/state.json"
}

@test "enable --pid: a session leader's orphans are kept once an admission has recorded them" {
	start_parent setsid
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --pid "$PARENT" --domain team-a
	run_ok jq -e --arg id "pid:$PARENT" --argjson p "$PARENT" \
		'.containers[] | select(.id == $id) | .sid == $p' "$STATE_DIR/state.json"
	fork_child
	# any admission prunes and records the lineage it finds
	sleep 1000 &
	OTHER=$!
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --pid "$OTHER" --domain team-a
	end_parent
	assert_entry_lives
	# the child's own disable drops the entry it now stands for
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" disable --pid "$CHILD"
	[ "$(ksm_field "$CHILD" ksm_merge_any)" = no ]
	run_ok jq -e --arg id "pid:$PARENT" '[.containers[] | select(.id == $id)] == []' "$STATE_DIR/state.json"
}

wait_gone() {
	local i
	for i in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	fail "pid $1 still there"
}
