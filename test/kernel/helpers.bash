# Helpers for the bats tests that run inside the test guest (test/kernel/).
#
# The guest runs under TCG, where starting a process is expensive (jq ~1 s,
# any Go binary ~1.5 s, loading bats-assert ~6 s per test), so these helpers
# are leaner than test/integration/helpers.bash: config.json comes from a
# template instead of `runc spec` + jq, the container's pid from
# --pid-file, its processes from cgroup.procs.  Same rules: every container
# and cgroup a test makes is deleted in teardown, every ksmd knob restored.

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
HOOK=${SAMEPAGE_HOOK:-$ROOT/build/samepage-hook}
FILLMEM=$ROOT/build/test/fillmem
KSM=/sys/kernel/mm/ksm
# KSM_KNOBS, ksm_knob, ksm_knobs_save/restore: the same list and order as
# the host suite, without a fork per knob
source "$ROOT/test/ksm-knobs.bash"
CG_PARENT=samepage-ktest
# RUNTIME=runc (default) or crun: both work on the guest's pure cgroup v2.
RUNTIME=${RUNTIME:-runc}
CG_ROOT=/sys/fs/cgroup

fail() {
	echo "FAIL: $*" >&2
	return 1
}

# run_ok CMD...: log a command and its output; it must succeed.
run_ok() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	echo "\$ $* -> $rc" >&2
	[ -z "$out" ] || echo "$out" >&2
	output=$out
	[ "$rc" -eq 0 ] || fail "command failed ($rc): $*"
}

# A kernel with the `ksm` controller?  Tests of what only the controller
# can do call requires_controller: skipped before the patch series exists,
# failed once kernel/patches/series lists patches.
has_controller() {
	grep -qw ksm "$CG_ROOT/cgroup.controllers"
}
series_present() {
	[ -f "$ROOT/kernel/patches/series" ] && grep -qv '^[[:space:]]*\(#.*\)\?$' "$ROOT/kernel/patches/series"
}
requires_controller() {
	has_controller && return 0
	series_present && fail "the kernel has no ksm cgroup controller, but kernel/patches/series is not empty"
	skip "the kernel has no ksm cgroup controller: no patch series yet"
}
expected_backend() {
	if has_controller; then echo native; else echo stock; fi
}

ktest_setup() {
	[ "$(id -u)" -eq 0 ] || fail "needs root"
	[ -x "$HOOK" ] || fail "$HOOK not built (run make)"
	command -v "$RUNTIME" >/dev/null || fail "$RUNTIME not installed"
	[ -x "$FILLMEM" ] || fail "$FILLMEM not built (make kernel-guest-bins)"
	RT_ROOT=$BATS_TEST_TMPDIR/rt-root
	STATE_DIR=$BATS_TEST_TMPDIR/state
	CONFIG=$BATS_TEST_TMPDIR/samepage.conf
	CONTAINERS=()
	mkdir -p "$RT_ROOT" "$STATE_DIR"
	echo '{}' >"$CONFIG"
	ksm_save
}

ktest_teardown() {
	local id
	for id in "${CONTAINERS[@]}"; do
		rt delete -f "$id" >/dev/null 2>&1 || true
	done
	if [ -d "$CG_ROOT/$CG_PARENT" ]; then
		find "$CG_ROOT/$CG_PARENT" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	fi
	ksm_restore
}

rt() {
	"$RUNTIME" --root "$RT_ROOT" "$@"
}

ksm_save() {
	ksm_knobs_save "$BATS_TEST_TMPDIR/ksm-saved"
}

ksm_restore() {
	ksm_knobs_restore "$BATS_TEST_TMPDIR/ksm-saved"
}

ksm_fast() {
	# the hook may have chosen the scan-time advisor, which owns pages_to_scan
	ksm_knobs_fast 20000 10
}

# json_strings A B C -> "A","B","C" (test arguments only: no quoting needed)
json_strings() {
	local s out=""
	for s in "$@"; do
		out+="${out:+,}\"$s\""
	done
	printf '%s' "$out"
}

