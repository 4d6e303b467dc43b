#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The debug guest's suite (kernel/run.sh debug boots build/kernel-debug/vmlinux:
# lockdep, DEBUG_ATOMIC_SLEEP, DEBUG_VM, KASAN; run by init.sh as root,
# cwd = the clone):
#   1. kselftest cgroup/test_ksm (the controller's semantics)
#   2. kselftest cgroup/test_core
#   3. test-native-guest (cgroupfs/native.c against the controller)
#   4. ksm-stress (test/kernel/ksm-stress.c): enable/disable writes while
#      processes fork, exec, exit, clone3 into cgroups and migrate, ksmd at
#      full speed, then no missed process
#   5. kselftest cgroup/test_ksm_domain (the domains' semantics)
#   6. ksm-domain-stress (test/kernel/ksm-domain-stress.c): ksm.domain and
#      ksm.enable writes while processes fork, exec, vfork, clone3 into
#      cgroups, exit and migrate between domains, ksmd at full speed; a
#      checker that finds no page frame merged across domains and no KSM
#      page under deny
# and after each test scans the kernel log for reports (a lockdep splat,
# KASAN, a WARN, a BUG, sleeping in atomic context, a hung task): any report
# is a failure of that test, with the report's first lines in the TAP output
# and the whole log in $SP_RESULTS/kmsg.  Writes TAP to $SP_RESULTS/tap.
#
# KSM_STRESS_SECONDS (default 60, both stresses) is passed on from the host
# by run.sh.
set -u

R=${SP_RESULTS:?}
GB=$SP_B/kernel/guest-bin
TAP=$R/tap
KMSG=$R/kmsg
n=0
failed=0
: >"$TAP"

tap() { # tap ok|fail NAME [REASON]
	local line
	n=$((n + 1))
	case "$1" in
	ok) line="ok $n - $2" ;;
	*) line="not ok $n - $2${3:+ # $3}" failed=1 ;;
	esac
	echo "$line"
	echo "$line" >>"$TAP"
}

# The whole kernel log, from boot on, into the results share: /dev/kmsg
# hands out every record once, with sequence numbers, so nothing is lost to
# a wrapping ring buffer between two scans.
cat /dev/kmsg >"$KMSG" &
kmsg_pid=$!
sleep 1

# What counts as a kernel report: the headlines lockdep, KASAN, might_sleep
# and the hung-task detector print (a KASAN report starts "BUG: KASAN:").
# Not bare words like "lockdep" or "KASAN": the boot banners say "RCU lockdep
# checking is enabled" and "KernelAddressSanitizer initialized".
SPLAT='BUG:|WARNING:|possible circular locking|possible recursive locking|possible irq lock inversion|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context|INFO: task .* blocked|Oops|general protection fault|Call Trace:'

# splat_check: the reports logged since the last call, or nothing.  The
# reader may lag: wait until the log stops growing.  Callers read its output
# from a command substitution (a subshell), so where the scan got to is kept
# in a file, not in a variable the subshell would lose.
SCANNED=$R/kmsg.scanned
echo 0 >"$SCANNED"
splat_check() {
	local size prev=-1 new scanned
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		size=$(stat -c %s "$KMSG")
		[ "$size" = "$prev" ] && break
		prev=$size
		sleep 0.5
	done
	scanned=$(cat "$SCANNED")
	new=$(tail -c +$((scanned + 1)) "$KMSG" | head -c $((size - scanned)))
	echo "$size" >"$SCANNED"
	# A record is "prio,seq,usec,flags;text"; print the text only.
	printf '%s\n' "$new" | sed 's/^[0-9]*,[0-9]*,[0-9]*,[^;]*;//' |
		grep -E -A12 -m3 "$SPLAT"
}

# run_test NAME LIMIT CMD...: run, then fail on its exit status or a splat.
run_test() {
	local name=$1 limit=$2 rc start log splat
	shift 2
	log=$R/$(basename "$1").log
	echo "== $name"
	start=$(date +%s)
	timeout -k 5 "$limit" "$@" >"$log" 2>&1
	rc=$?
	sed 's/^/    /' "$log"
	echo "   ($name: exit $rc, $(($(date +%s) - start)) s)"
	splat=$(splat_check)
	if [ -n "$splat" ]; then
		tap fail "$name" "kernel report in the log (see kmsg)"
		printf '%s\n' "$splat" | sed 's/^/    # /' | tee -a "$TAP"
	elif [ "$rc" != 0 ]; then
		tap fail "$name" "exit $rc, see $(basename "$log")"
	else
		tap ok "$name"
	fi
}

if ! grep -qw ksm /sys/fs/cgroup/cgroup.controllers; then
	tap fail "the debug kernel has the ksm controller" "no ksm in cgroup.controllers"
	echo "1..$n" >>"$TAP"
	exit 1
fi
echo +ksm >/sys/fs/cgroup/cgroup.subtree_control

# Boot itself must be clean.
splat=$(splat_check)
if [ -n "$splat" ]; then
	tap fail "boot without kernel reports"
	printf '%s\n' "$splat" | sed 's/^/    # /' | tee -a "$TAP"
else
	tap ok "boot without kernel reports"
fi

for t in test_ksm test_core test-native-guest ksm-stress test_ksm_domain ksm-domain-stress; do
	[ -x "$GB/$t" ] || { tap fail "$t" "$GB/$t not built"; continue; }
	case $t in
	ksm-stress | ksm-domain-stress)
		secs=${KSM_STRESS_SECONDS:-60}
		run_test "$t (${secs} s)" $((secs + 240)) "$GB/$t" -t "$secs"
		;;
	*) run_test "$t" 300 "$GB/$t" ;;
	esac
done

# lockdep turns itself off after its first report (or when it runs out of
# table space, which it reports with BUG:): say whether it was on throughout.
if grep -q 'debug_locks: *1' /proc/lockdep_stats 2>/dev/null; then
	tap ok "lockdep still active at the end (debug_locks 1)"
else
	tap fail "lockdep still active at the end" "$(grep debug_locks /proc/lockdep_stats 2>/dev/null || echo 'no /proc/lockdep_stats')"
fi

kill "$kmsg_pid" 2>/dev/null
echo "1..$n" >>"$TAP"
exit $failed
