#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The dependency rule of CONTRIBUTING.md ("Layout"), checked: a file may
# include headers of its own folder and of the folders it is allowed to
# depend on, never of a folder above it.  Project headers are spelled one
# way, from the top of the tree ("host/proc.h"), never "../" or bare.
#
#   test/check-layers.sh [ROOT]     exit 0 when the tree obeys, 1 with every
#                                   offending line named when it does not
set -uo pipefail

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2

# folder -> folders it may include from (besides itself)
declare -A allowed=(
	[base]=""
	[oci]="base"
	[host]="base"
	[cgroupfs]="base host"
	[node]="base host cgroupfs"
	[hooks]="base oci host cgroupfs node"
	[cmd]="base oci host cgroupfs node"
)

bad=0
while IFS= read -r file; do
	dir=${file%%/*}
	[ -n "${allowed[$dir]+set}" ] || continue
	while IFS=: read -r line inc; do
		target=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/' <<<"$inc")
		tdir=${target%%/*}
		if [[ "$target" != */* || "$target" == ../* || "$target" == ./* ]]; then
			want=$(realpath -m --relative-to=. "$(dirname "$file")/$target")
			echo "$file:$line: include \"$target\": spell project headers from the top of the tree (\"$want\")"
			bad=1
			continue
		fi
		if [ ! -f "$target" ]; then
			echo "$file:$line: include \"$target\": no such file in the tree"
			bad=1
			continue
		fi
		[ "$tdir" = "$dir" ] && continue
		ok=0
		for a in ${allowed[$dir]}; do
			[ "$a" = "$tdir" ] && ok=1
		done
		if [ $ok = 0 ]; then
			echo "$file:$line: $dir/ must not include $target (allowed: ${allowed[$dir]:-nothing outside $dir/})"
			bad=1
		fi
	done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$file" | sed -E 's/^([0-9]+):/\1:/')
done < <(git ls-files -co --exclude-standard -- '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' | sed 's|^\./||')

if [ $bad = 0 ]; then
	echo "check-layers: every include follows the dependency rule"
fi
exit $bad