# make_bundle NAME [KEY=VALUE]... -- ARGS...: a busybox + fillmem bundle in
# cgroup $CG_PARENT/NAME whose createRuntime and poststop hooks run
# samepage-hook with this test's state dir and config.
make_bundle() {
	local name=$1 b ann="" kv
	shift
	b=$BATS_TEST_TMPDIR/$name
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		kv=$1
		ann+="${ann:+, }\"${kv%%=*}\": \"${kv#*=}\""
		shift
	done
	[ "${1:-}" = -- ] && shift
	[ $# -gt 0 ] || set -- sleep 1000
	mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/dev" "$b/rootfs/tmp"
	cp /bin/busybox "$b/rootfs/bin/busybox"
	for t in sh sleep cat; do ln -sf busybox "$b/rootfs/bin/$t"; done
	cp "$FILLMEM" "$b/rootfs/bin/fillmem"
	local hook_args
	cat >"$b/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": [$(json_strings "$@")],
    "env": ["PATH=/bin"],
    "cwd": "/",
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs"},
  "hostname": "$name",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=1m"]}
  ],
  "annotations": {$ann},
  "hooks": {
    "createRuntime": [{"path": "$HOOK", "args": [$(json_strings samepage-hook --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime)], "timeout": 60}],
    "poststop": [{"path": "$HOOK", "args": [$(json_strings samepage-hook --state-dir "$STATE_DIR" --config "$CONFIG" poststop)], "timeout": 60}]
  },
  "linux": {
    "cgroupsPath": "/$CG_PARENT/$name",
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
  }
}
EOF
	echo "$b"
}

# start_container ID BUNDLE: detached; the container's output goes to
# $BATS_TEST_TMPDIR/ID.log, its init pid to ID.pid.
start_container() {
	local id=$1 b=$2 rc=0
	CONTAINERS+=("$id")
	# Not run_ok: the detached container inherits stdout, which must be
	# the log file, not a pipe someone waits on.
	timeout 120 "$RUNTIME" --root "$RT_ROOT" run -d --pid-file "$BATS_TEST_TMPDIR/$id.pid" -b "$b" "$id" \
		</dev/null >"$BATS_TEST_TMPDIR/$id.log" 2>&1 || rc=$?
	echo "\$ $RUNTIME run $id -> $rc" >&2
	cat "$BATS_TEST_TMPDIR/$id.log" >&2
	[ "$rc" -eq 0 ] || fail "$RUNTIME run $id failed"
}

container_pid() {
	cat "$BATS_TEST_TMPDIR/$1.pid"
}

container_cgroup() {
	echo "$CG_ROOT/$CG_PARENT/$1"
}

container_pids() {
	cat "$(container_cgroup "$1")/cgroup.procs"
}

# Wait until the container's log has N "ready" lines (fillmem and children).
wait_ready_n() {
	local id=$1 want=$2 i
	for i in $(seq 1 600); do
		[ "$(grep -c '^ready' "$BATS_TEST_TMPDIR/$id.log" 2>/dev/null)" -ge "$want" ] && return 0
		sleep 0.1
	done
	fail "container $id: $want ready lines expected: $(cat "$BATS_TEST_TMPDIR/$id.log")"
}

# VMAs of a process with VM_MERGEABLE: on 6.12 the sign of whole-process
# KSM (its /proc/<pid>/ksm_stat has no ksm_merge_any line).
mergeable_vmas() {
	grep -c '^VmFlags:.* mg' "/proc/$1/smaps" || true
}

# Field of a "key value" file: kv FILE KEY
kv() {
	awk -v k="$2" '$1 == k {print $2}' "$1"
}

