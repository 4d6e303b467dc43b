#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the qemu guest kernel for samepage's kernel tests:
#   Debian's linux-source-6.12 + kernel/patches/series + kernel/config.fragment
# -> build/kernel/bzImage and build/kernel/vmlinux (PVH, booted by qemu).
#
# Incremental by design: the source is extracted once; a changed series is
# synced quilt-style (patches that changed, and everything after them, are
# reversed and re-applied), so untouched files keep their mtimes; objects live
# in build/kernel/obj (O=) and go through ccache.
#
# Environment: B (build dir, default build), KERNEL_TARBALL, CCACHE_DIR,
# KERNEL_PATCHES (a series directory other than kernel/patches, e.g. work in
# progress),
# KERNEL_JOBS (default: number of CPUs), KERNEL_VERBOSE=1 for every make line,
# KERNEL_VARIANT=debug for the debug kernel (kernel/config.debug.fragment on
# top of kernel/config.fragment: lockdep, DEBUG_ATOMIC_SLEEP, DEBUG_VM) into
# build/kernel-debug/, KERNEL_VARIANT=kasan for that plus KASAN
# (kernel/config.kasan.fragment) into build/kernel-kasan/ (same patched
# source, their own objects).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
B=${B:-build}
B=$(mkdir -p "$B" && cd "$B" && pwd)

KERNEL_PKG=linux-source-6.12
KERNEL_TARBALL=${KERNEL_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
PATCHES=${KERNEL_PATCHES:-$top/kernel/patches}
SERIES=$PATCHES/series
SRCROOT=$B/kernel-src
SRC=$SRCROOT/linux-source-6.12
APPLIED=$SRCROOT/applied
VARIANT=${KERNEL_VARIANT:-normal}
case "$VARIANT" in
normal)
	OUT=$B/kernel
	FRAGMENTS=("$top/kernel/config.fragment")
	;;
debug)
	OUT=$B/kernel-debug
	FRAGMENTS=("$top/kernel/config.fragment" "$top/kernel/config.debug.fragment")
	;;
kasan)
	OUT=$B/kernel-kasan
	FRAGMENTS=("$top/kernel/config.fragment" "$top/kernel/config.debug.fragment" "$top/kernel/config.kasan.fragment")
	;;
*) echo "[kernel] error: KERNEL_VARIANT must be normal, debug or kasan" >&2; exit 2 ;;
esac
OBJ=$OUT/obj
# Both variants build from the one patched tree in $SRCROOT.
ALL_OBJS=("$B/kernel/obj" "$B/kernel-debug/obj" "$B/kernel-kasan/obj")
JOBS=${KERNEL_JOBS:-$(nproc)}

say() { printf '[kernel] %s\n' "$*"; }
die() { printf '[kernel] error: %s\n' "$*" >&2; exit 1; }

# --- ccache outside the clone -------------------------------------------
if [ -z "${CCACHE_DIR:-}" ]; then
	if mkdir -p /var/cache/samepage-ccache 2>/dev/null && [ -w /var/cache/samepage-ccache ]; then
		CCACHE_DIR=/var/cache/samepage-ccache
	else
		CCACHE_DIR=$HOME/.cache/samepage-ccache
	fi
fi
mkdir -p "$CCACHE_DIR"
export CCACHE_DIR
# Re-extracted or re-patched files are new; without these sloppiness flags
# ccache refuses to cache anything that includes a file modified in the
# last few seconds.
export CCACHE_SLOPPINESS=include_file_mtime,include_file_ctime,time_macros
export CCACHE_BASEDIR=$top
# Same inputs -> same init/version.o -> ccache hit.
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 2026'
export KBUILD_BUILD_USER=samepage KBUILD_BUILD_HOST=samepage KBUILD_BUILD_VERSION=1

# Both variants share the patched tree: one build.sh per build dir at a time
# (a parallel `make kernel kernel-debug` waits here instead of re-patching
# the tree under the other's compiler).
exec 9>"$B/.kernel-build.lock"
flock 9

