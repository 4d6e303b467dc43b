#!/usr/bin/env bats
# samepage governor against the real ksmd and real containers: it boosts
# ksmd when a KSM container starts, decays once merging stops, restores the
# knobs on SIGTERM, and leaves a ksmd someone else runs alone.

load helpers

# Governor settings nobody else uses, so the tests can tell its writes.
GOV_CONF='{"governor": {"window_secs": 10, "boost_pages": 3001, "boost_sleep_ms": 10, "idle_pages": 51, "idle_sleep_ms": 301}}'

setup() {
	setup_common
	requires ksm prctl_ksm
	ksm_save
	echo "$GOV_CONF" > "$CONFIG"
	GOV_PID=""
}

teardown() {
	# Only the governor this test started.
	if [ -n "$GOV_PID" ] && kill -0 "$GOV_PID" 2>/dev/null; then
		kill -TERM "$GOV_PID"
		wait "$GOV_PID" || true
	fi
	teardown_common
}

start_governor() {
	"$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" governor --foreground "$@" \
		2> "$BATS_TEST_TMPDIR/governor.log" &
	GOV_PID=$!
}

stop_governor() {
	kill -TERM "$GOV_PID"
	local st=0
	wait "$GOV_PID" || st=$?
	GOV_PID=""
	echo "governor log:" >&2
	cat "$BATS_TEST_TMPDIR/governor.log" >&2
	[ "$st" -eq 0 ] || fail "governor exited with $st"
}

# wait_knob KNOB VALUE SECONDS: poll every 50 ms; prints the seconds taken.
wait_knob() {
	local k=$1 v=$2 max=$3 i
	for i in $(seq 0 $((max * 20))); do
		if [ "$(ksm_knob "$k")" = "$v" ]; then
			echo "$((i * 50))"
			return 0
		fi
		sleep 0.05
	done
	cat "$BATS_TEST_TMPDIR/governor.log" >&2
	fail "$k did not become $v within $max s (is $(ksm_knob "$k"))"
}

start_workload() {
	local name=$1 b
	b=$(make_bundle "$name" samepage.io/merge=true -- fillmem 16 7)
	# helpers.bash cats this file, which only crun writes.
	touch "$BATS_TEST_TMPDIR/$name.hook-stderr"
	start_container "$name" "$b"
	[ "$status" -eq 0 ] || fail "cannot start $name: $output"
	wait_ready "$name"
}

@test "governor: --help" {
	run_ok "$SAMEPAGE" governor --help
	assert_output --partial "Usage: samepage governor"
	assert_output --partial "--once"
}

