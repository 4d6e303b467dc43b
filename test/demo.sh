#!/usr/bin/env bash
# make demo: samepage on this machine, end to end, with runc.
#
# Starts three containers with the same 64 MiB of memory: two of security
# domain team-a and one of team-b.  Under the default `exclusive` domain
# policy team-a gets KSM and team-b is refused, so team-b's memory is never
# shared with team-a's.  Shows what KSM saved per container and per domain,
# then removes everything it made and puts ksmd's knobs back.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOOK=$ROOT/build/samepage-hook
SAMEPAGE=$ROOT/build/samepage
source "$ROOT/test/ksm-knobs.bash"
WORK=$(mktemp -d /tmp/samepage-demo.XXXXXX)
RT_ROOT=$WORK/runc
STATE=$WORK/state
CG=samepage-demo
MIB=${DEMO_MIB:-64}
SAVED=""

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
	local id
	for id in $(runc --root "$RT_ROOT" list -q 2>/dev/null); do
		runc --root "$RT_ROOT" delete -f "$id" >/dev/null 2>&1 || true
	done
	for d in /sys/fs/cgroup/*/"$CG"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null || true; done
	[ -z "$SAVED" ] || ksm_knobs_restore "$SAVED"
	rm -rf "$WORK"
}
trap cleanup EXIT

for c in runc jq busybox gcc; do
	command -v $c >/dev/null || { echo "demo: $c not found (run make deps)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (the hook uses ptrace, ksmd knobs are root's)" >&2; exit 1; }

SAVED=$WORK/ksm-saved
ksm_knobs_save "$SAVED"

make --no-print-directory -s -C "$ROOT" build/test/fillmem
cp "$ROOT/build/test/fillmem" "$WORK/fillmem"

bundle() {
	local name=$1 domain=$2 b=$WORK/$1
	mkdir -p "$b/rootfs/bin"
	cp /bin/busybox "$b/rootfs/bin/busybox"
	cp "$WORK/fillmem" "$b/rootfs/bin/fillmem"
	(cd "$b" && runc spec)
	"$SAMEPAGE" oci-config --hook "$HOOK" --state-dir "$STATE" "$b/config.json" >/dev/null
	jq --arg d "$domain" --arg cg "/$CG/$name" --arg mib "$MIB" '
		.process.terminal = false | .process.args = ["fillmem", $mib, "42"] |
		.linux.cgroupsPath = $cg |
		.linux.namespaces |= map(select(.type != "network")) |
		.annotations = {"samepage.io/merge": "true", "samepage.io/domain": $d}' \
		"$b/config.json" > "$b/config.json.new"
	mv "$b/config.json.new" "$b/config.json"
}

say "ksmd: scanning fast for the demo (knobs are put back at the end)"
ksm_knobs_fast 5000 20

say "starting web-1 and web-2 (domain team-a) and batch-1 (domain team-b), $MIB MiB of identical memory each"
for spec in web-1:team-a web-2:team-a batch-1:team-b; do
	name=${spec%%:*}
	bundle "$name" "${spec#*:}"
	runc --root "$RT_ROOT" run -d -b "$WORK/$name" "$name" < /dev/null > "$WORK/$name.log" 2>&1 {KSM_LOCK_FD}>&-
	echo "  $name started (pid $(runc --root "$RT_ROOT" state "$name" | jq .pid))"
done

say "which containers got KSM"
for name in web-1 web-2 batch-1; do
	pid=$(runc --root "$RT_ROOT" state "$name" | jq .pid)
	printf '  %-8s %s\n' "$name" "$(grep ksm_merge_any /proc/$pid/ksm_stat)"
done
echo
jq -r '.containers[] | select(.enabled | not) | "  refused: \(.id) (domain \(.domain)): \(.reason)"' "$STATE/state.json"

say "waiting for ksmd to merge team-a's pages"
pages=$((MIB * 256))
for i in $(seq 1 60); do
	m=$(jq '[.containers[] | select(.domain == "team-a") | .merging_pages] | add // 0' \
		<<< "$("$SAMEPAGE" --state-dir "$STATE" status --json)")
	printf '\r  merging pages in team-a: %d of %d' "$m" $((2 * pages))
	[ "$m" -ge $((2 * pages * 95 / 100)) ] && break
	sleep 1
done
echo

say "samepage status"
"$SAMEPAGE" --state-dir "$STATE" status

say "cleaning up"
