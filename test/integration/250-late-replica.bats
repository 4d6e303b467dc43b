#!/usr/bin/env bats
# A replica started after its twin has run alone for a while merges with it
# when samepage runs ksmd: the hook turns the kernel's smart scan off while
# it manages ksmd (config `smart_scan`, default off).  With smart scan on, a
# page that did not merge is skipped for a growing number of scans, each on
# its own schedule, and the late twin's pages rarely meet the early one's in
# the unstable tree (measured by hand: 78 % of 64 MiB after 52 s).

load helpers

setup() {
	setup_common
	requires ksm prctl_ksm
	[ -f "$KSM/smart_scan" ] || skip_or_fail "no smart_scan (Linux < 6.7): nothing to switch"
	ksm_save
	# ksmd off, as on a node where samepage turns it on; a fast fixed rate
	# (advisor none, which samepage keeps) so the test takes seconds; the
	# kernel's default smart scan.
	echo 0 > "$KSM/run"
	[ -f "$KSM/advisor_mode" ] && echo none > "$KSM/advisor_mode"
	echo 5000 > "$KSM/pages_to_scan"
	echo 20 > "$KSM/sleep_millisecs"
	echo 1 > "$KSM/smart_scan"
}

teardown() {
	teardown_common
}

# late_twin MIB DELAY: start twin a, wait DELAY s, start twin b; prints
# "MERGED SECONDS" of b once it reached 90 % (or after 30 s).
late_twin() {
	local mib=$1 delay=$2 pages=$(($1 * 256)) a b pb m i t0
	a=$(make_bundle early samepage.io/merge=true samepage.io/domain=team-a -- fillmem "$mib" 7)
	b=$(make_bundle late samepage.io/merge=true samepage.io/domain=team-a -- fillmem "$mib" 7)
	start_container early "$a"
	[ "$status" -eq 0 ] || fail "$output"
	wait_ready early
	sleep "$delay"
	start_container late "$b"
	[ "$status" -eq 0 ] || fail "$output"
	wait_ready late
	pb=$(container_pid late)
	t0=$(date +%s%N)
	for i in $(seq 1 300); do
		m=$(ksm_field "$pb" ksm_merging_pages)
		[ "$m" -ge $((pages * 9 / 10)) ] && break
		sleep 0.1
	done
	echo "$m $((($(date +%s%N) - t0) / 1000000))"
}

@test "late replica: a twin started 8 s later merges >= 90 % within 10 s (smart scan off while samepage runs ksmd)" {
	local mib=64 pages=$((64 * 256)) r
	# unattributed warn: a mergeable process of another suite on the node
	# (a qemu guest) must not refuse the domain here.
	echo '{"advisor_mode": "none", "unattributed": "warn"}' > "$CONFIG"
	r=$(late_twin $mib 8)
	echo "late twin: ${r% *} of $pages pages merging after ${r#* } ms" >&3
	[ "$(cat "$KSM/run")" = 1 ] || fail "samepage did not turn ksmd on"
	[ "$(cat "$KSM/smart_scan")" = 0 ] || fail "smart_scan is $(cat "$KSM/smart_scan") while samepage runs ksmd"
	[ "${r% *}" -ge $((pages * 9 / 10)) ] || fail "the late twin merged only ${r% *} of $pages pages"
	[ "${r#* }" -le 10000 ] || fail "the late twin took ${r#* } ms to merge 90 %"
	# The last container gone: smart scan and ksmd as samepage found them.
	run_ok rt delete -f early
	run_ok rt delete -f late
	[ "$(cat "$KSM/smart_scan")" = 1 ] || fail "smart_scan not put back"
	[ "$(cat "$KSM/run")" = 0 ] || fail "ksmd not put back"
}

@test "late replica: smart_scan keep leaves the kernel's smart scan on" {
	local a
	echo '{"advisor_mode": "none", "smart_scan": "keep", "unattributed": "warn"}' > "$CONFIG"
	a=$(make_bundle keep samepage.io/merge=true -- sleep 1000)
	start_container keep "$a"
	[ "$status" -eq 0 ] || fail "$output"
	[ "$(cat "$KSM/run")" = 1 ] || fail "samepage did not turn ksmd on"
	[ "$(cat "$KSM/smart_scan")" = 1 ] || fail "smart_scan changed under keep"
	run_ok jq -e '[.ksmd.knobs[]? | select(.name == "smart_scan")] | length == 0' "$STATE_DIR/state.json"
}
