#!/usr/bin/env bats
# Security domains, real merging and ksmd management through the hook.

load helpers

setup() {
	setup_common
	requires ksm prctl_ksm
	ksm_save
}

teardown() {
	teardown_common
}

# pages_sharing + pages_shared gained since $1 (a snapshot of the sum).
ksm_merged_pages() {
	echo $(($(cat $KSM/pages_sharing) + $(cat $KSM/pages_shared)))
}

@test "domains: two containers of one domain with identical memory merge" {
	ksm_fast
	local mib=32 pages=$((32 * 256)) a b pa pb i ma mb
	a=$(make_bundle same-a samepage.io/merge=true samepage.io/domain=team-a -- fillmem $mib 7)
	b=$(make_bundle same-b samepage.io/merge=true samepage.io/domain=team-a -- fillmem $mib 7)
	start_container same-a "$a"
	[ "$status" -eq 0 ] || fail "$output"
	start_container same-b "$b"
	[ "$status" -eq 0 ] || fail "$output"
	wait_ready same-a
	wait_ready same-b
	pa=$(container_pid same-a)
	pb=$(container_pid same-b)
	# Pages differ inside each process, so every merge is across the two.
	for i in $(seq 1 300); do
		ma=$(ksm_field "$pa" ksm_merging_pages)
		mb=$(ksm_field "$pb" ksm_merging_pages)
		[ "$ma" -ge $((pages * 9 / 10)) ] && [ "$mb" -ge $((pages * 9 / 10)) ] && break
		sleep 0.1
	done
	echo "merging pages: a=$ma b=$mb of $pages each after $((i / 10)) s" >&3
	[ "$ma" -ge $((pages * 9 / 10)) ] || fail "container a merged only $ma of $pages pages"
	[ "$mb" -ge $((pages * 9 / 10)) ] || fail "container b merged only $mb of $pages pages"
	[ "$(ksm_field "$pa" ksm_process_profit)" -gt 0 ] || [ "$(ksm_field "$pb" ksm_process_profit)" -gt 0 ]
}

@test "domains: exclusive policy refuses a second domain until the first is gone" {
	local a b r pb
	a=$(make_bundle own samepage.io/merge=true samepage.io/domain=team-a)
	start_container own "$a"
	[ "$status" -eq 0 ] || fail "$output"

	# Optional: runs, without KSM, with the reason recorded.
	b=$(make_bundle other samepage.io/merge=true samepage.io/domain=team-b)
	start_container other "$b"
	[ "$status" -eq 0 ] || fail "optional container of another domain failed: $output"
	pb=$(container_pid other)
	[ "$(ksm_field "$pb" ksm_merge_any)" = no ] || fail "team-b got KSM while team-a owns the node"
	run_ok jq -r '.containers[] | select(.id == "other") | .reason' "$STATE_DIR/state.json"
	assert_output --partial "domain \`local/team-b\` refused: domain \`local/team-a\` owns KSM"

	# Required: refused to start, with the reason.
	r=$(make_bundle other-req samepage.io/merge=true samepage.io/domain=team-b samepage.io/required=true)
	start_container other-req "$r"
	[ "$status" -ne 0 ] || fail "required container of a refused domain started"
	assert_output --partial "domain \`local/team-b\` refused: domain \`local/team-a\` owns KSM on this node"
	# The optional one's refusal is still on record after later hook runs.
	run_ok jq -r '.containers[] | select(.id == "other") | .reason' "$STATE_DIR/state.json"
	assert_output --partial "domain \`local/team-b\` refused"

	# The owner leaves: team-b is accepted now.
	run_ok rt delete -f own
	run_ok rt delete -f other-req
	r=$(make_bundle next samepage.io/merge=true samepage.io/domain=team-b samepage.io/required=true)
	start_container next "$r"
	[ "$status" -eq 0 ] || fail "team-b still refused after team-a left: $output"
	[ "$(ksm_field "$(container_pid next)" ksm_merge_any)" = yes ]
}

@test "domains: shared policy lets every domain in" {
	echo '{"domain_policy": "shared"}' > "$CONFIG"
	local a b
	a=$(make_bundle sa samepage.io/merge=true samepage.io/domain=team-a)
	b=$(make_bundle sb samepage.io/merge=true samepage.io/domain=team-b samepage.io/required=true)
	start_container sa "$a"
	[ "$status" -eq 0 ] || fail "$output"
	start_container sb "$b"
	[ "$status" -eq 0 ] || fail "$output"
	[ "$(ksm_field "$(container_pid sa)" ksm_merge_any)" = yes ]
	[ "$(ksm_field "$(container_pid sb)" ksm_merge_any)" = yes ]
}

