# Shared helpers for samepage's bats integration tests.
#
# Every test gets its own bundle(s) under $BATS_TEST_TMPDIR, its own runtime
# root and samepage state dir; teardown deletes every container and cgroup
# the test made and restores every /sys/kernel/mm/ksm knob it changed, also
# when the test fails.  RUNTIME=runc (default) or RUNTIME=crun.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
HOOK=${SAMEPAGE_HOOK:-$ROOT/build/samepage-hook}
SAMEPAGE=${SAMEPAGE_BIN:-$ROOT/build/samepage}
RUNTIME=${RUNTIME:-runc}
KSM=/sys/kernel/mm/ksm
# KSM_KNOBS, ksm_knob, ksm_knobs_save/restore: one list and order for every script
source "$ROOT/test/ksm-knobs.bash"
CGROUP_PARENT=samepage-test

# Log a command and its output, and check its exit status:
#   run_ok CMD...      must succeed
#   run_fail CMD...    must fail
run_ok() {
	run "$@"
	echo "\$ $* -> $status" >&2
	echo "$output" >&2
	[ "$status" -eq 0 ] || fail "command failed ($status): $*"$'\n'"$output"
}
run_fail() {
	run "$@"
	echo "\$ $* -> $status" >&2
	echo "$output" >&2
	[ "$status" -ne 0 ] || fail "command succeeded but should have failed: $*"$'\n'"$output"
}

# requires root runc crun ...: skip with a labelled reason; under
# SAMEPAGE_TEST_STRICT=1 (make check) a missing requirement fails instead.
requires() {
	local r why=""
	for r in "$@"; do
		case "$r" in
		root) [ "$(id -u)" -eq 0 ] || why="needs root" ;;
		ksm) [ -w $KSM/run ] || why="needs writable $KSM" ;;
		prctl_ksm) grep -q ksm_merge_any /proc/self/ksm_stat 2>/dev/null || why="needs a kernel with ksm_merge_any in /proc/<pid>/ksm_stat (>= 6.8)" ;;
		*) command -v "$r" >/dev/null || why="needs $r" ;;
		esac
		if [ -n "$why" ]; then
			if [ "${SAMEPAGE_TEST_STRICT:-0}" = 1 ]; then
				fail "requirement missing under SAMEPAGE_TEST_STRICT: $why"
			fi
			skip "$why"
		fi
	done
}

# The runtime, as the tests run it.  crun refuses hybrid cgroups, so it runs
# in a private mount namespace with the cgroup2 mount removed (test harness
# only: the product does not care how the runtime is started).  Every call
# is bounded, so a hung hook fails the test instead of hanging it.
rt() {
	# Containers must not inherit the KSM test lock (a leftover would hold it).
	if [ -n "${KSM_LOCK_FD:-}" ]; then
		rt_inner "$@" {KSM_LOCK_FD}>&-
	else
		rt_inner "$@"
	fi
}

rt_inner() {
	case "$RUNTIME" in
	runc) timeout 120 runc --root "$RT_ROOT" "$@" ;;
	crun)
		timeout 120 unshare -m --propagation private -- sh -c \
			'if grep -q " /sys/fs/cgroup/unified " /proc/self/mountinfo; then umount /sys/fs/cgroup/unified; fi; exec crun --root "$0" "$@"' \
			"$RT_ROOT" "$@" ;;
	*) fail "unknown RUNTIME=$RUNTIME" ;;
	esac
}

setup_common() {
	requires root "$RUNTIME" jq busybox
	[ -x "$HOOK" ] || fail "$HOOK not built (run make)"
	RT_ROOT=$BATS_TEST_TMPDIR/rt-root
	STATE_DIR=$BATS_TEST_TMPDIR/state
	CONFIG=$BATS_TEST_TMPDIR/samepage.conf
	mkdir -p "$RT_ROOT" "$STATE_DIR"
	echo '{}' > "$CONFIG"
	CONTAINERS_FILE=$BATS_TEST_TMPDIR/containers
	: > "$CONTAINERS_FILE"
	KSM_SAVED=""
}

teardown_common() {
	local id
	if [ -f "${CONTAINERS_FILE:-/nonexistent}" ]; then
		while read -r id; do
			[ -n "$id" ] || continue
			rt delete -f "$id" >/dev/null 2>&1 || true
		done < "$CONTAINERS_FILE"
	fi
	remove_test_cgroups
	ksm_restore
}

