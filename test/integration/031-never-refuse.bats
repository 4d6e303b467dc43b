#!/usr/bin/env bats
# A container that did not ask for KSM (no samepage.io/merge=true) is never
# refused by the hook, whatever its other samepage.io/* annotations say or
# the node state holds: the containerd wiring runs the hook for every
# container.  And ids the hook cannot record or print safely are refused
# for containers that asked.

load helpers

setup() {
	setup_common
	requires ksm prctl_ksm
	ksm_save
}

teardown() {
	teardown_common
}

start_plain() {
	local name=$1 b
	shift
	b=$(make_bundle "$name" "$@")
	start_container "$name" "$b"
	[ "$status" -eq 0 ] || fail "container $name that did not ask for KSM was refused: $output"
	[ "$(ksm_field "$(container_pid "$name")" ksm_merge_any)" = no ]
}

@test "never refuse: bad domain, bad required, bad merge value, corrupt state" {
	echo 'this is not json' > "$STATE_DIR/state.json"
	start_plain baddomain samepage.io/domain=Team_A
	start_plain badreq samepage.io/required=maybe
	start_plain badmerge samepage.io/merge=yes samepage.io/required=true
	start_plain both samepage.io/domain='team a' samepage.io/required=true
	# nothing read or repaired for them: the state is as it was
	[ "$(cat "$STATE_DIR/state.json")" = 'this is not json' ]
	# the same container asking for KSM is refused with the annotation named
	b=$(make_bundle asks samepage.io/merge=true samepage.io/domain=Team_A)
	start_container asks "$b"
	[ "$status" -ne 0 ] || fail "a bad domain on a container that asked was accepted"
	assert_output --partial "annotation \`samepage.io/domain\`"
}

@test "never refuse: a state dir that is a symlink does not matter to a container that did not ask" {
	rm -rf "$STATE_DIR"
	ln -s / "$STATE_DIR"
	start_plain plain samepage.io/domain=Team_A
}

@test "ids: too long or with control characters are refused for a container that asked, escaped in the message" {
	local long
	long=$(head -c 256 /dev/zero | tr '\0' a)
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime \
		<<< "{\"id\":\"$long\",\"status\":\"creating\",\"pid\":$$,\"annotations\":{\"samepage.io/merge\":\"true\"}}"
	[ "$status" -ne 0 ] || fail "a 256-byte id was accepted"
	assert_output --partial "is 256 bytes long (at most 255)"
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime \
		<<< '{"id":"web\n\u001b[2Jroot","status":"creating","pid":1,"annotations":{"samepage.io/merge":"true"}}'
	[ "$status" -ne 0 ] || fail "an id with control characters was accepted"
	assert_output --partial 'web\x0a\x1b[2Jroot'
	[ "${#lines[@]}" -eq 1 ] || fail "the id broke the message into lines: $output"
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime \
		<<< '{"id":"web\u0000x","status":"creating","pid":1,"annotations":{"samepage.io/merge":"true"}}'
	[ "$status" -ne 0 ] || fail "an id with a NUL was accepted"
	assert_output --partial "holds a NUL"
	# a container that did not ask: not refused, its id only ever escaped
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime \
		<<< '{"id":"web\n\u001b[2J","status":"creating","pid":1,"annotations":{"samepage.io/merge":"yes"}}'
	[ "$status" -eq 0 ] || fail "$output"
	[ "${#lines[@]}" -eq 1 ] || fail "the id broke the warning into lines: $output"
	assert_output --partial 'web\x0a\x1b[2J'
	[ ! -e "$STATE_DIR/state.json" ]
}

@test "stages: createRuntime with a status other than creating/created is refused before anything is touched" {
	sleep 100 &
	local victim=$!
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime \
		<<< "{\"id\":\"late\",\"status\":\"running\",\"pid\":$victim,\"annotations\":{\"samepage.io/merge\":\"true\"}}"
	kill $victim
	[ "$status" -ne 0 ] || fail "a running container was accepted at createRuntime"
	assert_output --partial "\`status\` is \`running\`"
	[ ! -e "$STATE_DIR/state.json" ] || fail "the state was touched"
}