@test "domains: a dead container without poststop is dropped and frees its domain" {
	local a b pid
	a=$(make_bundle crash samepage.io/merge=true samepage.io/domain=team-a)
	start_container crash "$a"
	[ "$status" -eq 0 ] || fail "$output"
	pid=$(container_pid crash)
	# Simulate a lost poststop: remove runc's record without running hooks.
	kill -9 "$pid"
	while [ -d /proc/$pid ]; do sleep 0.05; done
	b=$(make_bundle after samepage.io/merge=true samepage.io/domain=team-b samepage.io/required=true)
	start_container after "$b"
	[ "$status" -eq 0 ] || fail "stale entry of a dead container still owns the node: $output"
	run_ok jq -e '[.containers[] | select(.id == "crash")] | length == 0' "$STATE_DIR/state.json"
}

@test "ksmd: samepage turns ksmd on when it is off and puts it back after the last container" {
	echo 0 > $KSM/run
	[ -f $KSM/advisor_mode ] && echo none > $KSM/advisor_mode
	local a b
	a=$(make_bundle k1 samepage.io/merge=true)
	b=$(make_bundle k2 samepage.io/merge=true)
	start_container k1 "$a"
	[ "$status" -eq 0 ] || fail "$output"
	[ "$(cat $KSM/run)" = 1 ] || fail "ksmd not started"
	if [ -f $KSM/advisor_mode ]; then
		[ "$(ksm_knob advisor_mode)" = scan-time ] || fail "advisor_mode is $(ksm_knob advisor_mode)"
	fi
	run_ok jq -e '.ksmd.managed' "$STATE_DIR/state.json"
	start_container k2 "$b"
	[ "$status" -eq 0 ] || fail "$output"
	run_ok rt delete -f k1
	[ "$(cat $KSM/run)" = 1 ] || fail "ksmd stopped while a container still uses it"
	run_ok rt delete -f k2
	[ "$(cat $KSM/run)" = 0 ] || fail "ksmd not put back"
	if [ -f $KSM/advisor_mode ]; then
		[ "$(ksm_knob advisor_mode)" = none ] || fail "advisor_mode not put back"
	fi
}

@test "ksmd: a ksmd someone else runs is left alone" {
	echo 1 > $KSM/run
	echo 1234 > $KSM/pages_to_scan
	local a
	a=$(make_bundle theirs samepage.io/merge=true)
	start_container theirs "$a"
	[ "$status" -eq 0 ] || fail "$output"
	run_ok jq -e '.ksmd.managed | not' "$STATE_DIR/state.json"
	run_ok rt delete -f theirs
	[ "$(cat $KSM/run)" = 1 ]
	[ "$(cat $KSM/pages_to_scan)" = 1234 ]
}

@test "ksmd: a knob changed by someone else while samepage manages ksmd is theirs" {
	requires advisor
	echo 0 > $KSM/run
	local a
	a=$(make_bundle mixed samepage.io/merge=true)
	start_container mixed "$a"
	[ "$status" -eq 0 ] || fail "$output"
	echo none > $KSM/advisor_mode
	run_ok rt delete -f mixed
	[ "$(cat $KSM/run)" = 0 ]
	[ "$(ksm_knob advisor_mode)" = none ]
}

@test "hook: never leaves a container stopped or traced, also under load" {
	local i pid
	for i in 1 2 3 4 5 6; do
		make_bundle "many$i" samepage.io/merge=true -- fillmem 1 1 1 > /dev/null
	done
	for i in 1 2 3 4 5 6; do
		start_container "many$i" "$BATS_TEST_TMPDIR/many$i" &
	done
	wait
	for i in 1 2 3 4 5 6; do
		wait_ready "many$i" 30 2
		pid=$(container_pid "many$i")
		[ "$(ksm_field "$pid" ksm_merge_any)" = yes ] || fail "many$i not enabled"
		grep -q '^TracerPid:[[:space:]]*0$' /proc/$pid/status || fail "many$i still traced"
		case "$(awk '{print $3}' /proc/$pid/stat)" in t|T) fail "many$i left stopped" ;; esac
	done
	run_ok jq -e '[.containers[] | select(.enabled)] | length == 6' "$STATE_DIR/state.json"
}
