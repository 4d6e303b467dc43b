#!/usr/bin/env bats
# The last `samepage estimate` beside what KSM saves now: status (text and
# --json), metrics and doctor read it from the state dir (estimate.json).
# Two identical containers with KSM on and a distinct one without: the
# estimate says 16 MiB are achievable in team-a and nothing in team-b; once
# ksmd merged the twins, status shows saved / achievable near 100 %, and
# doctor says KSM pays in team-a and not in team-b, by the config's
# threshold.

load helpers

MIB=1048576

setup() {
	setup_common
}

teardown() {
	teardown_common
}

sp() {
	"$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" "$@"
}

# within A B PERCENT: |A - B| <= PERCENT % of B
within() {
	awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= b * p / 100) }'
}

# doctor's estimate line for a domain: "status reason"
doctor_estimate() {
	sp doctor --json | jq -r --arg d "domain $1:" '.checks[] | select(.name == "estimate" and (.reason | startswith($d)))
		| "\(.status) \(.reason)"'
}

@test "estimate-status: without an estimate status, metrics and doctor say so" {
	run_ok sp status
	assert_output --partial "Estimate: none yet"
	run_ok sp status --json
	echo "$output" | jq -e '.estimate == null' || fail "estimate not null"
	run_ok sp metrics
	refute_output --partial "samepage_estimate_"
	run sp doctor --json
	echo "$output" | jq -e '[.checks[] | select(.name == "estimate")] | length == 1 and .[0].status == "ok"
		and (.[0].reason | test("no estimate yet"))' || fail "doctor: $output"
}

@test "estimate-status: a broken estimate.json is named, not read as zero" {
	echo '{"version": 7}' > "$STATE_DIR/estimate.json"
	run_ok sp status
	assert_output --partial "Estimate: cannot read the last one"
	assert_output --partial "estimate.json"
	run_ok sp status --json
	echo "$output" | jq -e '.estimate.error | test("version 7")' || fail "no error in JSON"
	run_ok sp metrics
	refute_output --partial "samepage_estimate_"
}