# Remove the (empty) parent cgroups the runtimes left under our own name.
remove_test_cgroups() {
	local d
	for d in /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/*/"$CGROUP_PARENT"-*; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
}

# Take the machine-wide KSM test lock and save every knob; ksm_restore
# (called by teardown) puts them back (test/ksm-knobs.bash).
ksm_save() {
	KSM_SAVED=$BATS_TEST_TMPDIR/ksm-saved
	ksm_knobs_save "$KSM_SAVED"
}

ksm_restore() {
	[ -n "${KSM_SAVED:-}" ] || return 0
	ksm_knobs_restore "$KSM_SAVED"
	KSM_SAVED=""
}

# Fast merging for tests (after ksm_save).
ksm_fast() {
	ksm_knobs_fast 5000 20
}

# Static build of the memory-filling workload, shared by all tests.
fillmem_bin() {
	local bin=$ROOT/build/test/fillmem
	if [ ! -x "$bin" ] || [ "$ROOT/test/integration/fillmem.c" -nt "$bin" ]; then
		mkdir -p "$ROOT/build/test"
		gcc -O2 -static -o "$bin.tmp.$$" "$ROOT/test/integration/fillmem.c" && mv "$bin.tmp.$$" "$bin"
	fi
	echo "$bin"
}

# make_bundle NAME [ANNOTATION=VALUE]... -- [ARGS...]
# A busybox bundle whose hooks call samepage-hook with this test's state dir
# and config.  ARGS default to `sleep 1000`.
make_bundle() {
	local name=$1 b ann='{}' kv args_json
	shift
	b=$BATS_TEST_TMPDIR/$name
	# crun does not show a failing hook's stderr; it writes it here.
	ann=$(jq -c --arg f "$BATS_TEST_TMPDIR/$name.hook-stderr" '. + {"run.oci.hooks.stderr": $f}' <<< "$ann")
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		kv=$1
		ann=$(jq -c --arg k "${kv%%=*}" --arg v "${kv#*=}" '. + {($k): $v}' <<< "$ann")
		shift
	done
	[ "${1:-}" = -- ] && shift
	if [ $# -eq 0 ]; then
		set -- sleep 1000
	fi
	args_json=$(printf '%s\n' "$@" | jq -R . | jq -cs .)
	mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/sys" "$b/rootfs/dev" "$b/rootfs/tmp"
	cp /bin/busybox "$b/rootfs/bin/busybox"
	for t in sh sleep cat ls ps grep awk true; do ln -sf busybox "$b/rootfs/bin/$t"; done
	cp "$(fillmem_bin)" "$b/rootfs/bin/fillmem"
	(cd "$b" && runc spec)
	jq --argjson ann "$ann" --argjson args "$args_json" \
		--arg hook "$HOOK" --arg state "$STATE_DIR" --arg conf "$CONFIG" \
		--arg cg "/$CGROUP_PARENT/$name-$$" '
		.process.terminal = false |
		.process.args = $args |
		.annotations = $ann |
		.linux.cgroupsPath = $cg |
		.linux.namespaces |= map(select(.type != "network")) |
		.hooks = {
			createRuntime: [{path: $hook, args: ["samepage-hook", "--state-dir", $state, "--config", $conf, "createRuntime"], timeout: 10}],
			poststop: [{path: $hook, args: ["samepage-hook", "--state-dir", $state, "--config", $conf, "poststop"], timeout: 10}]
		}' "$b/config.json" > "$b/config.json.new"
	mv "$b/config.json.new" "$b/config.json"
	echo "$b"
}

# start_container NAME BUNDLE: create and start a detached container; its
# output goes to $BATS_TEST_TMPDIR/NAME.log.  Sets $output/$status like `run`
# (not `run` itself: the detached container inherits stdout, and `run`
# would wait for it to close).
start_container() {
	local id=$1 bundle=$2 log=$BATS_TEST_TMPDIR/$1.log
	echo "$id" >> "$CONTAINERS_FILE"
	status=0
	rt run -d -b "$bundle" "$id" < /dev/null > "$log" 2>&1 || status=$?
	output=$(cat "$log" "$BATS_TEST_TMPDIR/$id.hook-stderr" 2>/dev/null || true)
	echo "\$ $RUNTIME run $id -> $status" >&2
	echo "$output" >&2
	return 0
}

container_pid() {
	rt state "$1" | jq -r .pid
}

# KSM line of a process: ksm_field PID ksm_merge_any
ksm_field() {
	awk -v k="$2" '$1 == k || $1 == k ":" {print $2}' "/proc/$1/ksm_stat"
}

# Wait (up to $2 s) until the container's workload printed "ready".
wait_ready() {
	local id=$1 i
	for i in $(seq 1 $((${2:-30} * 10))); do
		grep -q '^ready' "$BATS_TEST_TMPDIR/$id.log" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "container $id not ready: $(cat "$BATS_TEST_TMPDIR/$id.log")"
}

# Pids of all processes in a container (host view).
container_pids() {
	rt ps --format json "$1" 2>/dev/null | jq -r '.[]' 2>/dev/null || rt ps "$1" | awk 'NR > 1 {print $2}'
}

# A static build of test/integration/NAME.c for the busybox rootfs, rebuilt
# when the source changes: static_test_bin NAME (fillmem_bin's recipe, for
# any helper).
static_test_bin() {
	local bin=$ROOT/build/test/$1
	if [ ! -x "$bin" ] || [ "$ROOT/test/integration/$1.c" -nt "$bin" ]; then
		mkdir -p "$ROOT/build/test"
		gcc -O2 -static -o "$bin.tmp.$$" "$ROOT/test/integration/$1.c" && mv "$bin.tmp.$$" "$bin"
	fi
	echo "$bin"
}

# wait_merged PAGES PID...: wait (30 s) until each PID has at least 90 % of
# PAGES merging; fails naming the one that did not.
wait_merged() {
	local pages=$1 pid m i ok
	shift
	for i in $(seq 1 300); do
		ok=1
		for pid in "$@"; do
			m=$(ksm_field "$pid" ksm_merging_pages)
			[ "$m" -ge $((pages * 9 / 10)) ] || ok=0
		done
		[ "$ok" = 1 ] && return 0
		sleep 0.1
	done
	for pid in "$@"; do
		m=$(ksm_field "$pid" ksm_merging_pages)
		[ "$m" -ge $((pages * 9 / 10)) ] || fail "pid $pid merged only $m of $pages pages"
	done
}
