#!/usr/bin/env bats
# A real interpreter workload, estimated and then merged: four runc
# containers each running a CPython parent that pre-forks workers walking
# its state (the host's python3 bind-mounted read-only, see
# bench/workloads.d/workloads.bash).  What KSM frees with the governor must
# be at least 90 % of what `samepage estimate` said it could save
# (bench/workloads runs the same at full size and the other workloads).

load helpers

setup() {
	setup_common
}

teardown() {
	teardown_common
}

@test "estimate-workload: pre-forked CPython workers: KSM frees >= 90 % of the estimate" {
	requires ksm cmd:runc cmd:/usr/bin/python3
	local tsv=$BATS_TEST_TMPDIR/workloads.tsv
	run_ok env WORKLOADS_SIZE=20000 WORKLOADS_TSV="$tsv" WORKLOADS_CAP=60 "$ROOT/bench/workloads" py-fork
	[ "$(wc -l < "$tsv")" -eq 2 ] || fail "no result line: $(cat "$tsv")"
	# workload n anon achievable share saved ratio left ksm_saved t95 cpu95 cpu
	awk -F'\t' 'NR == 2 {
		if ($1 != "py-fork" || $2 != 4) { print "wrong workload: " $0; exit 1 }
		if ($4 < 0.3 * $3) { print "pre-forked workers should share much: " $0; exit 1 }
		if ($7 < 0.9) { print "saved/achievable " $7 " < 0.9: " $0; exit 1 }
		if ($6 > 1.02 * $4) { print "freed more than the estimate said possible: " $0; exit 1 }
		if ($10 < 0) { print "never converged: " $0; exit 1 }
	}' "$tsv" || fail "$(cat "$tsv")"
}