@test "estimate-status: saved / achievable per domain after merging; doctor by the threshold" {
	requires ksm prctl_ksm
	ksm_save
	ksm_fast
	config_no_ksmd
	local b1 b2 b3 json saved ach
	b1=$(make_bundle twin1 samepage.io/merge=true samepage.io/domain=team-a -- fillmem 16 7)
	b2=$(make_bundle twin2 samepage.io/merge=true samepage.io/domain=team-a -- fillmem 16 7)
	b3=$(make_bundle other samepage.io/domain=team-b -- fillmem 16 9)
	start_container twin1 "$b1"
	start_container twin2 "$b2"
	start_container other "$b3"
	wait_ready twin1
	wait_ready twin2
	wait_ready other

	# The estimate is kept (node-wide and per domain, with its time).
	run_ok sp estimate --quiet --runtime-root "$RT_ROOT" --json
	[ -f "$STATE_DIR/estimate.json" ] || fail "estimate.json not written"
	jq -e --argjson now "$(date +%s)" '.version == 1 and (.time - $now | fabs) < 60 and .complete
		and ([.domains[].domain] | sort) == ["local/team-a", "local/team-b"]' "$STATE_DIR/estimate.json" \
		|| fail "estimate.json: $(cat "$STATE_DIR/estimate.json")"
	# Achievable counts what KSM saved already, so it does not depend on
	# how far ksmd got before the scan: 16 MiB in team-a, none in team-b.
	within "$(jq '.domains[] | select(.domain == "local/team-a") | .achievable_bytes' "$STATE_DIR/estimate.json")" \
		$((16 * MIB)) 2 || fail "team-a achievable not 16 MiB"
	jq -e --argjson m $MIB '.domains[] | select(.domain == "local/team-b") | .achievable_bytes < 0.02 * 16 * $m' \
		"$STATE_DIR/estimate.json" || fail "team-b achievable"

	wait_merged $((16 * MIB / 4096)) "$(container_pid twin1)" "$(container_pid twin2)"
	# Once merged, the same scan finds the same achievable (each mapping of
	# a KSM frame counts as the page it was) and sees the frames it saved.
	run_ok sp estimate --quiet --no-save --runtime-root "$RT_ROOT" --json
	json=$(echo "$output" | jq '.domains[] | select(.domain == "local/team-a")')
	within "$(echo "$json" | jq .saving_bytes)" $((16 * MIB)) 2 || fail "team-a saving after merging: $json"
	echo "$json" | jq -e --argjson m $MIB '.ksm_pages * 4096 >= 0.95 * 32 * $m
		and .anon_bytes - .frame_bytes >= 0.95 * 16 * $m' || fail "merged frames not seen: $json"
	# status --json: saved beside achievable, ratio near 1 in team-a.
	run_ok sp status --json
	json=$output
	echo "$json" | jq -e '.estimate.age_seconds >= 0 and .estimate.age_seconds < 120 and .estimate.complete' \
		|| fail "estimate header: $(echo "$json" | jq -c .estimate)"
	saved=$(echo "$json" | jq '.estimate.domains[] | select(.domain == "local/team-a") | .saved_bytes')
	ach=$(echo "$json" | jq '.estimate.domains[] | select(.domain == "local/team-a") | .achievable_bytes')
	awk -v s="$saved" -v a="$ach" 'BEGIN { exit !(s >= 0.9 * a && s <= 1.02 * a) }' \
		|| fail "team-a saved $saved of achievable $ach"
	echo "$json" | jq -e '.estimate.domains[] | select(.domain == "local/team-a") | .ratio >= 0.9 and .ratio <= 1' \
		|| fail "team-a ratio"
	echo "$json" | jq -e '.estimate.domains[] | select(.domain == "local/team-b") | .saved_bytes == 0' \
		|| fail "team-b saves"
	# The text shows the same, as a percentage.
	run_ok sp status
	assert_output --partial "Estimate (samepage estimate, "
	assert_output --regexp $'\nlocal/team-a +1[5-6]\.[0-9]MiB +1[5-6]\.[0-9]MiB +(9[0-9]|100)%'
	# metrics: the documented series, a valid exposition.
	run_ok sp metrics
	echo "$output" > "$BATS_TEST_TMPDIR/metrics.prom"
	prom_validate "$BATS_TEST_TMPDIR/metrics.prom"
	assert_output --regexp $'\nsamepage_estimate_age_seconds [0-9]+\n'
	within "$(awk '$1 == "samepage_estimate_achievable_bytes{domain=\"local/team-a\"}" {print $2}' \
		"$BATS_TEST_TMPDIR/metrics.prom")" "$ach" 0 || fail "metrics achievable differs from status"
	within "$(awk '$1 == "samepage_estimate_saved_bytes{domain=\"local/team-a\"}" {print $2}' \
		"$BATS_TEST_TMPDIR/metrics.prom")" "$saved" 2 || fail "metrics saved differs from status"

	# doctor: 16 of team-a's 32 MiB (50 %) pays at the default 5 % and KSM
	# is on; team-b's ~0 % does not, and it is off.
	run doctor_estimate local/team-a
	assert_output --regexp "^ok domain local/team-a: KSM pays"
	run doctor_estimate local/team-b
	assert_output --regexp "^ok domain local/team-b: KSM would not pay"
	# At 60 % team-a does not pay any more: doctor says turn it off.
	config_no_ksmd '"estimate": {"pays_percent": 60}'
	run doctor_estimate local/team-a
	assert_output --regexp "^warn domain local/team-a: KSM does not pay .* below estimate.pays_percent 60"
	# A stale estimate earns a hint to run it again.
	config_no_ksmd '"estimate": {"max_age_secs": 1}'
	sleep 2
	sp doctor --json | jq -e '.checks[] | select(.name == "estimate" and .status == "warn"
		and (.reason | test("the last estimate is [0-9]+ s old")))' || fail "stale estimate not flagged"
}

@test "estimate-status: doctor suggests KSM for a domain where it pays but is off" {
	local b1 b2
	b1=$(make_bundle off1 samepage.io/domain=team-c -- fillmem 8 5)
	b2=$(make_bundle off2 samepage.io/domain=team-c -- fillmem 8 5)
	start_container off1 "$b1"
	start_container off2 "$b2"
	wait_ready off1
	wait_ready off2
	run_ok sp estimate --quiet --runtime-root "$RT_ROOT"
	run doctor_estimate local/team-c
	assert_output --regexp "^warn domain local/team-c: KSM would pay \([45][0-9]\.[0-9]% .* but is off"
	sp doctor | grep -q "samepage.io/merge=true" || fail "doctor does not say what to do"
	# --no-save keeps the previous result.
	cp "$STATE_DIR/estimate.json" "$BATS_TEST_TMPDIR/before.json"
	run_ok sp estimate --quiet --no-save --pid "$(container_pid off1)"
	cmp "$STATE_DIR/estimate.json" "$BATS_TEST_TMPDIR/before.json" || fail "--no-save wrote the record"
}
