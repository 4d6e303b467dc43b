#!/usr/bin/env bats
# samepage metrics: the text exposition format line by line, the names and
# labels the docs promise, label escaping, and the atomic --output file.

load helpers

setup() {
	setup_common
	config_no_ksmd
	SLEEPER=""
	OWN_CG=""
}

teardown() {
	if [ -n "$SLEEPER" ]; then
		kill "$SLEEPER" 2>/dev/null || true
		wait "$SLEEPER" 2>/dev/null || true
	fi
	[ -n "$OWN_CG" ] && [ -d "$OWN_CG" ] && rmdir "$OWN_CG"
	teardown_common
}

# A sleeper in a cgroup of our own (OWN_CG, under test_cgroup_root), and a
# state file with one container entry over it: own_cgroup_entry NAME ID DOMAIN.
own_cgroup_entry() {
	OWN_CG=$(test_cgroup_root)/$1
	mkdir "$OWN_CG"
	( echo "$BASHPID" > "$OWN_CG/cgroup.procs"; exec sleep 300 ) &
	SLEEPER=$!
	local start
	for _ in $(seq 1 50); do grep -qx "$SLEEPER" "$OWN_CG/cgroup.procs" && break; sleep 0.1; done
	start=$(awk '{sub(/^.*\) /, ""); print $20}' "/proc/$SLEEPER/stat")
	jq -n --arg id "$2" --arg dom "$3" --arg cg "$OWN_CG" --argjson pid "$SLEEPER" --argjson st "$start" \
		'{version: 1, containers: [{id: $id, domain: $dom, pid: $pid, start_time: $st,
		  enabled: true, backend: "stock", cgroup: $cg, since: 1}], ksmd: {managed: false, knobs: []}}' \
		> "$STATE_DIR/state.json"
}

@test "metrics: the validator rejects what is not the text format" {
	printf '# TYPE samepage_x gauge\nsamepage_x{a="b"} 1\n' > "$BATS_TEST_TMPDIR/good"
	run_ok prom_validate "$BATS_TEST_TMPDIR/good"
	printf '# TYPE samepage_x gauge\nsamepage_x{a=b} 1\n' > "$BATS_TEST_TMPDIR/bad1"
	run_fail prom_validate "$BATS_TEST_TMPDIR/bad1"
	printf '# TYPE samepage_x gauge\nsamepage_y 1\n' > "$BATS_TEST_TMPDIR/bad2"
	run_fail prom_validate "$BATS_TEST_TMPDIR/bad2"
	printf '# TYPE samepage_x gauge\nsamepage_x 1.2.3\n' > "$BATS_TEST_TMPDIR/bad3"
	run_fail prom_validate "$BATS_TEST_TMPDIR/bad3"
	printf '# TYPE samepage_x gauge\nsamepage_x{a="b\\q"} 1\n' > "$BATS_TEST_TMPDIR/bad4"
	run_fail prom_validate "$BATS_TEST_TMPDIR/bad4"
}

@test "metrics: node, domain and container series in the text format" {
	requires prctl_ksm
	local b
	b=$(make_bundle m1 samepage.io/merge=true samepage.io/domain=team-a -- fillmem 4 1 1)
	start_container m1 "$b"
	[ "$status" -eq 0 ] || fail "container did not start: $output"
	wait_ready m1 30 2
	"$SAMEPAGE" --state-dir "$STATE_DIR" metrics > "$BATS_TEST_TMPDIR/out.prom"
	cat "$BATS_TEST_TMPDIR/out.prom" >&2
	run_ok prom_validate "$BATS_TEST_TMPDIR/out.prom"
	run_ok cat "$BATS_TEST_TMPDIR/out.prom"
	assert_line "samepage_container_processes{domain=\"local/team-a\",container=\"m1\"} 2"
	assert_line "samepage_container_merge_any_processes{domain=\"local/team-a\",container=\"m1\"} 2"
	assert_line "samepage_container_enabled{domain=\"local/team-a\",container=\"m1\"} 1"
	assert_line --regexp '^samepage_container_merging_pages\{domain="local/team-a",container="m1"\} [0-9]+$'
	assert_line --regexp '^samepage_container_profit_bytes\{domain="local/team-a",container="m1"\} -?[0-9]+$'
	assert_line --regexp '^samepage_domain_profit_bytes\{domain="local/team-a"\} -?[0-9]+$'
	assert_line "samepage_domain_containers{domain=\"local/team-a\"} 1"
	assert_line --regexp '^samepage_node_general_profit_bytes -?[0-9]+$'
	assert_line "# TYPE samepage_ksmd_full_scans_total counter"
	assert_line --regexp '^samepage_ksmd_full_scans_total [0-9]+$'
	assert_line --regexp '^samepage_node_info\{kernel="[^"]+",backend="stock"\} 1$'
	# the same figures as status --json
	local pages
	pages=$("$SAMEPAGE" --state-dir "$STATE_DIR" status --json | jq '.node.ksmd.run')
	assert_line "samepage_ksmd_run $pages"
}

