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

# requires WORD...: skip the test with a labelled reason unless every
# requirement holds; under SAMEPAGE_TEST_STRICT=1 (make check) a missing
# requirement fails instead.  An unknown word is a bug in the test, never a
# skip.  Words:
#   root           running as root
#   ksm            /sys/kernel/mm/ksm is writable
#   prctl_ksm      /proc/<pid>/ksm_stat shows ksm_merge_any (kernel >= 6.8)
#   advisor        the kernel has KSM's advisor (advisor_mode)
#   kernel:X.Y     the running kernel is X.Y or newer
#   bash_completion  Debian's bash-completion is installed
#   cmd:NAME       NAME (a command or a path) is installed
requires() {
	local r why
	for r in "$@"; do
		why=""
		case "$r" in
		root) [ "$(id -u)" -eq 0 ] || why="needs root" ;;
		ksm) [ -w $KSM/run ] || why="needs writable $KSM" ;;
		prctl_ksm) grep -q ksm_merge_any /proc/self/ksm_stat 2>/dev/null || why="needs a kernel with ksm_merge_any in /proc/<pid>/ksm_stat (>= 6.8)" ;;
		advisor) [ -f $KSM/advisor_mode ] || why="needs a kernel with KSM's advisor ($KSM/advisor_mode)" ;;
		kernel:[0-9]*.[0-9]*) kernel_at_least "${r#kernel:}" || why="needs kernel >= ${r#kernel:} (runs $(uname -r))" ;;
		bash_completion) [ -f /usr/share/bash-completion/bash_completion ] || why="needs Debian's bash-completion" ;;
		cmd:?*) command -v "${r#cmd:}" >/dev/null || why="needs ${r#cmd:}" ;;
		*) fail "BUG: Invalid requires $r" ;;
		esac
		[ -z "$why" ] || skip_or_fail "$why"
	done
}

# The one way a test is skipped: a failure under SAMEPAGE_TEST_STRICT=1, so
# CI never passes by skipping.  Tests call requires, not this.
skip_or_fail() {
	if [ "${SAMEPAGE_TEST_STRICT:-0}" = 1 ]; then
		fail "requirement missing under SAMEPAGE_TEST_STRICT: $1"
	fi
	skip "$1"
}

# kernel_at_least X.Y: the running kernel's version is X.Y or newer.
kernel_at_least() {
	awk -v want="$1" -v have="$(uname -r)" 'BEGIN {
		split(want, w, "."); split(have, h, /[.-]/)
		exit !(h[1] > w[1] || (h[1] == w[1] && h[2] + 0 >= w[2]))
	}'
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
	requires root "cmd:$RUNTIME" cmd:jq cmd:busybox
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
	for d in $(cgroup_mounts | sed "s|.*|&/$CGROUP_PARENT &/$CGROUP_PARENT-*|"); do
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

# The memory-filling workload (static, for busybox rootfses), built by the
# Makefile's one rule for it.
fillmem_bin() {
	make --no-print-directory -s -C "$ROOT" build/test/fillmem >&2 || fail "cannot build fillmem"
	echo "$ROOT/build/test/fillmem"
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

# Wait (up to $2 s, default 30) until the container's workload printed $3
# (default 1) "ready" lines: fillmem's children print their own once they
# filled their memory.
wait_ready() {
	local id=$1 want=${3:-1} i
	for i in $(seq 1 $((${2:-30} * 10))); do
		[ "$(grep -c '^ready' "$BATS_TEST_TMPDIR/$id.log" 2>/dev/null)" -ge "$want" ] && return 0
		sleep 0.1
	done
	fail "container $id: $want ready lines expected: $(cat "$BATS_TEST_TMPDIR/$id.log")"
}

# Pids of all processes in a container (host view).
container_pids() {
	rt ps --format json "$1" 2>/dev/null | jq -r '.[]' 2>/dev/null || rt ps "$1" | awk 'NR > 1 {print $2}'
}

# --- cgroups -------------------------------------------------------------
# Paths come from /proc/<pid>/cgroup and /proc/self/mountinfo, never from a
# hierarchy's name, so the suite runs on a hybrid host (v1 controllers +
# cgroup2 at /sys/fs/cgroup/unified) and on a unified-only one (cgroup2 at
# /sys/fs/cgroup; make check-integration-unified).

# cgroup_mounts [CONTROLLER]: mount points of the roots of the cgroup
# hierarchies; with CONTROLLER, only the v1 one holding it; with "", only
# the cgroup2 one.
cgroup_mounts() {
	awk -v all=$# -v want="${1-}" '{
		for (i = 7; i < NF && $i != "-"; i++) ;
		fs = $(i + 1); opts = "," $(i + 3) ","
		if ($4 != "/" || (fs != "cgroup" && fs != "cgroup2")) next
		if (!all || (want == "" ? fs == "cgroup2" : fs == "cgroup" && index(opts, "," want ",")))
			print $5
	}' /proc/self/mountinfo
}

# The hierarchy samepage reports a cgroup in (status, enable), so tests can
# compare paths: the first mounted of pids, memory, cgroup2.  Prints
# "CONTROLLER MOUNTPOINT", "-" standing for cgroup2.
reported_hierarchy() {
	local c mnt
	for c in pids memory ""; do
		mnt=$(cgroup_mounts "$c" | head -n1)
		[ -n "$mnt" ] && { echo "${c:--} $mnt"; return 0; }
	done
	fail "no cgroup hierarchy is mounted"
}

