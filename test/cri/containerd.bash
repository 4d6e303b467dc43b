# Helpers of test/integration/600-containerd.bats: a containerd of the
# suite's own (private socket, root, state and runc root; cgroupfs; runc),
# images built here from busybox-static, and the CRI client cri.py.
#
# Everything lives under $CTD_DIR (short path: a unix socket path has 108
# bytes).  ctd_cleanup (teardown_file) removes every pod through CRI, stops
# containerd and the shims it started, unmounts what is left under
# $CTD_DIR, removes the pod cgroups and the directory.

PY=/usr/bin/python3
CRI_DIR=$ROOT/test/cri
CTD_PKG=$ROOT/packaging/containerd
CTD_IMAGE=localhost/samepage-test/busybox:1
CTD_PAUSE=localhost/samepage-test/pause:1
# Under $CGROUP_PARENT-*, which remove_test_cgroups (helpers.bash) cleans.
CTD_CGROUP=/$CGROUP_PARENT-cri

cri() {
	timeout 120 "$PY" "$CRI_DIR/cri.py" --socket "$CTD_DIR/ctd.sock" "$@"
}

ctr_() {
	timeout 120 ctr --address "$CTD_DIR/ctd.sock" --namespace k8s.io "$@"
}

# containerd's config: the two runtimes a node would have, the default
# `runc` untouched and `runc-samepage` appended by the shipped script.
ctd_config() {
	cat <<-TOML
	version = 2
	root = "$CTD_DIR/root"
	state = "$CTD_DIR/state"
	disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
	[grpc]
	  address = "$CTD_DIR/ctd.sock"
	[ttrpc]
	  address = "$CTD_DIR/ctd.sock.ttrpc"
	[plugins."io.containerd.internal.v1.opt"]
	  path = "$CTD_DIR/opt"
	[plugins."io.containerd.grpc.v1.cri"]
	  sandbox_image = "$CTD_PAUSE"
	  stream_server_address = "127.0.0.1"
	  stream_server_port = "0"
	  # This machine's root may not lower oom_score_adj (no CAP_SYS_RESOURCE);
	  # the sandbox's -998 would fail.  Harness only.
	  restrict_oom_score_adj = true
	  [plugins."io.containerd.grpc.v1.cri".cni]
	    bin_dir = "$CTD_DIR/cni-bin"
	    conf_dir = "$CTD_DIR/cni-conf"
	  [plugins."io.containerd.grpc.v1.cri".containerd]
	    snapshotter = "native"
	    default_runtime_name = "runc"
	    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
	      runtime_type = "io.containerd.runc.v2"
	      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
	        SystemdCgroup = false
	        Root = "$CTD_DIR/runc"
	TOML
}

# The shipped script, pointed at this suite's files.
ctd_spec_script() {
	"$CTD_PKG/samepage-containerd-spec" --config "$CTD_DIR/config.toml" \
		--spec "$CTD_DIR/samepage-base-spec.json" --hook "$CTD_HOOK" --samepage "$SAMEPAGE" \
		--hook-arg "--state-dir=$STATE_DIR" --hook-arg "--config=$CONFIG" "$@"
}

# containerd must not keep bats' output (fd 3) nor the KSM test lock open.
ctd_start() {
	local i
	if [ -n "${KSM_LOCK_FD:-}" ]; then
		containerd --config "$CTD_DIR/config.toml" >> "$CTD_DIR/containerd.log" 2>&1 3>&- {KSM_LOCK_FD}>&- &
	else
		containerd --config "$CTD_DIR/config.toml" >> "$CTD_DIR/containerd.log" 2>&1 3>&- &
	fi
	echo $! > "$CTD_DIR/containerd.pid"
	for i in $(seq 1 100); do
		cri version > /dev/null 2>&1 && return 0
		kill -0 "$(cat "$CTD_DIR/containerd.pid")" 2>/dev/null || break
		sleep 0.1
	done
	tail -30 "$CTD_DIR/containerd.log" >&2
	fail "containerd did not answer CRI on $CTD_DIR/ctd.sock"
}

