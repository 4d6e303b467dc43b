#!/usr/bin/env bats
# Many containers started at once, every hook racing on the state lock
# (bench/load with a smaller N than its default 64): every annotated one
# enabled, every unannotated one not, the state exactly the annotated ones,
# empty after they are deleted.  The bench uses its own state dir, runtime
# root and cgroup parent, and `manage_ksmd: false` (no knob is touched).

load helpers

setup() {
	setup_common
}

teardown() {
	teardown_common
}

@test "load: 16 annotated and 2 unannotated containers started at once" {
	requires prctl_ksm "cmd:$RUNTIME"
	run_ok timeout 600 env RUNTIME="$RUNTIME" "$ROOT/bench/load" 16 2
	assert_output --partial "failed checks: 0"
}
