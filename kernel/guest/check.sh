#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The guest's test suite (run by init.sh as root, cwd = the clone):
#   1. kselftest cgroup/test_ksm from the patched tree
#   2. kselftest cgroup/test_core: the controller must not break cgroup core
#   3. test-native-guest: cgroupfs/native.c against the real controller
#   4. test/kernel/*.bats: samepage-hook + runc, then + crun, in the guest
# Writes TAP to $SP_RESULTS/tap and per-suite logs next to it; exits 1 when
# anything failed.  Before the patch series exists (no `ksm` controller, no
# test_ksm.c) the controller-dependent parts are reported as skipped; once
# kernel/patches/series lists patches, their absence is a failure.
set -u

R=${SP_RESULTS:?}
GB=$SP_B/kernel/guest-bin
TAP=$R/tap
n=0
failed=0
: >"$TAP"

has_series=0
if [ -f kernel/patches/series ] && grep -qv '^[[:space:]]*\(#.*\)\?$' kernel/patches/series; then
	has_series=1
fi
has_controller=0
grep -qw ksm /sys/fs/cgroup/cgroup.controllers && has_controller=1

tap() { # tap ok|fail|skip NAME [REASON]
	local line
	n=$((n + 1))
	case "$1" in
	ok) line="ok $n - $2" ;;
	skip) line="ok $n - $2 # SKIP $3" ;;
	*) line="not ok $n - $2${3:+ # $3}" failed=1 ;;
	esac
	echo "$line"
	echo "$line" >>"$TAP"
}

# A step that needs the patch series: skipped before it exists, failed after.
not_applicable() { # NAME REASON
	if [ "$has_series" = 1 ]; then
		tap fail "$1" "$2 (kernel/patches/series is not empty)"
	else
		tap skip "$1" "$2: no patch series yet"
	fi
}

# run_timed NAME LOG TIMEOUT CMD...: run a suite with a time limit.
run_timed() {
	local name=$1 log=$2 limit=$3 rc start
	shift 3
	echo "== $name"
	start=$(date +%s)
	timeout -k 5 "$limit" "$@" >"$log" 2>&1
	rc=$?
	sed 's/^/    /' "$log"
	echo "   ($name: exit $rc, $(($(date +%s) - start)) s)"
	return $rc
}

if [ "$has_controller" = 1 ]; then
	echo +ksm >/sys/fs/cgroup/cgroup.subtree_control
fi

# 1. kselftest test_ksm
if [ -x "$GB/test_ksm" ]; then
	if [ "$has_controller" = 0 ]; then
		not_applicable "kselftest cgroup/test_ksm" "the kernel has no ksm controller"
	elif run_timed test_ksm "$R/test_ksm.log" 120 "$GB/test_ksm"; then
		tap ok "kselftest cgroup/test_ksm"
	else
		tap fail "kselftest cgroup/test_ksm" "see test_ksm.log"
	fi
else
	not_applicable "kselftest cgroup/test_ksm" "$(cat "$GB/test_ksm.missing" 2>/dev/null || echo "test_ksm not built")"
fi

# 1b. kselftest test_ksm_domain (KSM domains: ksm.domain)
if [ -x "$GB/test_ksm_domain" ]; then
	if [ "$has_controller" = 0 ]; then
		not_applicable "kselftest cgroup/test_ksm_domain" "the kernel has no ksm controller"
	elif run_timed test_ksm_domain "$R/test_ksm_domain.log" 240 "$GB/test_ksm_domain"; then
		tap ok "kselftest cgroup/test_ksm_domain"
	else
		tap fail "kselftest cgroup/test_ksm_domain" "see test_ksm_domain.log"
	fi
else
	not_applicable "kselftest cgroup/test_ksm_domain" "$(cat "$GB/test_ksm_domain.missing" 2>/dev/null || echo "test_ksm_domain not built")"
fi

# 2. kselftest test_core
if [ -x "$GB/test_core" ]; then
	if run_timed test_core "$R/test_core.log" 120 "$GB/test_core"; then
		tap ok "kselftest cgroup/test_core"
	else
		tap fail "kselftest cgroup/test_core" "see test_core.log"
	fi
else
	tap fail "kselftest cgroup/test_core" "test_core not built"
fi

# 2b. kselftest mm/ksm_vma_merge (patch 0006: VMAs of a KSM-enabled process merge)
if [ -x "$GB/ksm_vma_merge" ]; then
	if run_timed ksm_vma_merge "$R/ksm_vma_merge.log" 60 "$GB/ksm_vma_merge"; then
		tap ok "kselftest mm/ksm_vma_merge"
	else
		tap fail "kselftest mm/ksm_vma_merge" "see ksm_vma_merge.log"
	fi
else
	not_applicable "kselftest mm/ksm_vma_merge" "$(cat "$GB/ksm_vma_merge.missing" 2>/dev/null || echo "ksm_vma_merge not built")"
fi

# 3. the native backend library
run_timed test-native-guest "$R/test-native-guest.log" 120 "$GB/test-native-guest"
case $? in
0) tap ok "native backend library (test/kernel/test-native-guest.c)" ;;
77) not_applicable "native backend library (test/kernel/test-native-guest.c)" "the kernel has no ksm controller" ;;
*) tap fail "native backend library (test/kernel/test-native-guest.c)" "see test-native-guest.log" ;;
esac

# 3c. kernel domains through samepage's admission (skipped until ksm.domain exists)
run_timed test-domain-guest "$R/test-domain-guest.log" 180 "$GB/test-domain-guest"
case $? in
0) tap ok "kernel domains (test/kernel/test-domain-guest.c)" ;;
77) tap skip "kernel domains (test/kernel/test-domain-guest.c)" "the kernel has no ksm.domain" ;;
*) tap fail "kernel domains (test/kernel/test-domain-guest.c)" "see test-domain-guest.log" ;;
esac

# 3b. smart scan must let a late twin merge (kernel/patches/0007)
if run_timed ksm-late-twins "$R/ksm-late-twins.log" 300 "$GB/ksm-late-twins"; then
	tap ok "late twin merges under smart scan (test/kernel/ksm-late-twins.c)"
else
	tap fail "late twin merges under smart scan (test/kernel/ksm-late-twins.c)" "see ksm-late-twins.log"
fi

# 4. hook + runc, then crun, on the native backend
# (tests that need the controller skip or fail inside, as above)
for rt in runc crun; do
	name="samepage-hook + $rt in the guest (RUNTIME=$rt bats test/kernel)"
	if [ ! -x "$SP_B/samepage-hook" ]; then
		tap fail "$name" "$SP_B/samepage-hook not built"
		continue
	fi
	echo "== RUNTIME=$rt bats test/kernel"
	start=$(date +%s)
	RUNTIME=$rt timeout -k 5 420 bats --tap test/kernel >"$R/bats-$rt.tap" 2>"$R/bats-$rt.log"
	rc=$?
	sed 's/^/    /' "$R/bats-$rt.tap" "$R/bats-$rt.log"
	echo "   (bats $rt: exit $rc, $(($(date +%s) - start)) s)"
	if [ "$rc" = 0 ] && grep -q '^ok' "$R/bats-$rt.tap"; then
		tap ok "$name: $(grep -c "^ok" "$R/bats-$rt.tap") ok, $(grep -ci "^ok.*# skip" "$R/bats-$rt.tap") of them skipped"
	else
		tap fail "$name" "exit $rc, $(grep -c '^not ok' "$R/bats-$rt.tap") failed"
	fi
	sed 's/^/    /' "$R/bats-$rt.tap" >>"$TAP"
done

echo "1..$n" >>"$TAP"
exit $failed
