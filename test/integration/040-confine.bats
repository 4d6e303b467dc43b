#!/usr/bin/env bats
# The hook confines itself before it reads tenant input: no_new_privs, only
# CAP_SYS_PTRACE and CAP_KILL at createRuntime (none at poststop), a seccomp
# filter.  Observed from outside while the hook waits for the state lock
# this test holds.

load helpers

setup() {
	setup_common
}

teardown() {
	[ -z "${LOCK_PID:-}" ] || kill "$LOCK_PID" 2>/dev/null || true
	teardown_common
}

# The pid of the hook process started for this test (its argv names our
# state dir), waiting up to 10 s for it to appear.
hook_pid_for_state_dir() {
	local i p
	for i in $(seq 1 100); do
		for p in $(pgrep -x samepage-hook); do
			tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$STATE_DIR" && { echo "$p"; return 0; }
		done
		sleep 0.1
	done
	return 1
}

# hook_status_while_locked CMD...: hold the state lock, run CMD in the
# background, and print the status of the hook process it starts while the
# hook waits for the lock; then let go and wait for CMD.
hook_status_while_locked() {
	local pid st cmd_pid
	mkdir -p "$STATE_DIR"
	flock --no-fork "$STATE_DIR/lock" sleep 60 &
	LOCK_PID=$!
	sleep 0.2
	"$@" > /dev/null &
	cmd_pid=$!
	pid=$(hook_pid_for_state_dir) || fail "no hook process seen"
	st=$(cat "/proc/$pid/status")
	kill "$LOCK_PID"
	LOCK_PID=
	wait "$cmd_pid" || true
	echo "$st" | grep -E '^(CapEff|CapPrm|CapInh|CapAmb|NoNewPrivs|Seccomp):' >&2
	echo "$st"
}

@test "confine: the createRuntime hook runs with no_new_privs, two capabilities and a seccomp filter" {
	requires prctl_ksm
	local b pid st
	b=$(make_bundle conf samepage.io/merge=true)
	st=$(hook_status_while_locked start_container conf "$b")
	echo "$st" | grep -qx $'NoNewPrivs:\t1' || fail "no_new_privs not set"
	echo "$st" | grep -qx $'Seccomp:\t2' || fail "no seccomp filter"
	# CAP_KILL (5) and CAP_SYS_PTRACE (19).
	echo "$st" | grep -qx $'CapEff:\t0000000000080020' || fail "CapEff: $(echo "$st" | grep CapEff)"
	echo "$st" | grep -qx $'CapPrm:\t0000000000080020' || fail "CapPrm: $(echo "$st" | grep CapPrm)"
	echo "$st" | grep -qx $'CapInh:\t0000000000000000' || fail "CapInh not cleared"
	# And the confined hook still did its work.
	pid=$(container_pid conf)
	[ "$(ksm_field "$pid" ksm_merge_any)" = yes ] || fail "init $pid not enabled"
}

@test "confine: the poststop hook keeps no capability" {
	requires prctl_ksm
	local b pid st
	b=$(make_bundle post samepage.io/merge=true)
	start_container post "$b"
	[ "$status" -eq 0 ] || fail "container did not start: $output"
	st=$(hook_status_while_locked rt delete -f post)
	echo "$st" | grep -qx $'NoNewPrivs:\t1' || fail "no_new_privs not set"
	echo "$st" | grep -qx $'Seccomp:\t2' || fail "no seccomp filter"
	echo "$st" | grep -qx $'CapEff:\t0000000000000000' || fail "CapEff: $(echo "$st" | grep CapEff)"
}