ctd_stop() {
	local pid i
	[ -f "$CTD_DIR/containerd.pid" ] || return 0
	pid=$(cat "$CTD_DIR/containerd.pid")
	rm -f "$CTD_DIR/containerd.pid"
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

# Restart as the systemd drop-in would: ExecStartPre (refresh), then start.
ctd_restart() {
	ctd_stop
	ctd_spec_script refresh
	ctd_start
}

# An image tarball from a directory with busybox and fillmem.
ctd_build_images() {
	local r=$CTD_DIR/rootfs t
	mkdir -p "$r/bin" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/etc"
	cp /bin/busybox "$r/bin/busybox"
	for t in sh sleep cat ls ps grep awk true; do ln -sf busybox "$r/bin/$t"; done
	cp "$(fillmem_bin)" "$r/bin/fillmem"
	echo "root:x:0:0:root:/:/bin/sh" > "$r/etc/passwd"
	echo "root:x:0:" > "$r/etc/group"
	"$PY" "$CRI_DIR/mkimage.py" "$CTD_DIR/busybox.tar" "$CTD_IMAGE" "$r" sh
	"$PY" "$CRI_DIR/mkimage.py" "$CTD_DIR/pause.tar" "$CTD_PAUSE" "$r" sleep 2147483647
	ctr_ images import --snapshotter native "$CTD_DIR/busybox.tar" >&2
	ctr_ images import --snapshotter native "$CTD_DIR/pause.tar" >&2
}

ctd_setup_file() {
	requires root cmd:containerd cmd:ctr cmd:runc cmd:protoc cmd:busybox "cmd:$PY"
	"$PY" -c 'import grpc, google.protobuf' || fail "needs python3-grpcio and python3-protobuf (make deps)"
	CTD_DIR=$(mktemp -d /tmp/sp-cri.XXXXXX)
	export CTD_DIR
	mkdir -p "$CTD_DIR/cni-bin" "$CTD_DIR/cni-conf" "$CTD_DIR/logs"
	ctd_config > "$CTD_DIR/config.toml"
	ctd_start
	ctd_build_images
}

# Processes whose command line names our socket: the shims our containerd
# started (they outlive it on purpose, like on a node).
ctd_own_shims() {
	local p
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null < "$p/cmdline" | grep -qF -- "-address $CTD_DIR/ctd.sock " &&
			echo "${p#/proc/}"
	done
	return 0
}

ctd_cleanup() {
	local pid m
	[ -n "${CTD_DIR:-}" ] && [ -d "$CTD_DIR" ] || return 0
	if [ -f "$CTD_DIR/containerd.pid" ]; then
		cri rmall > /dev/null 2>&1 || true
	fi
	ctd_stop
	for pid in $(ctd_own_shims); do
		kill -9 "$pid" 2>/dev/null || true
	done
	# What a killed shim left running in the pods' cgroups (ours).
	for pid in $(cat /sys/fs/cgroup/pids"$CTD_CGROUP"/*/cgroup.procs /sys/fs/cgroup"$CTD_CGROUP"/*/cgroup.procs 2>/dev/null); do
		kill -9 "$pid" 2>/dev/null || true
	done
	# Deepest first.
	for m in $(awk -v d="$CTD_DIR" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	remove_test_cgroups
	rm -rf "$CTD_DIR"
}

# Remove every pod of the test (they all carry the label samepage-test=1).
ctd_remove_pods() {
	[ -f "$CTD_DIR/containerd.pid" ] || return 0
	cri rmall > /dev/null || echo "warning: cri rmall failed" >&2
}

# run_pod NAME NAMESPACE [cri.py run options] [-- COMMAND...]: sets $output
# (cri.py's JSON) and $status; POD/CTR/PID from it.
run_pod() {
	local name=$1 ns=$2
	shift 2
	run cri run "$name" "$ns" "$CTD_IMAGE" --cgroup-parent "$CTD_CGROUP" \
		--log-dir "$CTD_DIR/logs" "$@"
	echo "\$ cri run $name $ns $* -> $status" >&2
	echo "$output" >&2
	POD=$(jq -r '.pod // empty' <<< "$output" 2>/dev/null || true)
	CTR=$(jq -r '.container // empty' <<< "$output" 2>/dev/null || true)
	PID=$(jq -r '.pid // empty' <<< "$output" 2>/dev/null || true)
}