# cgroup_of_pid PID: PID's cgroup directory in the reported hierarchy.
cgroup_of_pid() {
	local h c rel
	h=$(reported_hierarchy) || return 1
	c=${h%% *}
	[ "$c" = - ] && c=""
	rel=$(awk -v want="$c" '{
		i = index($0, ":"); rest = substr($0, i + 1); j = index(rest, ":")
		ctl = substr(rest, 1, j - 1)
		if (want == "" ? ctl == "" : index("," ctl ",", "," want ",")) { print substr(rest, j + 1); exit }
	}' "/proc/$1/cgroup")
	[ -n "$rel" ] || fail "pid $1: no ${c:-cgroup2} line in /proc/$1/cgroup"
	echo "${h#* }$rel"
}

# The cgroup of a container's init (host view).
container_cgroup() {
	local pid
	pid=$(container_pid "$1")
	[ -n "$pid" ] && [ "$pid" != null ] || fail "container $1 has no pid"
	cgroup_of_pid "$pid"
}

# Where a test makes a cgroup of its own: the reported hierarchy's root.
test_cgroup_root() {
	local h
	h=$(reported_hierarchy) || return 1
	echo "${h#* }"
}

# Pids of a container from its cgroup (host view), sorted.
cgroup_pids() {
	sort -n -u "$1/cgroup.procs"
}

# --- status, metrics, enable (2xx) ---------------------------------------

# Config that never lets samepage touch ksmd (tests that do not merge).
config_no_ksmd() {
	echo "{\"manage_ksmd\": false${1:+, $1}}" > "$CONFIG"
}

# "processes merge_any merging_pages zero_pages profit" summed over pids, as
# /proc shows them (each pid here is its own process: no CLONE_VM sharing).
proc_sums() {
	local p
	for p in "$@"; do
		# proc files have size 0: read, and count only what could be read
		cat "/proc/$p/ksm_stat" 2>/dev/null | grep -q . && cat "/proc/$p/ksm_stat" 2>/dev/null && echo "--"
	done | awk '
		$1 == "--" { n++ }
		$1 == "ksm_merge_any:" && $2 == "yes" { any++ }
		$1 == "ksm_merging_pages" { merging += $2 }
		$1 == "ksm_zero_pages" { zero += $2 }
		$1 == "ksm_process_profit" { profit += $2 }
		END { printf "%d %d %d %d %d\n", n, any, merging, zero, profit }'
}

# Sizes as the table prints them: 512B, 1.5KiB, 12.0MiB (one decimal).
fmt_size() {
	awk -v b="$1" 'BEGIN {
		split("KiB MiB GiB TiB PiB EiB", u, " ")
		m = b < 0 ? -b : b
		if (m < 1024) { printf "%dB\n", b; exit }
		v = m / 1024; i = 1
		while (v >= 1023.95 && i < 6) { v /= 1024; i++ }
		printf "%s%.1f%s\n", (b < 0 ? "-" : ""), v, u[i]
	}'
}

# Check a Prometheus text-format file line by line: comments are HELP or
# TYPE lines of well-formed names, every sample belongs to the family whose
# TYPE came last (families are contiguous), names carry the samepage_ prefix,
# label values are quoted with escapes, values are numbers, no family is
# declared twice.  Prints what is wrong and fails.
prom_validate() {
	awk '
	function bad(why) { printf "line %d: %s: %s\n", NR, why, $0; err = 1 }
	/^# HELP / {
		if ($3 !~ /^samepage_[a-zA-Z0-9_]+$/) bad("bad HELP name")
		next
	}
	/^# TYPE / {
		if ($3 !~ /^samepage_[a-zA-Z0-9_]+$/ || $4 !~ /^(gauge|counter|untyped|histogram|summary)$/ || NF != 4)
			bad("bad TYPE line")
		if ($3 in declared) bad("family declared twice")
		declared[$3] = 1; family = $3; next
	}
	/^#/ { bad("comment that is neither HELP nor TYPE"); next }
	/^$/ { bad("empty line"); next }
	{
		line = $0
		if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { bad("no metric name"); next }
		name = substr(line, 1, RLENGTH); rest = substr(line, RLENGTH + 1)
		if (name != family) bad("sample outside its family " family)
		if (substr(rest, 1, 1) == "{") {
			lab = "^\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\")(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\")*\\}"
			if (!match(rest, lab)) { bad("bad labels"); next }
			key = name substr(rest, 1, RLENGTH)
			rest = substr(rest, RLENGTH + 1)
		} else key = name
		if (rest !~ /^ (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[-+]Inf)$/) bad("bad value")
		if (key in seen) bad("duplicate series")
		seen[key] = 1; samples++
	}
	END { if (samples == 0) { print "no samples"; err = 1 } exit err }' "$1"
}

# The static build of test/integration/NAME.c for the busybox rootfs, by the
# Makefile's rule (TEST_STATIC_BINS): static_test_bin NAME.
static_test_bin() {
	make --no-print-directory -s -C "$ROOT" "build/test/$1" >&2 || fail "cannot build $1"
	echo "$ROOT/build/test/$1"
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
