#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build, on the host, the programs the test guest runs (the guest sees the
# host's root read-only, so it cannot compile anything itself):
#   build/kernel/guest-bin/test_ksm          kselftest from the patched tree
#   build/kernel/guest-bin/test_core         cgroup core kselftest (regression check)
#   build/kernel/guest-bin/test-native-guest cgroupfs/native.c against the real controller
#   build/kernel/guest-bin/kernel-stat       the ksm.stat benchmark driver
#   build/test/fillmem                       static workload for containers
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
B=${B:-build}
B=$(cd "$B" && pwd)
SRC=$B/kernel-src/linux-source-6.12
OBJ=$B/kernel/obj
GB=$B/kernel/guest-bin
SEL=$SRC/tools/testing/selftests/cgroup
mkdir -p "$GB" "$top/build/test"

say() { printf '[guest-bins] %s\n' "$*"; }

# uapi headers of the guest kernel, for the selftests.
# Same CC/HOSTCC as kernel/build.sh, or kbuild sees changed commands and
# rebuilds its host tools on every alternation.
make -s -C "$SRC" O="$OBJ" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc" headers >/dev/null

CFLAGS_SP=(-std=gnu11 -O2 -g -Wall -Wextra -Wformat=2 -Wshadow
	-Werror=implicit-function-declaration -D_GNU_SOURCE -I"$top")

# Rebuild only when a source is newer than the binary.
stale() {
	local out=$1 f
	shift
	[ -x "$out" ] || return 0
	for f in "$@"; do
		[ "$f" -nt "$out" ] && return 0
	done
	return 1
}

selftest() {
	local t=$1
	rm -f "$GB/$t.missing"
	if [ ! -f "$SEL/$t.c" ]; then
		# The guest reports a missing selftest (and whether that is
		# expected) from this marker.
		echo "$SEL/$t.c does not exist" >"$GB/$t.missing"
		rm -f "$GB/$t"
		say "$t: no $t.c in the kernel tree"
		return 0
	fi
	# The selftest Makefile knows the test's sources; it prints what it builds.
	make -s -C "$SEL" OUTPUT="$GB" KHDR_INCLUDES="-isystem $OBJ/usr/include" "$GB/$t"
}
selftest test_ksm
selftest test_core

native_srcs=(test/kernel/test-native-guest.c cgroupfs/native.c base/fileio.c base/error.c)
if stale "$GB/test-native-guest" "${native_srcs[@]}" cgroupfs/native.h base/fileio.h base/error.h; then
	say "building test-native-guest"
	gcc "${CFLAGS_SP[@]}" -o "$GB/test-native-guest" "${native_srcs[@]}" -lcmocka
fi

bench_srcs=(bench/kernel-stat.d/kernel-stat.c cgroupfs/native.c base/fileio.c base/error.c)
if [ -f "${bench_srcs[0]}" ] && stale "$GB/kernel-stat" "${bench_srcs[@]}" cgroupfs/native.h; then
	say "building kernel-stat"
	gcc "${CFLAGS_SP[@]}" -o "$GB/kernel-stat" "${bench_srcs[@]}"
fi

# Same binary and path as test/integration/helpers.bash's fillmem_bin, which
# cannot build it inside the read-only guest.
if stale "$top/build/test/fillmem" test/integration/fillmem.c; then
	say "building fillmem (static)"
	gcc -O2 -static -o "$top/build/test/fillmem.tmp.$$" test/integration/fillmem.c
	mv "$top/build/test/fillmem.tmp.$$" "$top/build/test/fillmem"
fi