@test "governor: boosts for a new container, decays, restores on SIGTERM" {
	echo 0 > $KSM/run
	echo 1 > $KSM/smart_scan # the kernel's default
	start_workload c1
	run_ok jq -e '.ksmd.managed == true' "$STATE_DIR/state.json"
	[ "$(ksm_knob run)" = 1 ] || fail "the hook did not turn ksmd on"
	local adv_hook sleep_hook
	adv_hook=$(ksm_knob advisor_mode)
	sleep_hook=$(ksm_knob sleep_millisecs)

	# The hook turned smart scan off (config smart_scan: off); the
	# governor scans smart when idle, as before samepage, and puts the
	# hook's off back when it stops.
	local ksmd nice0 smart0=1 smart_hook
	smart_hook=$(ksm_knob smart_scan)
	[ "$smart_hook" = 0 ] || fail "the hook left smart_scan at $smart_hook"
	ksmd=$(pgrep -x -P 2 ksmd)
	nice0=$(ps -o ni= -p "$ksmd" | tr -d ' ')
	start_governor
	# c1 is new to the governor: it takes ksmd, advisor off, boost, and
	# ksmd runs at governor.boost_nice (default 0) while boosting.
	wait_knob advisor_mode none 3
	wait_knob pages_to_scan 3001 3
	[ "$(ksm_knob smart_scan)" = 0 ] || fail "smart_scan $(ksm_knob smart_scan) while boosting"
	if [ "$nice0" -gt 0 ]; then
		[ "$(ps -o ni= -p "$ksmd" | tr -d ' ')" = 0 ] || fail "ksmd nice $(ps -o ni= -p "$ksmd") while boosting"
	fi
	# 16 MiB merge in well under the minimum boost; then idle.
	wait_knob pages_to_scan 51 20
	sleep 0.3
	[ "$(ksm_knob smart_scan)" = "$smart0" ] || fail "smart_scan $(ksm_knob smart_scan) when idle, was $smart0"
	[ "$(ps -o ni= -p "$ksmd" | tr -d ' ')" = "$nice0" ] || fail "ksmd nice $(ps -o ni= -p "$ksmd") when idle, was $nice0"
	[ "$(ksm_knob sleep_millisecs)" = 301 ] || fail "idle sleep_millisecs is $(ksm_knob sleep_millisecs)"
	run_ok jq -e '[.ksmd.knobs[] | select(.name == "pages_to_scan" and .set == "51")] | length == 1' "$STATE_DIR/state.json"

	# A second container: boost within 2 s of its start.
	local t0 t1 ms
	t0=$(date +%s%N)
	start_workload c2
	ms=$(wait_knob pages_to_scan 3001 2)
	t1=$(date +%s%N)
	echo "boost $(((t1 - t0) / 1000000)) ms after starting c2 (seen ${ms} ms after it was ready)" >&2
	[ $(((t1 - t0) / 1000000)) -le 4000 ] || fail "boost came too late"
	wait_knob pages_to_scan 51 20

	# Idle after convergence costs less than 1 % of a core.
	local c0 c1
	c0=$(awk '{sub(/.*\) /, ""); print $12 + $13}' /proc/$ksmd/stat)
	sleep 5
	c1=$(awk '{sub(/.*\) /, ""); print $12 + $13}' /proc/$ksmd/stat)
	echo "ksmd idle: $((c1 - c0)) ticks in 5 s" >&2
	[ $((c1 - c0)) -lt $(($(getconf CLK_TCK) * 5 / 100)) ] || fail "idle ksmd used $((c1 - c0)) ticks in 5 s"

	# The two containers really merged with each other.
	local p1 p2
	p1=$(container_pid c1)
	p2=$(container_pid c2)
	[ "$(ksm_field "$p1" ksm_merging_pages)" -gt 3000 ] || fail "c1 not merged: $(cat /proc/$p1/ksm_stat)"
	[ "$(ksm_field "$p2" ksm_merging_pages)" -gt 3000 ] || fail "c2 not merged: $(cat /proc/$p2/ksm_stat)"

	# SIGTERM in the middle of a boost puts ksmd's priority back too.
	start_workload c3
	wait_knob pages_to_scan 3001 2
	stop_governor
	[ "$(ps -o ni= -p "$ksmd" | tr -d ' ')" = "$nice0" ] || fail "ksmd nice $(ps -o ni= -p "$ksmd") after stop, was $nice0"
	[ "$(ksm_knob smart_scan)" = "$smart_hook" ] || fail "smart_scan $(ksm_knob smart_scan) after stop, the hook had $smart_hook"
	# Back as the hook left it, and the records as the hook made them.
	[ "$(ksm_knob advisor_mode)" = "$adv_hook" ] || fail "advisor_mode is $(ksm_knob advisor_mode), want $adv_hook"
	[ "$(ksm_knob sleep_millisecs)" = "$sleep_hook" ] || fail "sleep_millisecs is $(ksm_knob sleep_millisecs), want $sleep_hook"
	[ "$(ksm_knob run)" = 1 ] || fail "run changed"
	# (pages_to_scan: recorded by the hook, which turned the advisor on;
	# smart_scan: the hook's off, saved 1)
	run_ok jq -e '[.ksmd.knobs[].name] | sort == ["advisor_mode", "pages_to_scan", "run", "smart_scan"]' "$STATE_DIR/state.json"
	run_ok jq -e '.ksmd.knobs[] | select(.name == "smart_scan") | .set == "0" and .saved == "1"' "$STATE_DIR/state.json"
	run_ok jq -e --arg a "$adv_hook" '.ksmd.knobs[] | select(.name == "advisor_mode") | .set == $a' "$STATE_DIR/state.json"
	grep -q "restored" "$BATS_TEST_TMPDIR/governor.log" || fail "governor log lacks: restored"

	# The last poststop puts ksmd back as it was before samepage.
	rt delete -f c1
	rt delete -f c2
	rt delete -f c3
	[ "$(ksm_knob run)" = 0 ] || fail "run not restored by the hook"
	[ "$(ksm_knob smart_scan)" = 1 ] || fail "smart_scan not restored by the hook"
}

