#!/usr/bin/env bats
# The hook against a real runtime (RUNTIME=runc or crun): annotated
# containers get whole-process KSM, others do not; bad input is named.

load helpers

setup() {
	setup_common
}

teardown() {
	teardown_common
}

@test "hook: --help and --version" {
	run_ok "$HOOK" --help
	assert_output --partial "Usage: samepage-hook"
	assert_output --partial "samepage.io/merge"
	run_ok "$HOOK" --version
	assert_output --regexp '^samepage-hook [0-9]+\.[0-9]+'
}

@test "hook: unknown stage and missing stage are errors" {
	run_fail "$HOOK" poststart < /dev/null
	assert_output --partial "unsupported stage \`poststart\`"
	run_fail "$HOOK" < /dev/null
	assert_output --partial "missing STAGE"
}

@test "hook: invalid state on stdin names what is wrong" {
	run_fail "$HOOK" --state-dir "$STATE_DIR" createRuntime <<< 'not json'
	assert_output --partial "not valid JSON"
	run_fail "$HOOK" --state-dir "$STATE_DIR" createRuntime <<< '{"id":"x"}'
	assert_output --partial "missing \`pid\`"
	run_fail "$HOOK" --state-dir "$STATE_DIR" createRuntime <<< '{"id":"x","pid":"12"}'
	assert_output --partial "\`pid\` is not an integer"
	run_fail "$HOOK" --state-dir "$STATE_DIR" createRuntime <<< '{"id":"x","pid":-1}'
	assert_output --partial "\`pid\` out of range"
	run_fail "$HOOK" --state-dir "$STATE_DIR" createRuntime <<< '{"id":"x","pid":0}'
	assert_output --partial "positive integer"
}

@test "hook: state larger than 1 MiB is rejected" {
	head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' ' ' > "$BATS_TEST_TMPDIR/big"
	run_fail "$HOOK" --state-dir "$STATE_DIR" createRuntime < "$BATS_TEST_TMPDIR/big"
	assert_output --partial "larger than 1048576 bytes"
}

@test "hook: refuses to touch a pid that is not the runtime's container init" {
	sleep 100 &
	local victim=$!
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime \
		<<< "{\"id\":\"fake\",\"status\":\"creating\",\"pid\":$victim,\"annotations\":{\"samepage.io/merge\":\"true\",\"samepage.io/required\":\"true\"}}"
	local st=$status
	local merge=$(ksm_field $victim ksm_merge_any)
	kill $victim
	[ "$st" -ne 0 ] || fail "hook accepted a host process"
	assert_output --partial "is in the hook's own pid namespace, not a container's init"
	[ "$merge" = no ] || fail "host process $victim was touched: ksm_merge_any=$merge"
}

@test "hook: annotated container's init and its children get ksm_merge_any" {
	requires prctl_ksm
	local b pid child
	b=$(make_bundle merge samepage.io/merge=true -- fillmem 4 1 2)
	start_container merge "$b"
	[ "$status" -eq 0 ] || fail "container did not start: $output"
	wait_ready merge 30 3
	pid=$(container_pid merge)
	[ "$(ksm_field "$pid" ksm_merge_any)" = yes ] || fail "init $pid: $(cat /proc/$pid/ksm_stat)"
	local n=0
	for child in $(cat /proc/$pid/task/*/children); do
		[ "$(ksm_field "$child" ksm_merge_any)" = yes ] || fail "child $child: $(cat /proc/$child/ksm_stat)"
		n=$((n + 1))
	done
	[ "$n" -eq 2 ] || fail "expected 2 children, found $n"
	run_ok jq -e --arg id merge '.containers[] | select(.id == $id) | .enabled and .domain == "local/default"' "$STATE_DIR/state.json"
}

@test "hook: unannotated and merge=false containers stay off" {
	requires prctl_ksm
	local b pid
	b=$(make_bundle plain)
	start_container plain "$b"
	[ "$status" -eq 0 ] || fail "container did not start: $output"
	pid=$(container_pid plain)
	[ "$(ksm_field "$pid" ksm_merge_any)" = no ]
	b=$(make_bundle off samepage.io/merge=false)
	start_container off "$b"
	[ "$status" -eq 0 ] || fail "container did not start: $output"
	pid=$(container_pid off)
	[ "$(ksm_field "$pid" ksm_merge_any)" = no ]
	[ ! -e "$STATE_DIR/state.json" ] || fail "hook touched the state for containers that did not ask"
}

@test "hook: bad annotations refuse the container with a message naming them" {
	local b
	# merge=yes is not merge=true: a container that did not ask is never
	# refused (031-never-refuse.bats); the hook only warns
	b=$(make_bundle badmerge samepage.io/merge=yes)
	start_container badmerge "$b"
	[ "$status" -eq 0 ] || fail "container with samepage.io/merge=yes was refused: $output"
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime \
		<<< '{"id":"badmerge","status":"creating","pid":1,"annotations":{"samepage.io/merge":"yes"}}'
	[ "$status" -eq 0 ] || fail "hook refused a container that did not ask: $output"
	assert_output --partial "annotation \`samepage.io/merge\`: invalid value \`yes\`"
	b=$(make_bundle baddomain samepage.io/merge=true samepage.io/domain=Team_A)
	start_container baddomain "$b"
	[ "$status" -ne 0 ] || fail "container with a bad domain started"
	assert_output --partial "annotation \`samepage.io/domain\`: invalid domain \`Team_A\`"
	b=$(make_bundle badreq samepage.io/merge=true samepage.io/required=maybe)
	start_container badreq "$b"
	[ "$status" -ne 0 ] || fail "container with a bad required started"
	assert_output --partial "annotation \`samepage.io/required\`: invalid value \`maybe\`"
}

@test "hook: poststop forgets the container" {
	requires prctl_ksm
	local b
	b=$(make_bundle gone samepage.io/merge=true)
	start_container gone "$b"
	[ "$status" -eq 0 ] || fail "$output"
	run_ok jq -e '.containers | length == 1' "$STATE_DIR/state.json"
	run_ok rt delete -f gone
	run_ok jq -e '.containers | length == 0' "$STATE_DIR/state.json"
}

@test "hook: a broken config warns but the container runs; with required it fails" {
	echo '{"domain_policy": "open"}' > "$CONFIG"
	local b
	b=$(make_bundle badconf samepage.io/merge=true)
	start_container badconf "$b"
	[ "$status" -eq 0 ] || fail "container failed although KSM was optional: $output"
	[ "$(ksm_field "$(container_pid badconf)" ksm_merge_any)" = no ]
	b=$(make_bundle badconfreq samepage.io/merge=true samepage.io/required=true)
	start_container badconfreq "$b"
	[ "$status" -ne 0 ] || fail "required container started without KSM"
	assert_output --partial "\`domain_policy\`: invalid value \`open\`"
}
