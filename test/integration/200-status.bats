#!/usr/bin/env bats
# samepage status against containers the hook enabled: the figures are the
# sums of the containers' /proc files, the table and --json agree, refused
# containers show why, filters select what they say.

load helpers

setup() {
	setup_common
}

teardown() {
	teardown_common
}

@test "status: --help, bad option, unknown container" {
	run_ok "$SAMEPAGE" status --help
	assert_output --partial "Usage: samepage status"
	run "$SAMEPAGE" status --bogus
	[ "$status" -eq 2 ] || fail "bad option: exit $status"
	run_fail "$SAMEPAGE" --state-dir "$STATE_DIR" status no-such-thing
	assert_output --partial "\`no-such-thing\`: no such container in the node state"
}

@test "status: node figures come from /sys/kernel/mm/ksm" {
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status --json
	local full
	full=$(cat $KSM/full_scans)
	echo "$output" | jq -e --argjson run "$(cat $KSM/run)" --argjson pts "$(cat $KSM/pages_to_scan)" \
		--arg kernel "$(uname -r)" \
		'.version == 1 and .node.kernel == $kernel and .node.backend == "stock"
		 and .node.ksmd.run == $run and .node.ksmd.pages_to_scan == $pts
		 and (.node.pages_sharing | type) == "number" and (.node.general_profit_bytes | type) == "number"
		 and (.node.ksm_zero_pages | type) == "number" and .containers == [] and .total.containers == 0' \
		|| fail "unexpected node figures"
	# full_scans only grows
	[ "$(echo "$output" | jq .node.ksmd.full_scans)" -ge "$full" ] || fail "full_scans went backwards"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status
	assert_output --partial "kernel           $(uname -r)"
	assert_output --partial "No containers"
}

@test "status: annotated container with its merge-any processes" {
	requires prctl_ksm
	config_no_ksmd
	local b
	b=$(make_bundle web samepage.io/merge=true samepage.io/domain=team-a -- fillmem 4 1 2)
	start_container web "$b"
	[ "$status" -eq 0 ] || fail "container did not start: $output"
	wait_ready web 30 3
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status --json
	echo "$output" | jq -e --arg cg "$(container_cgroup web)" \
		'.containers | length == 1 and .[0].id == "web" and .[0].domain == "local/team-a" and .[0].state == "on"
		 and .[0].processes == 3 and .[0].merge_any_processes == 3 and .[0].cgroup == $cg
		 and .[0].anon_bytes >= 3 * 4 * 1048576' || fail "unexpected container row"
	echo "$output" | jq -e '.domains | length == 1 and .[0].domain == "local/team-a" and .[0].containers == 1 and .[0].processes == 3' \
		|| fail "unexpected domain row"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status
	assert_output --regexp $'\nweb +local/team-a +on +3 +3 '
	assert_output --regexp $'\nlocal/team-a +1 +3 +3 '
}

