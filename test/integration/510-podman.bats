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
	run_ok jq -e --arg id "$id" '.containers[] | select(.id == $id) | .enabled and .domain == "local/default"' "$STATE_DIR/state.json"
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
	run_ok jq -e --arg id "$id" '.containers[] | select(.id == $id) | .domain == "local/team-a"' "$STATE_DIR/state.json"
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

# An OCI image layout whose manifest carries annotations $1 (JSON), made by
# hand (what `buildah build --annotation` writes), with this test's busybox.
# Prints the image id after pulling it into this test's storage.  podman
# names the image after the layout's path, which must be lower case.
pm_image_with_annotations() {
	local dir=/tmp/samepage-test-oci-$$
	rm -rf "$dir"
	/usr/bin/python3 - "$dir" "$1" "$ROOTFS" <<-'PYEOF'
	import hashlib, io, json, os, sys, tarfile
	out, ann, rootfs = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
	os.makedirs(out + "/blobs/sha256", exist_ok=True)
	def blob(data, media):
	    d = hashlib.sha256(data).hexdigest()
	    open(out + "/blobs/sha256/" + d, "wb").write(data)
	    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}
	buf = io.BytesIO()
	with tarfile.open(fileobj=buf, mode="w") as t:
	    t.add(rootfs, ".")
	layer = buf.getvalue()
	cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sleep", "1000"]},
	       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}
	man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
	       "config": blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json"),
	       "layers": [blob(layer, "application/vnd.oci.image.layer.v1.tar")], "annotations": ann}
	m = blob(json.dumps(man).encode(), "application/vnd.oci.image.manifest.v1+json")
	m["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
	json.dump({"schemaVersion": 2, "manifests": [m]}, open(out + "/index.json", "w"))
	json.dump({"imageLayoutVersion": "1.0.0"}, open(out + "/oci-layout", "w"))
	PYEOF
	pm pull -q "oci:$dir:latest" | tail -1
	rm -rf "$dir"
}

@test "podman: an image's samepage.io annotations reach the hook; the domain rules still hold" {
	requires cmd:/usr/bin/python3
	local img pid id
	img=$(pm_image_with_annotations \
		'{"samepage.io/merge": "true", "samepage.io/domain": "team-a", "io.kubernetes.pod.namespace": "team-a"}')
	[ -n "$img" ] || fail "no image"
	# No --annotation: the image alone asks for KSM, and podman copies its
	# annotations into the spec, where the hook cannot tell them from the user's.
	run_ok pm run -d --network none --cgroup-parent "/$CGROUP_PARENT-podman-$$" --name fromimg "$img"
	id=${output##*$'\n'}
	pid=$(pm_pid fromimg)
	[ "$(ksm_field "$pid" ksm_merge_any)" = yes ] || fail "the image's samepage.io/merge was not applied"
	run_ok pm inspect -f '{{index .Config.Annotations "samepage.io/merge"}}' fromimg
	assert_output true
	# The node trusts no namespace key (the generic samepage.conf): the
	# image's io.kubernetes.pod.namespace is ignored, its domain is local/.
	run_ok jq -e --arg id "$id" '.containers[] | select(.id == $id) | .enabled and .domain == "local/team-a"' \
		"$STATE_DIR/state.json"
	run_ok pm rm -f -t 0 fromimg

	# On a node that trusts CRI-O's key, the same image claims the namespace:
	# whoever runs images with podman there is trusted like the node admin.
	echo '{"manage_ksmd": false, "namespace_annotation": "io.kubernetes.pod.namespace"}' > "$CONFIG"
	run_ok pm run -d --network none --cgroup-parent "/$CGROUP_PARENT-podman-$$" --name claimed "$img"
	id=${output##*$'\n'}
	run_ok jq -e --arg id "$id" '.containers[] | select(.id == $id) | .domain == "k8s/team-a"' "$STATE_DIR/state.json"
	run_ok pm rm -f -t 0 claimed

	# --annotation on the command line overrides the image.
	run_ok pm run -d --network none --cgroup-parent "/$CGROUP_PARENT-podman-$$" --name refused \
		--annotation samepage.io/merge=false "$img"
	[ "$(ksm_field "$(pm_pid refused)" ksm_merge_any)" = no ] || fail "--annotation samepage.io/merge=false ignored"
}
