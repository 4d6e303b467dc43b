#!/usr/bin/env bats
# podman end to end through the packaged hooks.d files: the same oci-hooks(5)
# matching CRI-O does.  Each test has its own podman storage, run root, tmp
# dir and cgroup parent under its own names, so nothing touches the
# machine's podman state; every container is removed, also on failure.

load helpers

setup() {
	setup_common
	requires cmd:podman prctl_ksm
	# The hook must not touch ksmd here (no /sys/kernel/mm/ksm knob, so no
	# need for the machine-wide KSM lock): 520-deb.bats runs the default.
	echo '{"manage_ksmd": false}' > "$CONFIG"
	P=$BATS_TEST_TMPDIR/podman
	mkdir -p "$P/root" "$P/runroot" "$P/tmp" "$P/hooks"
	# podman cannot raise rlimits in this sandbox: no default ulimits.
	printf '[containers]\ndefault_ulimits = []\n' > "$P/containers.conf"
	export CONTAINERS_CONF=$P/containers.conf

	ROOTFS=$P/rootfs
	mkdir -p "$ROOTFS/bin"
	cp /bin/busybox "$ROOTFS/bin/busybox"
	for t in sh sleep cat grep true; do ln -sf busybox "$ROOTFS/bin/$t"; done

	# The packaged files, with the hook path pointing at a wrapper that
	# logs every invocation and then runs the built hook with this test's
	# state dir and config.
	WRAPPER=$P/samepage-hook-wrapper
	INVOCATIONS=$P/invocations
	cat > "$WRAPPER" <<-EOF
	#!/bin/sh
	echo "\$*" >> "$INVOCATIONS"
	exec "$HOOK" "\$@"
	EOF
	chmod +x "$WRAPPER"
	local f
	for f in "$ROOT"/packaging/hooks.d/*.json; do
		jq --arg path "$WRAPPER" --arg state "$STATE_DIR" --arg conf "$CONFIG" '
			.hook.path = $path |
			.hook.args = [.hook.args[0], "--state-dir", $state, "--config", $conf] + .hook.args[1:]' \
			"$f" > "$P/hooks/$(basename "$f")"
	done
}

teardown() {
	if [ -n "${P:-}" ] && [ -d "$P/root" ]; then
		pm rm -a -f -t 0 >/dev/null 2>&1 || true
		# conmon leaves its cgroup a moment after the container is gone;
		# wait for that so the cgroups below can be removed.
		local i
		for i in $(seq 1 50); do
			cat $(cgroup_mounts | sed "s|.*|&/$CGROUP_PARENT-podman-$$/cgroup.procs &/$CGROUP_PARENT-podman-$$/*/cgroup.procs|") \
				2>/dev/null | grep -q . || break
			sleep 0.1
		done
		# Anything podman left mounted under this test's directory.
		grep -o " $P[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	fi
	teardown_common
}

pm() {
	timeout 120 podman --root "$P/root" --runroot "$P/runroot" --tmpdir "$P/tmp" \
		--storage-driver vfs --events-backend file --runtime runc --cgroup-manager cgroupfs \
		--hooks-dir "$P/hooks" "$@"
}

# pm_run [PODMAN-RUN-OPTION]... -- CMD [ARG]...  (--rootfs must come last)
pm_run() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	pm run -d --network none --cgroup-parent "/$CGROUP_PARENT-podman-$$" "${opts[@]}" --rootfs "$ROOTFS" "$@"
}

pm_pid() {
	pm inspect -f '{{.State.Pid}}' "$1"
}

@test "podman: --annotation samepage.io/merge=true runs the hook and the process merges" {
	local pid id
	run_ok pm_run --name merged --annotation samepage.io/merge=true -- sleep 1000
	id=${output##*$'\n'}
	pid=$(pm_pid merged)
	[ -n "$pid" ] && [ "$pid" -gt 0 ] || fail "no pid for merged: $pid"
	[ "$(ksm_field "$pid" ksm_merge_any)" = yes ] || fail "pid $pid: $(cat /proc/$pid/ksm_stat)"
	run_ok cat "$INVOCATIONS"
	assert_line --regexp "^--state-dir .* createRuntime$"
	run_ok jq -e --arg id "$id" '.containers[] | select(.id == $id) | .enabled and .domain == "default"' "$STATE_DIR/state.json"
	# The poststop file is matched too: removing the container forgets it.
	run_ok pm rm -f -t 0 merged
	run_ok cat "$INVOCATIONS"
	assert_line --regexp "^--state-dir .* poststop$"
	run_ok jq -e --arg id "$id" '[.containers[] | select(.id == $id)] | length == 0' "$STATE_DIR/state.json"
}

@test "podman: samepage.io/domain and a child process are honoured" {
	local pid child id
	run_ok pm_run --name dom --annotation samepage.io/merge=true --annotation samepage.io/domain=team-a \
		-- sh -c 'sleep 1000 & wait'
	id=${output##*$'\n'}
	pid=$(pm_pid dom)
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		child=$(awk '{print $1; exit}' /proc/$pid/task/*/children 2>/dev/null)
		[ -n "$child" ] && break
		sleep 0.2
	done
	[ -n "$child" ] || fail "no child of $pid"
	[ "$(ksm_field "$child" ksm_merge_any)" = yes ] || fail "child $child: $(cat /proc/$child/ksm_stat)"
	run_ok jq -e --arg id "$id" '.containers[] | select(.id == $id) | .domain == "team-a"' "$STATE_DIR/state.json"
}

@test "podman: without the annotation, or with another value, the hook does not even run" {
	local name pid
	run_ok pm_run --name plain -- sleep 1000
	run_ok pm_run --name falsy --annotation samepage.io/merge=false -- sleep 1000
	run_ok pm_run --name almost --annotation samepage.io/merge=truex -- sleep 1000
	run_ok pm_run --name other --annotation example.com/samepage.io/merge=true -- sleep 1000
	for name in plain falsy almost other; do
		pid=$(pm_pid $name)
		[ "$(ksm_field "$pid" ksm_merge_any)" = no ] || fail "$name ($pid): $(cat /proc/$pid/ksm_stat)"
	done
	run_ok pm rm -f -t 0 plain falsy almost other
	[ ! -e "$INVOCATIONS" ] || fail "hook ran: $(cat "$INVOCATIONS")"
	[ ! -e "$STATE_DIR/state.json" ] || fail "hook left state: $(cat "$STATE_DIR/state.json")"
	# The wrapper works: the same setup with the annotation does run it.
	run_ok pm_run --name control --annotation samepage.io/merge=true -- true
	[ -s "$INVOCATIONS" ] || fail "control container did not run the hook"
}