# --- source ---------------------------------------------------------------
if [ ! -f "$KERNEL_TARBALL" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "installing $KERNEL_PKG"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$KERNEL_PKG"
	fi
	[ -f "$KERNEL_TARBALL" ] || die "$KERNEL_TARBALL not found: install $KERNEL_PKG (make deps)"
fi

pkg_version=$(dpkg-query -W -f='${Version}' "$KERNEL_PKG" 2>/dev/null || echo unknown)
src_id="$pkg_version $(stat -c '%s %Y' "$KERNEL_TARBALL")"

extract_source() {
	say "extracting $KERNEL_TARBALL ($pkg_version)"
	rm -rf "$SRCROOT"
	mkdir -p "$SRCROOT/.extract"
	tar -xJf "$KERNEL_TARBALL" -C "$SRCROOT/.extract"
	mv "$SRCROOT/.extract/linux-source-6.12" "$SRC"
	rmdir "$SRCROOT/.extract"
	mkdir -p "$APPLIED"
	: >"$APPLIED/series"
	printf '%s\n' "$src_id" >"$SRCROOT/stamp-extract"
	# A new tree means every object is stale (of either variant); O=
	# objects would otherwise be trusted by mtime only, and the tarball's
	# files carry old mtimes.
	rm -rf "${ALL_OBJS[@]}"
}

if [ ! -d "$SRC" ] || [ "$(cat "$SRCROOT/stamp-extract" 2>/dev/null)" != "$src_id" ]; then
	extract_source
fi
src_version=$(sed -n 's/^VERSION = //p; s/^PATCHLEVEL = //p; s/^SUBLEVEL = //p' "$SRC/Makefile" | paste -sd.)

# The version the series was last tested on, as its author recorded it in a
# comment of kernel/patches/series or in kernel/SERIES-NOTES.md.
tested_version() {
	local v=""
	[ -f "$SERIES" ] && v=$(grep '^#' "$SERIES" | grep -Eo '6\.12\.[0-9]+' | head -n1 || true)
	[ -z "$v" ] && [ -f "$top/kernel/SERIES-NOTES.md" ] &&
		v=$(grep -Eo '6\.12\.[0-9]+' "$top/kernel/SERIES-NOTES.md" | head -n1 || true)
	echo "${v:-not recorded}"
}

# --- patch series ---------------------------------------------------------
wanted=()
if [ -f "$SERIES" ]; then
	while read -r name _; do
		case "$name" in '' | '#'*) continue ;; esac
		[ -f "$PATCHES/$name" ] || die "kernel/patches/series lists $name, but kernel/patches/$name does not exist"
		wanted+=("$name")
	done <"$SERIES"
fi
applied=()
while read -r name; do
	[ -n "$name" ] && applied+=("$name")
done <"$APPLIED/series"

# Patches identical (name and content) to the applied ones, from the start,
# stay applied.
keep=0
while [ "$keep" -lt "${#applied[@]}" ] && [ "$keep" -lt "${#wanted[@]}" ] &&
	[ "${applied[$keep]}" = "${wanted[$keep]}" ] &&
	cmp -s "$APPLIED/${applied[$keep]}" "$PATCHES/${wanted[$keep]}"; do
	keep=$((keep + 1))
done

