#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Boot build/kernel/vmlinux under qemu and run a guest suite:
#   kernel/run.sh check   kselftest + samepage's native-backend tests (TAP)
#   kernel/run.sh debug   the debug kernel (build/kernel-debug/vmlinux, or
#                         build/kernel-kasan/ with KERNEL_VARIANT=kasan): the
#                         controller tests + the stresses, failing on any
#                         kernel report (TAP; kernel/guest/debug.sh)
#   kernel/run.sh bench   bench/kernel-stat
#   kernel/run.sh script FILE   any bash script (debugging; as root, cwd = the clone)
#
# The guest's root is the host's root, read-only over virtio-9p; it writes
# its results into a fresh host directory shared as a second, writable 9p
# export.  The host trusts only that directory: no `exit-status` file
# within KERNEL_TIMEOUT seconds (default 1200) is a failure.
#
# Environment: B, KERNEL_TIMEOUT (default 1200; debug: 1500), KERNEL_MEM (MiB, default 2048),
# KERNEL_SMP (default 2), SP_QEMU_ACCEL (kvm|tcg; default: kvm only when
# /dev/kvm is hardware virtualization, not the PVM module found here),
# KSM_STRESS_SECONDS (debug: how long ksm-stress runs, default 60),
# KERNEL_VARIANT=debug|kasan (boot that kernel for check, bench or script too).
set -euo pipefail

mode=${1:-check}
script=
case "$mode" in
check | bench | debug) ;;
script) script=$(realpath "${2:?usage: $0 script FILE}") ;;
*) echo "usage: $0 check|bench|debug|script FILE" >&2; exit 2 ;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
B=${B:-build}
B=$(cd "$B" && pwd)
kdir=$B/kernel
timeout_s=${KERNEL_TIMEOUT:-1200}
variant=${KERNEL_VARIANT:-}
[ "$mode" = debug ] && [ -z "$variant" ] && variant=debug
case "$variant" in
debug | kasan)
	kdir=$B/kernel-$variant
	timeout_s=${KERNEL_TIMEOUT:-1500}
	;;
esac
kimg=$kdir/vmlinux
[ -f "$kimg" ] || { echo "run: $kimg missing (make kernel${kdir##*/kernel})" >&2; exit 1; }

accel=${SP_QEMU_ACCEL:-}
if [ -z "$accel" ]; then
	accel=tcg
	if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] &&
		{ [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
		accel=kvm
	fi
fi
case "$accel" in
kvm) accel_args=(-accel kvm -cpu host) ;;
tcg) accel_args=(-accel tcg -cpu max) ;;
*) echo "run: SP_QEMU_ACCEL must be kvm or tcg" >&2; exit 2 ;;
esac

results=$kdir/results/$mode
rm -rf "$results"
mkdir -p "$results"
log=$kdir/results/$mode.console

cmdline="console=ttyS0 loglevel=4 panic=-1 oops=panic"
cmdline+=" root=/dev/root rootfstype=9p ro"
cmdline+=" rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose"
cmdline+=" init=$top/kernel/guest/init.sh SP_MODE=$mode SP_TOP=$top SP_B=$B${script:+ SP_SCRIPT=$script}"
[ "$mode" = debug ] && cmdline+=" KSM_STRESS_SECONDS=${KSM_STRESS_SECONDS:-60}"

echo "[run] booting $kimg ($accel, ${KERNEL_SMP:-2} CPUs, ${KERNEL_MEM:-2048} MiB, timeout ${timeout_s}s)"
start=$(date +%s.%N)
set +e
# timeout(1) signals only the qemu it started.  mem-merge=off: qemu would
# mark the guest's RAM MADV_MERGEABLE, which the host's samepage tests would
# see as KSM memory outside any record (and ksmd would scan it for nothing).
timeout -k 10 "$timeout_s" qemu-system-x86_64 "${accel_args[@]}" \
	-machine mem-merge=off \
	-smp "${KERNEL_SMP:-2}" -m "${KERNEL_MEM:-2048}" \
	-nodefaults -no-reboot -display none -monitor none -serial stdio \
	-kernel "$kimg" -append "$cmdline" \
	-virtfs "local,id=hostroot,path=/,mount_tag=/dev/root,security_model=none,readonly=on,multidevs=remap" \
	-virtfs "local,id=results,path=$results,mount_tag=results,security_model=none,multidevs=remap" \
	-virtfs "local,id=top,path=$top,mount_tag=top,security_model=none,readonly=on,multidevs=remap" \
	</dev/null 2>&1 | tee "$log"
qemu_rc=${PIPESTATUS[0]}
set -e
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
printf '[run] qemu exited (%s) after %.1f s\n' "$qemu_rc" "$elapsed"

if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	echo "[run] FAIL: the guest did not finish within ${timeout_s}s (console: $log)"
	exit 1
fi
if [ ! -f "$results/exit-status" ]; then
	echo "[run] FAIL: the guest did not report (no $results/exit-status; console: $log)"
	exit 1
fi
st=$(cat "$results/exit-status")

if [ "$mode" = check ] || [ "$mode" = debug ]; then
	echo
	echo "== kernel tests ($(cat "$results/uname" 2>/dev/null), controllers: $(cat "$results/controllers" 2>/dev/null))"
	if [ -f "$results/tap" ]; then
		cat "$results/tap"
		pass=$(grep -c '^ok' "$results/tap" || true)
		failn=$(grep -c '^not ok' "$results/tap" || true)
		skipn=$(grep -c '^ok.*# SKIP' "$results/tap" || true)
		echo "# pass $pass (skipped $skipn), fail $failn; logs in $results"
		[ "$failn" = 0 ] || st=1
		[ "$pass" -gt 0 ] || { echo "[run] FAIL: no test ran"; st=1; }
	else
		echo "[run] FAIL: the guest wrote no TAP results"
		st=1
	fi
fi
[ "$st" = 0 ] || { echo "[run] FAIL ($mode, guest exit status $st)"; exit 1; }
echo "[run] PASS ($mode)"