@test "status: two identical containers merge; figures equal the /proc sums and the table" {
	requires ksm prctl_ksm
	ksm_save
	ksm_fast
	config_no_ksmd
	local b1 b2 pids prev="" now i json row
	b1=$(make_bundle twin1 samepage.io/merge=true samepage.io/domain=team-a -- fillmem 16 7 1)
	b2=$(make_bundle twin2 samepage.io/merge=true samepage.io/domain=team-a -- fillmem 16 7 1)
	start_container twin1 "$b1"
	[ "$status" -eq 0 ] || fail "twin1 did not start: $output"
	start_container twin2 "$b2"
	[ "$status" -eq 0 ] || fail "twin2 did not start: $output"
	wait_ready twin1 30 2
	wait_ready twin2 30 2
	pids=$(cat "$(container_cgroup twin1)/cgroup.procs" "$(container_cgroup twin2)/cgroup.procs")
	# Wait until merging has settled: the same sums twice in a row.
	for i in $(seq 1 60); do
		now=$(proc_sums $pids)
		[ "$now" = "$prev" ] && [ "$(echo "$now" | cut -d' ' -f3)" -gt 0 ] && break
		prev=$now
		sleep 0.5
	done
	echo "settled /proc sums (procs merge_any merging zero profit): $now" >&2
	[ "$(echo "$now" | cut -d' ' -f3)" -gt 4000 ] || fail "identical containers did not merge: $now"

	# Read /proc, status, /proc again: compare when nothing moved meanwhile.
	local after
	for i in $(seq 1 10); do
		now=$(proc_sums $pids)
		run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status --json
		json=$output
		after=$(proc_sums $pids)
		[ "$after" = "$now" ] && break
		sleep 0.5
	done
	[ "$after" = "$now" ] || fail "ksmd kept changing the figures ($now -> $after)"
	echo "$json" | jq -r '.total | "\(.processes) \(.merge_any_processes) \(.merging_pages) \(.zero_pages) \(.profit_bytes)"' \
		> "$BATS_TEST_TMPDIR/json-sums"
	[ "$(cat "$BATS_TEST_TMPDIR/json-sums")" = "$now" ] || fail "status --json $(cat "$BATS_TEST_TMPDIR/json-sums") != /proc $now"
	echo "$json" | jq -e '.total.profit_bytes > 0 and .node.general_profit_bytes > 0 and .node.pages_sharing > 0
		and (.containers | map(.merging_pages > 0) | all) and .domains[0].containers == 2
		and .total.merged_share > 0.4' || fail "expected profit in every row"

	# The table shows the same numbers.
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status
	for c in twin1 twin2; do
		row=$(echo "$output" | awk -v c="$c" '$1 == c')
		local procs any merging
		procs=$(echo "$json" | jq --arg c "$c" '.containers[] | select(.id == $c) | .processes')
		any=$(echo "$json" | jq --arg c "$c" '.containers[] | select(.id == $c) | .merge_any_processes')
		merging=$(fmt_size $(($(echo "$json" | jq --arg c "$c" '.containers[] | select(.id == $c) | .merging_pages') * 4096)))
		[ "$(echo "$row" | awk '{print $4, $5, $6}')" = "$procs $any $merging" ] \
			|| fail "table row '$row' does not match json ($procs $any $merging)"
	done
}

@test "status: a refused container is listed with the reason" {
	requires prctl_ksm
	config_no_ksmd
	local b1 b2
	b1=$(make_bundle owner samepage.io/merge=true samepage.io/domain=team-a)
	b2=$(make_bundle other samepage.io/merge=true samepage.io/domain=team-b)
	start_container owner "$b1"
	[ "$status" -eq 0 ] || fail "owner did not start: $output"
	start_container other "$b2"
	[ "$status" -eq 0 ] || fail "other did not start: $output"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status --json
	echo "$output" | jq -e '.containers[] | select(.id == "other") | .state == "refused" and .enabled == false
		and (.reason | contains("domain `local/team-a` owns KSM"))' || fail "refusal not shown"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status
	assert_output --regexp $'\nother +local/team-b +refused '
	assert_output --partial "other (local/team-b): refused: domain \`local/team-b\` refused"
}

@test "status: --domain and CONTAINER arguments select rows" {
	requires prctl_ksm
	config_no_ksmd '"domain_policy": "shared"'
	local b1 b2 cg
	b1=$(make_bundle a1 samepage.io/merge=true samepage.io/domain=team-a)
	b2=$(make_bundle b1 samepage.io/merge=true samepage.io/domain=team-b)
	start_container a1 "$b1"
	start_container b1 "$b2"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status --json --domain local/team-b
	echo "$output" | jq -e '[.containers[].id] == ["b1"] and [.domains[].domain] == ["local/team-b"]' || fail "--domain"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status --json a1
	echo "$output" | jq -e '[.containers[].id] == ["a1"]' || fail "by id"
	# A cgroup path that is not in the state is read too, without a domain.
	cg=$(container_cgroup b1)
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status --json "$cg"
	echo "$output" | jq -e --arg cg "$cg" '.containers | length == 1 and .[0].id == $cg and .[0].in_state == false
		and .[0].domain == null and .[0].processes == 1' || fail "by cgroup path"
}