# Sum of one /proc/<pid>/ksm_stat field over a container's processes.
proc_sum() {
	local pid sum=0 v
	for pid in $(container_pids "$1"); do
		v=$(kv "/proc/$pid/ksm_stat" "$2")
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# The hook's record of a container: state_field ID FIELD.
state_field() {
	jq -r --arg id "$1" --arg f "$2" '.containers[] | select(.id == $id) | .[$f]' "$STATE_DIR/state.json"
}

# --- kernel domains (020-native-domains.bats) ---------------------------

SELFOPT=$ROOT/build/test/selfopt

# A kernel with ksm.domain (patches 0008/0009)?  Checked on $CG_PARENT,
# made here (teardown removes it): a child of the root the controller is
# enabled for.  Skipped on a kernel without the controller or a series
# without domains; failed when the series has them and the kernel not.
requires_kernel_domains() {
	requires_controller
	mkdir -p "$CG_ROOT/$CG_PARENT"
	[ -f "$CG_ROOT/$CG_PARENT/ksm.domain.effective" ] && return 0
	grep -q 'ksm.domain' "$ROOT/kernel/patches/series" &&
		fail "the kernel has no ksm.domain, but kernel/patches/series has the domain patches"
	skip "the kernel has no ksm.domain"
}

# The annotations CRI-O puts on a pod's container after the pod's own: the
# container type and the namespace, the key samepage.conf trusts here.
crio_pod() {
	echo io.kubernetes.cri-o.ContainerType=container io.kubernetes.pod.namespace="$1"
}

# k8s_config POLICY [MORE_JSON]: samepage.conf of a CRI-O node.
k8s_config() {
	echo "{\"domain_policy\": \"$1\", \"namespace_annotation\": \"io.kubernetes.pod.namespace\"${2:+, $2}}" >"$CONFIG"
	echo "samepage.conf: $(cat "$CONFIG")" >&2
}

# selfopt_bundle NAME [KEY=VALUE]...: the self-opt-in probe (test/integration/
# selfopt.c: prctl, madvise, io_uring, then 4 MiB of pages of 251 contents).
selfopt_bundle() {
	local name=$1 b
	shift
	[ -x "$SELFOPT" ] || fail "$SELFOPT not built (make kernel-guest-bins)"
	b=$(make_bundle "$name" "$@" -- selfopt sleep)
	cp "$SELFOPT" "$b/rootfs/bin/selfopt"
	echo "$b"
}

# bundle_cgroup BUNDLE PATH: run the bundle's container in cgroup PATH
# (below the cgroup2 root) instead of $CG_PARENT/NAME.
bundle_cgroup() {
	sed -i "s|\"cgroupsPath\": \"[^\"]*\"|\"cgroupsPath\": \"$2\"|" "$1/config.json"
}

# try_start_container ID BUNDLE: start_container for a start that may fail:
# the runtime's exit status in $start_rc, its output (the hook's error
# included) in $start_out.
try_start_container() {
	local id=$1 b=$2
	local herr=$BATS_TEST_TMPDIR/$id.hook-stderr
	CONTAINERS+=("$id")
	start_rc=0
	# crun shows only a failed hook's exit code; its stderr goes where the
	# run.oci.hooks.stderr annotation says, and is read back from there.
	if [ "$RUNTIME" = crun ]; then
		jq --arg f "$herr" '.annotations["run.oci.hooks.stderr"] = $f' "$b/config.json" >"$b/config.json.new" &&
			mv "$b/config.json.new" "$b/config.json"
	fi
	timeout 120 "$RUNTIME" --root "$RT_ROOT" run -d --pid-file "$BATS_TEST_TMPDIR/$id.pid" -b "$b" "$id" \
		</dev/null >"$BATS_TEST_TMPDIR/$id.log" 2>&1 || start_rc=$?
	start_out=$(cat "$BATS_TEST_TMPDIR/$id.log")
	if [ -f "$herr" ]; then
		start_out+=$'\n'$(cat "$herr")
	fi
	echo "\$ $RUNTIME run $id -> $start_rc" >&2
	echo "$start_out" >&2
}

# ksm.domain.effective of a cgroup, or of its nearest ancestor that has the
# file (crun does not enable +ksm in the parent of a cgroup it creates; the
# domain in force below is the ancestor's): an id or `deny`.
kdomain_effective_of() {
	local cg=$1 v
	while [ ! -e "$cg/ksm.domain.effective" ] && [ "$cg" != /sys/fs/cgroup ]; do
		cg=$(dirname "$cg")
	done
	read -r v <"$cg/ksm.domain.effective"
	echo "$v"
}

# ksm.domain.effective of a container's cgroup: an id or `deny`.
kdomain_effective() {
	kdomain_effective_of "$(container_cgroup "$1")"
}

# The kernel domain id the hook recorded for a samepage domain (0: none).
kdomain_recorded() {
	jq -r --arg d "$1" '.kernel_domains.ids[$d] // 0' "$STATE_DIR/state.json"
}

# ksm_merging_pages of a process (/proc/<pid>/ksm_stat), without a fork.
ksm_merging() {
	local k v
	while read -r k v; do
		[ "$k" = ksm_merging_pages ] && { echo "$v"; return 0; }
	done <"/proc/$1/ksm_stat"
	echo 0
}

# wait_merging PAGES PID...: until every PID has PAGES merging pages (60 s).
wait_merging() {
	local want=$1 pid i ok end=$((SECONDS + 60))
	shift
	for pid in "$@"; do
		[ -r "/proc/$pid/ksm_stat" ] || fail "no process $pid"
	done
	# bounded by time: one round costs about 0.25 s in the TCG guest
	for i in $(seq 1 600); do
		[ "$SECONDS" -lt "$end" ] || break
		ok=1
		for pid in "$@"; do
			[ "$(ksm_merging "$pid")" -ge "$want" ] || { ok=0; break; }
		done
		[ "$ok" = 1 ] && break
		sleep 0.1
	done
	for pid in "$@"; do
		echo "pid $pid: $(ksm_merging "$pid") merging pages (want $want) after $((60 - end + SECONDS)) s" >&2
	done
	[ "$ok" = 1 ] || fail "not every process merged $want pages"
}

# page_frames PID FILE: the page frames (hex) of PID's present pages in its
# largest private anonymous mapping (fillmem's or selfopt's buffer), sorted,
# one a line, from /proc/PID/pagemap (root sees the frame numbers).  Two
# unrelated processes map one frame only when KSM merged their pages.
page_frames() {
	local pid=$1 range perms off dev inode path s e best_s=0 best_e=0
	while read -r range perms off dev inode path; do
		[ "$perms" = rw-p ] && [ "$inode" = 0 ] && [ -z "$path" ] || continue
		s=$((16#${range%-*}))
		e=$((16#${range#*-}))
		[ $((e - s)) -gt $((best_e - best_s)) ] && best_s=$s best_e=$e
	done <"/proc/$pid/maps"
	[ "$best_e" -gt 0 ] || fail "pid $pid has no anonymous mapping"
	# pagemap: 8 bytes per page, bit 63 present, bits 0-54 the frame
	# (below 2^52 in the guest: the last 13 hex digits)
	dd if="/proc/$pid/pagemap" bs=65536 iflag=skip_bytes,count_bytes skip=$((best_s / 4096 * 8)) \
		count=$(((best_e - best_s) / 4096 * 8)) status=none |
		od -An -v -tx8 -w8 | awk 'substr($1, 1, 1) ~ /[89a-f]/ { print substr($1, 4) }' | sort -u >"$2"
}

# frames_of ID...: page_frames of each container's init into
# $BATS_TEST_TMPDIR/ID.frames; logs how many.
frames_of() {
	local id f
	for id in "$@"; do
		f=$BATS_TEST_TMPDIR/$id.frames
		page_frames "$(container_pid "$id")" "$f"
		[ -s "$f" ] || fail "$id: no present page in its buffer"
		echo "$id: $(wc -l <"$f") frames" >&2
	done
}

# frames_common ID1 ID2: how many frames the two containers' inits share
# (after frames_of).
frames_common() {
	local f1=$BATS_TEST_TMPDIR/$1.frames f2=$BATS_TEST_TMPDIR/$2.frames
	[ -s "$f1" ] && [ -s "$f2" ] || fail "no frames of $1 or $2 (frames_of first)"
	comm -12 "$f1" "$f2" | wc -l
}
