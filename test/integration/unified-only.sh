#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# unified-only.sh CMD...: run CMD as on a host with only the unified cgroup
# hierarchy (a stock Debian 12), also on a hybrid host (v1 controllers plus
# cgroup2 at /sys/fs/cgroup/unified).
#
# CMD runs in a cgroup of its own, made here under the host's cgroup2
# hierarchy, and in new mount and cgroup namespaces rooted there, where every
# cgroup mount is gone and one cgroup2 is mounted at /sys/fs/cgroup -- the
# way the crun tests hide the unified mount (rt_inner in helpers.bash), one
# step further.  The runtimes then see a cgroup2 filesystem at
# /sys/fs/cgroup and make the containers' cgroups there; samepage finds them
# from /proc/<pid>/cgroup and mountinfo alone.
#
# Why a cgroup of our own and a cgroup namespace, not the host's cgroup2
# root: runc enables every controller it finds in cgroup.controllers of each
# level above the container's cgroup, the root's subtree_control included,
# and a test never changes a cgroup it did not create.  In our own cgroup
# the parent enables nothing, so those writes fail and change nothing; the
# cgroup namespace makes our cgroup the root that /proc/<pid>/cgroup and the
# new mount show, as a unified host shows its root.
#
# When CMD is done the cgroup is removed; anything still running in it (a
# container a test leaked) is killed through cgroup.kill, and that is a
# failure.
set -euo pipefail

if [ "${1:-}" = --inner ]; then
	shift
	# Deepest mounts first: the v1 hierarchies and cgroup2 under the tmpfs,
	# then /sys/fs/cgroup itself (the tmpfs, or the host's cgroup2).
	awk '{ for (i = 7; i < NF && $i != "-"; i++) ; if ($(i + 1) == "cgroup" || $(i + 1) == "cgroup2" || $5 == "/sys/fs/cgroup") print $5 }' \
		/proc/self/mountinfo | sort -r | while read -r m; do
		umount "$m"
	done
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
	[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || { echo "unified-only: /sys/fs/cgroup is not cgroup2" >&2; exit 1; }
	n=$(awk '{ for (i = 7; i < NF && $i != "-"; i++) ; if ($(i + 1) ~ /^cgroup2?$/) n++ } END { print n + 0 }' /proc/self/mountinfo)
	[ "$n" = 1 ] || { echo "unified-only: $n cgroup mounts left, want 1" >&2; exit 1; }
	[ "$(grep '^0::' /proc/self/cgroup)" = "0::/" ] || { echo "unified-only: not at the namespace's root" >&2; exit 1; }
	echo "unified-only: $(grep -c . /proc/self/mountinfo) mounts, cgroup: $(grep ' - cgroup2 ' /proc/self/mountinfo)" >&2
	exec "$@"
fi

[ $# -gt 0 ] || { echo "usage: $0 CMD..." >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "unified-only: needs root" >&2; exit 1; }
v2=$(awk '$4 == "/" { for (i = 7; i < NF && $i != "-"; i++) ; if ($(i + 1) == "cgroup2") { print $5; exit } }' /proc/self/mountinfo)
[ -n "$v2" ] || { echo "unified-only: the host has no cgroup2 hierarchy mounted" >&2; exit 1; }
cg=$v2/samepage-unified-$$
mkdir "$cg"

cleanup() {
	local rc=$? i
	if [ -n "$(cat "$cg/cgroup.procs" $(find "$cg" -mindepth 1 -name cgroup.procs) 2>/dev/null)" ]; then
		echo "unified-only: processes left in $cg, killing them" >&2
		echo 1 > "$cg/cgroup.kill"
		rc=1
	fi
	for i in $(seq 1 50); do
		find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		[ -d "$cg" ] || break
		sleep 0.1
	done
	[ ! -d "$cg" ] || { echo "unified-only: cannot remove $cg" >&2; rc=1; }
	exit $rc
}
trap cleanup EXIT

echo "unified-only: running in $cg" >&2
self=$(realpath "$0")
# A child enters the cgroup, so this shell stays outside and can remove it.
bash -c 'echo $$ > "$1/cgroup.procs"; shift; exec unshare -m -C --propagation private -- "$@"' \
	unified-only "$cg" "$self" --inner "$@"