@test "metrics: label values are escaped" {
	# A state entry with an awkward id, over a cgroup of our own.
	own_cgroup_entry "samepage-test-metrics-$$" "$(printf 'we"ird\\name\nx')" 'd"1'
	"$SAMEPAGE" --state-dir "$STATE_DIR" metrics > "$BATS_TEST_TMPDIR/out.prom"
	run_ok prom_validate "$BATS_TEST_TMPDIR/out.prom"
	run_ok cat "$BATS_TEST_TMPDIR/out.prom"
	assert_line 'samepage_container_processes{domain="d\"1",container="we\"ird\\name\nx"} 1'
	assert_line 'samepage_domain_processes{domain="d\"1"} 1'
}

@test "metrics: --output replaces the file atomically" {
	local dir=$BATS_TEST_TMPDIR/textfile
	mkdir "$dir"
	echo "old" > "$dir/samepage.prom"
	ln "$dir/samepage.prom" "$dir/old-inode"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" metrics --output "$dir/samepage.prom"
	[ -z "$output" ] || fail "--output printed: $output"
	run_ok prom_validate "$dir/samepage.prom"
	# a new file was renamed into place: the old inode still holds "old"
	[ "$(cat "$dir/old-inode")" = old ] || fail "file was rewritten in place"
	[ "$(stat -c %a "$dir/samepage.prom")" = 644 ] || fail "mode $(stat -c %a "$dir/samepage.prom")"
	[ "$(ls "$dir" | wc -l)" -eq 2 ] || fail "temporary files left: $(ls "$dir")"
	run_fail "$SAMEPAGE" --state-dir "$STATE_DIR" metrics --output /nonexistent-dir/x.prom
	assert_output --partial "/nonexistent-dir"
}

@test "metrics: a 212-character cgroup id (a Kubernetes pod's) keeps every series" {
	# kubepods-burstable-pod<uid>.slice/cri-containerd-<64 hex>.scope is
	# this long; a fixed 256-byte line once dropped 7 of its 8 series.
	local id
	id=$(printf 'kubepods-burstable-pod%s' "$(head -c 200 /dev/zero | tr '\0' 'a')" | head -c 212)
	[ "${#id}" -eq 212 ] || fail "id is ${#id} characters"
	own_cgroup_entry "$id" "$id" k8s
	local s
	"$SAMEPAGE" --state-dir "$STATE_DIR" metrics > "$BATS_TEST_TMPDIR/out.prom"
	run_ok prom_validate "$BATS_TEST_TMPDIR/out.prom"
	run_ok cat "$BATS_TEST_TMPDIR/out.prom"
	assert_line "samepage_container_enabled{domain=\"k8s\",container=\"$id\"} 1"
	assert_line "samepage_container_processes{domain=\"k8s\",container=\"$id\"} 1"
	for s in merging_pages zero_pages profit_bytes anon_bytes merged_ratio; do
		assert_line --regexp "^samepage_container_$s\\{domain=\"k8s\",container=\"$id\"\\} -?[0-9.]+\$"
	done
	# ksm_merge_any is printed by kernels newer than 6.12 only
	if grep -q '^ksm_merge_any' "/proc/$SLEEPER/ksm_stat"; then
		assert_line "samepage_container_merge_any_processes{domain=\"k8s\",container=\"$id\"} 0"
		[ "$(grep -c "container=\"$id\"" "$BATS_TEST_TMPDIR/out.prom")" -eq 8 ] || fail "not 8 series"
	fi
	# status shows the whole id too
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status
	assert_line --regexp "^$id +k8s +on +1 "
}
