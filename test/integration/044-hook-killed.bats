#!/usr/bin/env bats
# The hook SIGKILLed at a random instant of real container starts
# (bench/fault-inject-runtime with 10 trials per runtime instead of 100):
# a killed hook fails its container cleanly, a container whose hook was not
# killed runs with the signal state of a container without hooks, the state
# parses and keeps no entry of a deleted container, and ksmd's knobs are
# back once nothing is recorded.  The bench saves and restores every knob
# under test/ksm-knobs.bash's lock.

load helpers

setup() {
	setup_common
}

teardown() {
	teardown_common
}

# Under $RUNTIME: make check-integration runs 0*.bats under runc, then
# again under crun.
@test "hook killed: 10 container starts" {
	requires prctl_ksm ksm "cmd:$RUNTIME" cmd:unshare
	run_ok timeout 600 env RUNTIMES="$RUNTIME" "$ROOT/bench/fault-inject-runtime" 10
	assert_output --regexp "$RUNTIME: 10 trials .* crippled 0, state-broken 0"
}
