#!/usr/bin/env bats
# samepage doctor on this machine: every check printed, the exit status
# matches the fail lines, --json says the same, and failures are real.

load helpers

CHECKS="kernel config ksm ksm_writable ksmd prctl_ksm prctl_exec bug_vma_merge bug_exec_race zero_pages smart_scan advisor prctl_args ptrace lsm native_controller cgroup_mode hook"

setup() {
	requires root
	[ -x "$SAMEPAGE" ] || fail "$SAMEPAGE not built (run make)"
	export SAMEPAGE_STATE_DIR=$BATS_TEST_TMPDIR/state
	export SAMEPAGE_CONFIG=$BATS_TEST_TMPDIR/samepage.conf
	echo '{}' > "$SAMEPAGE_CONFIG"
}

# doctor's text lines as "status name".
text_checks() {
	awk '{print $1, $2}' <<< "$1"
}

@test "doctor: every check on one line, exit status follows the fail lines" {
	run "$SAMEPAGE" doctor
	echo "$output" >&2
	local name
	for name in $CHECKS; do
		grep -Eq "^(ok|warn|fail) +$name +[^ ]" <<< "$output" || fail "no line for check $name"
	done
	# Every line is status, name, reason.
	run_ok awk 'NF < 3 || $1 !~ /^(ok|warn|fail)$/ {print "bad line: " $0; bad = 1} END {exit bad}' <<< "$output"
	run "$SAMEPAGE" doctor
	if grep -q '^fail' <<< "$output"; then
		[ "$status" -eq 1 ] || fail "fail lines but exit $status"
	else
		[ "$status" -eq 0 ] || fail "no fail line but exit $status"
	fi
	# Non-ok lines say what to do.
	run_ok awk '$1 != "ok" && index($0, "\342\200\224") == 0 {print "no action: " $0; bad = 1} END {exit bad}' <<< "$output"
}

@test "doctor: --json parses and has the same checks and statuses" {
	run "$SAMEPAGE" doctor
	local text=$output text_status=$status
	run "$SAMEPAGE" doctor --json
	[ "$status" -eq "$text_status" ] || fail "exit $status with --json, $text_status without"
	local json=$output
	run_ok jq -e '.version == 1 and (.kernel | length > 0) and (.checks | length > 10)' <<< "$json"
	run_ok jq -e '(.checks | length) as $n | [.checks[] | select((.status | IN("ok", "warn", "fail")) and (.name | length > 0) and (.reason | length > 0))] | length == $n' <<< "$json"
	run_ok jq -e '.summary.ok + .summary.warn + .summary.fail == (.checks | length)' <<< "$json"
	run_ok jq -e '[.checks[] | select(.status != "ok" and .action == null)] | length == 0' <<< "$json"
	diff <(text_checks "$text") <(jq -r '.checks[] | "\(.status) \(.name)"' <<< "$json") || fail "text and JSON differ"
}

@test "doctor: whole-process KSM across exec and VMA merging are probed on this kernel" {
	requires prctl_ksm
	local json v vma race
	json=$("$SAMEPAGE" doctor --json) || true
	v=$(uname -r | awk -F. '{print $1 * 1000 + $2}')
	requires kernel:6.7 # whole-process KSM is lost at exec before 6.7
	vma=warn; [ "$v" -ge 6017 ] && vma=ok
	race=warn; [ "$v" -ge 6019 ] && race=ok
	run_ok jq -e '.checks[] | select(.name == "prctl_exec") | .status == "ok" and (.reason | test("^probe: "))' <<< "$json"
	# The VMA merge fix (6.17) is probed; the exec race is known by version only.
	run_ok jq -e --arg s "$vma" '.checks[] | select(.name == "bug_vma_merge") | .status == $s and (.reason | test("^probe: "))' <<< "$json"
	run_ok jq -e --arg s "$race" '.checks[] | select(.name == "bug_exec_race") | .status == $s and (.reason | test("6.19"))' <<< "$json"
}

@test "doctor: a kernel without KSM fails" {
	mkdir "$BATS_TEST_TMPDIR/noksm"
	SAMEPAGE_KSM_SYSFS=$BATS_TEST_TMPDIR/noksm run "$SAMEPAGE" doctor
	echo "$output" >&2
	[ "$status" -eq 1 ] || fail "exit $status"
	assert_line --regexp '^fail +ksm +.*KSM is not built into this kernel'
}

@test "doctor: an old KSM without smart scan, advisor and zero-page tracking warns" {
	local d=$BATS_TEST_TMPDIR/oldksm
	mkdir "$d"
	for k in run pages_to_scan sleep_millisecs pages_shared pages_sharing; do echo 0 > "$d/$k"; done
	SAMEPAGE_KSM_SYSFS=$d run "$SAMEPAGE" doctor
	echo "$output" >&2
	assert_line --regexp '^warn +smart_scan +no smart_scan'
	assert_line --regexp '^warn +advisor +no advisor_mode'
	assert_line --regexp '^warn +zero_pages +no ksm_zero_pages'
	assert_line --regexp '^ok +ksm_writable '
}

@test "doctor: a broken config fails the config check" {
	echo '{"domain_policy": "everyone"}' > "$SAMEPAGE_CONFIG"
	run "$SAMEPAGE" doctor
	echo "$output" >&2
	[ "$status" -eq 1 ] || fail "exit $status"
	assert_line --regexp '^fail +config +.*domain_policy'
}

@test "doctor: podman's hooks.d JSON naming samepage-hook is found" {
	requires cmd:podman
	local d=$BATS_TEST_TMPDIR/hooks.d
	mkdir "$d"
	SAMEPAGE_HOOKS_D=$d run "$SAMEPAGE" doctor
	assert_line --regexp '^warn +podman +.*no hooks.d JSON'
	jq -n --arg hook "$HOOK" '{version: "1.0.0", hook: {path: $hook, args: ["samepage-hook", "createRuntime"]},
		when: {annotations: {"^samepage\\.io/merge$": "^true$"}}, stages: ["createRuntime"]}' > "$d/samepage.json"
	SAMEPAGE_HOOKS_D=$d run "$SAMEPAGE" doctor
	assert_line --regexp "^ok +podman +.*$d/samepage.json runs $HOOK"
	jq -n '{version: "1.0.0", hook: {path: "/nonexistent/samepage-hook"}, when: {always: true}, stages: ["prestart"]}' > "$d/samepage.json"
	SAMEPAGE_HOOKS_D=$d run "$SAMEPAGE" doctor
	[ "$status" -eq 1 ] || fail "a hooks.d JSON naming a missing hook must fail"
	assert_line --regexp '^fail +podman +.*not executable'
}

@test "doctor: --help and bad arguments" {
	run_ok "$SAMEPAGE" doctor --help
	assert_output --partial "Usage: samepage doctor"
	run_fail "$SAMEPAGE" doctor --bogus
	run_fail "$SAMEPAGE" doctor extra
}