@test "governor: the hook's release while the governor runs restores everything" {
	echo 0 > $KSM/run
	local pages_before sleep_before adv_before
	pages_before=$(ksm_knob pages_to_scan)
	sleep_before=$(ksm_knob sleep_millisecs)
	adv_before=$(ksm_knob advisor_mode)
	start_workload c1
	start_governor
	wait_knob pages_to_scan 3001 3
	rt delete -f c1
	# poststop released ksmd, including the governor's records.
	wait_knob run 0 5
	[ "$(ksm_knob sleep_millisecs)" = "$sleep_before" ] || fail "sleep_millisecs is $(ksm_knob sleep_millisecs)"
	[ "$(ksm_knob advisor_mode)" = "$adv_before" ] || fail "advisor_mode is $(ksm_knob advisor_mode)"
	[ "$(ksm_knob pages_to_scan)" = "$pages_before" ] || fail "pages_to_scan is $(ksm_knob pages_to_scan)"
	# The governor notices and stops governing; nothing left to restore.
	sleep 0.5
	stop_governor
	grep -q "not governing" "$BATS_TEST_TMPDIR/governor.log" || fail "governor log lacks: not governing"
	[ "$(ksm_knob pages_to_scan)" = "$pages_before" ] || fail "governor changed pages_to_scan after release"
	[ "$(ksm_knob run)" = 0 ] || fail "run is $(ksm_knob run)"
}

@test "governor: leaves a ksmd someone else runs alone" {
	[ -f $KSM/advisor_mode ] && echo none > $KSM/advisor_mode
	echo 123 > $KSM/pages_to_scan
	echo 45 > $KSM/sleep_millisecs
	echo 1 > $KSM/run
	start_workload c1
	run_ok jq -e '.ksmd.managed == false and (.ksmd.knobs | length == 0)' "$STATE_DIR/state.json"
	start_governor
	sleep 1
	start_workload c2
	sleep 2
	[ "$(ksm_knob pages_to_scan)" = 123 ] || fail "pages_to_scan changed to $(ksm_knob pages_to_scan)"
	[ "$(ksm_knob sleep_millisecs)" = 45 ] || fail "sleep_millisecs changed to $(ksm_knob sleep_millisecs)"
	stop_governor
	[ "$(ksm_knob pages_to_scan)" = 123 ] || fail "pages_to_scan changed to $(ksm_knob pages_to_scan)"
	[ "$(ksm_knob run)" = 1 ] || fail "run changed"
	run_ok jq -e '.ksmd.knobs | length == 0' "$STATE_DIR/state.json"
}

@test "governor: governor.manage governs someone else's ksmd and gives it back" {
	echo '{"governor": {"manage": true, "boost_pages": 3001, "boost_sleep_ms": 10, "idle_pages": 51, "idle_sleep_ms": 301}}' > "$CONFIG"
	[ -f $KSM/advisor_mode ] && echo none > $KSM/advisor_mode
	echo 123 > $KSM/pages_to_scan
	echo 45 > $KSM/sleep_millisecs
	echo 1 > $KSM/run
	start_governor
	# No container: governed, idle.
	wait_knob pages_to_scan 51 3
	start_workload c1
	wait_knob pages_to_scan 3001 3
	stop_governor
	[ "$(ksm_knob pages_to_scan)" = 123 ] || fail "pages_to_scan is $(ksm_knob pages_to_scan)"
	[ "$(ksm_knob sleep_millisecs)" = 45 ] || fail "sleep_millisecs is $(ksm_knob sleep_millisecs)"
	run_ok jq -e '.ksmd.knobs | length == 0' "$STATE_DIR/state.json"
}

@test "governor: an operator's change makes it step aside" {
	echo 0 > $KSM/run
	start_workload c1
	start_governor
	wait_knob pages_to_scan 3001 3
	wait_knob pages_to_scan 51 20
	echo 777 > $KSM/sleep_millisecs
	start_workload c2
	sleep 1.5
	[ "$(ksm_knob sleep_millisecs)" = 777 ] || fail "operator's sleep_millisecs overwritten: $(ksm_knob sleep_millisecs)"
	[ "$(ksm_knob pages_to_scan)" != 3001 ] || fail "governor boosted after the operator took over"
	stop_governor
	grep -q "changed by someone else" "$BATS_TEST_TMPDIR/governor.log" || fail "governor log lacks: changed by someone else"
	[ "$(ksm_knob sleep_millisecs)" = 777 ] || fail "sleep_millisecs is $(ksm_knob sleep_millisecs)"
}

@test "governor: --once boosts for running containers and exits when converged" {
	echo 0 > $KSM/run
	start_workload c1
	start_workload c2
	local adv
	adv=$(ksm_knob advisor_mode)
	run_ok timeout 60 "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" governor --once
	assert_output --partial "converged"
	[ "$(ksm_knob advisor_mode)" = "$adv" ] || fail "advisor_mode not restored"
	[ "$(ksm_field "$(container_pid c2)" ksm_merging_pages)" -gt 3000 ] || fail "c2 not merged"
}