# No fuzz: a hunk whose context changed is a conflict, not a guess.
patch_args=(-p1 -f -E -F0 --no-backup-if-mismatch --reject-file=- -d "$SRC")
i=$((${#applied[@]} - 1))
while [ "$i" -ge "$keep" ]; do
	name=${applied[$i]}
	say "reverting $name"
	if ! patch -R -s "${patch_args[@]}" <"$APPLIED/$name" >"$SRCROOT/patch.log" 2>&1; then
		cat "$SRCROOT/patch.log"
		say "cannot revert $name cleanly; starting from a fresh source tree"
		extract_source
		keep=0
		break
	fi
	rm -f "$APPLIED/$name"
	sed -i '$d' "$APPLIED/series"
	i=$((i - 1))
done

for ((i = keep; i < ${#wanted[@]}; i++)); do
	name=${wanted[$i]}
	# Not silent: the dry run names the file and hunk that conflict.
	if ! patch --dry-run "${patch_args[@]}" <"$PATCHES/$name" >"$SRCROOT/patch.log" 2>&1; then
		grep -E '^(checking|patching) file|FAILED|^Hunk|misordered|malformed|garbage|Only garbage|can.t find file' "$SRCROOT/patch.log" >&2 || cat "$SRCROOT/patch.log" >&2
		die "patch ${PATCHES#"$top"/}/$name does not apply to $KERNEL_PKG $pkg_version (Linux $src_version); the series was tested on Linux $(tested_version)"
	fi
	say "applying $name"
	patch -s "${patch_args[@]}" <"$PATCHES/$name" >"$SRCROOT/patch.log" 2>&1 ||
		{ cat "$SRCROOT/patch.log" >&2; die "applying ${PATCHES#"$top"/}/$name failed after a clean dry run"; }
	cp "$PATCHES/$name" "$APPLIED/$name"
	echo "$name" >>"$APPLIED/series"
done
if [ "${#wanted[@]}" -eq 0 ]; then
	say "no patch series (kernel/patches/series): building pristine Linux $src_version"
else
	tv=$(tested_version)
	say "series: ${#wanted[@]} patches on Linux $src_version ($pkg_version), tested on $tv"
	[ "$tv" = "$src_version" ] || say "warning: installed Linux $src_version differs from the tested $tv (the series still applies)"
fi

# --- configuration --------------------------------------------------------
kmake() {
	make -C "$SRC" O="$OBJ" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc" "$@"
}

mkdir -p "$OBJ"
FRAGMENT=$OUT/config.fragment
cat "${FRAGMENTS[@]}" >"$FRAGMENT.tmp" && mv "$FRAGMENT.tmp" "$FRAGMENT"
config_id="$src_id $( (cat "$APPLIED/series" "$FRAGMENT"; for p in "${wanted[@]}"; do cat "$APPLIED/$p"; done) | sha256sum | cut -c1-16)"
if [ ! -f "$OBJ/.config" ] || [ "$(cat "$OUT/stamp-config" 2>/dev/null)" != "$config_id" ]; then
	say "configuring ($VARIANT): allnoconfig + ${FRAGMENTS[*]#"$top"/}"
	kmake -s allnoconfig KCONFIG_ALLCONFIG="$FRAGMENT" >"$OUT/config.log" 2>&1 ||
		{ cat "$OUT/config.log" >&2; die "allnoconfig failed"; }

	# Every symbol of the fragment must have its value in the result;
	# Kconfig silently drops what an unmet dependency forbids.
	bad=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) sym=${line%%=*} want=${line#*=} ;;
		'# CONFIG_'*' is not set') sym=${line#\# } sym=${sym%% *} want=n ;;
		*) continue ;;
		esac
		got=$(grep -m1 -E "^$sym=|^# $sym is not set" "$OBJ/.config" || true)
		case "$got" in
		"$sym="*) got=${got#*=} ;;
		*) got=n ;;
		esac
		[ "$got" = "$want" ] && continue
		if [ "$want" = y ] && ! grep -rqsE --include='Kconfig*' "^(menu)?config ${sym#CONFIG_}\$" "$SRC"; then
			if [ "${#wanted[@]}" -eq 0 ]; then
				say "note: $sym is not defined by this source (it comes with the patch series)"
				continue
			fi
			say "error: $sym is not defined by the patched source"
		else
			say "error: $sym=$want requested, .config has $got (unmet dependency?)"
		fi
		bad=1
	done <"$FRAGMENT"
	[ "$bad" = 0 ] || { rm -f "$OUT/stamp-config"; die "the configuration lacks required symbols (see above)"; }
	echo "$config_id" >"$OUT/stamp-config"
fi

# --- build ------------------------------------------------------------------
say "building ($VARIANT) with $JOBS jobs (ccache: $CCACHE_DIR; log: $OUT/build.log)"
start=$(date +%s)
# Shared cache: report this build's hits and misses as deltas, never zero
# the counters (other builds use them too).
ccache_counts() {
	ccache --print-stats 2>/dev/null | awk '
		$1 == "direct_cache_hit" || $1 == "preprocessed_cache_hit" { h += $2 }
		$1 == "cache_miss" { m += $2 }
		END { print h + 0, m + 0 }'
}
read -r hits0 miss0 < <(ccache_counts)
set +e
if [ "${KERNEL_VERBOSE:-0}" = 1 ]; then
	kmake -j"$JOBS" bzImage 2>&1 | tee "$OUT/build.log"
else
	# Warnings, errors and phases in full; compile lines as a running count.
	kmake -j"$JOBS" bzImage 2>&1 | tee "$OUT/build.log" |
		while IFS= read -r line; do
			if [[ $line =~ ^\ \ [A-Z][A-Z0-9_]*\ +[^\ ] ]]; then
				n=$((${n:-0} + 1))
				[ $((n % 500)) = 0 ] && echo "[kernel]   $n build steps"
			else
				printf '%s\n' "$line"
			fi
		done
fi
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || die "kernel build failed (see $OUT/build.log)"

cp -p "$OBJ/arch/x86/boot/bzImage" "$OUT/bzImage.tmp" && mv "$OUT/bzImage.tmp" "$OUT/bzImage"
cp -p "$OBJ/vmlinux" "$OUT/vmlinux.tmp" && mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
read -r hits1 miss1 < <(ccache_counts)
say "done in $(($(date +%s) - start)) s: $OUT/bzImage, $OUT/vmlinux (Linux $src_version + ${#wanted[@]} patches; shared ccache meanwhile: $((hits1 - hits0)) hits, $((miss1 - miss0)) misses)"
