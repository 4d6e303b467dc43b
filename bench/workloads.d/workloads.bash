# Interpreter workloads in runc containers, shared by bench/workloads and
# test/integration/232-estimate-workload.bats.  Sourced (bash).
#
# The host's interpreters are bind-mounted read-only into a bare rootfs
# (/usr, with the merged-/usr symlinks bin, lib, lib64, sbin, and /etc), so
# nothing is downloaded; the workload script is copied into /app.
#
#   wl_command WORKLOAD SIZE     the container's argv as a JSON array, or
#                                exit 1 when the interpreter is missing
#   wl_bundle DIR WORKLOAD SIZE HOOK STATE_DIR CONFIG CGROUP_PATH [ANN=VAL]...
#                                a runc bundle in DIR running WORKLOAD with
#                                samepage-hook (state dir and config given)
#
# WORKLOADs: py-indep (a CPython interpreter with SIZE records of state),
# py-fork (a CPython parent with SIZE records that pre-forks 4 workers
# walking them), node (Node.js with SIZE records).  Each prints "ready"
# once its memory is in place.

WL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WL_PYTHON=${WL_PYTHON:-/usr/bin/python3}
WL_NODE=${WL_NODE:-$(command -v node || command -v nodejs || true)}
WL_WORKERS=${WL_WORKERS:-4}

wl_command() {
	local wl=$1 size=$2
	case "$wl" in
	py-indep | py-fork)
		[ -x "$WL_PYTHON" ] && [[ $WL_PYTHON == /usr/* ]] || return 1
		jq -cn --arg py "$WL_PYTHON" --arg m "${wl#py-}" --arg n "$size" --arg w "$WL_WORKERS" \
			'[$py, "/app/interp.py", $m, $n, $w]' ;;
	node)
		[ -n "$WL_NODE" ] && [[ $(readlink -f "$WL_NODE") == /usr/* ]] || return 1
		jq -cn --arg node "$(readlink -f "$WL_NODE")" --arg n "$size" '[$node, "/app/interp.js", $n]' ;;
	*) return 1 ;;
	esac
}

wl_bundle() {
	local dir=$1 wl=$2 size=$3 hook=$4 state=$5 conf=$6 cg=$7 args ann='{}' kv l
	shift 7
	args=$(wl_command "$wl" "$size") || return 1
	for kv in "$@"; do
		ann=$(jq -c --arg k "${kv%%=*}" --arg v "${kv#*=}" '. + {($k): $v}' <<< "$ann")
	done
	mkdir -p "$dir/rootfs"/{proc,dev,tmp,usr,etc,app}
	for l in bin lib lib64 sbin; do
		[ -e "$dir/rootfs/$l" ] || ln -s "usr/$l" "$dir/rootfs/$l"
	done
	cp "$WL_DIR/interp.py" "$WL_DIR/interp.js" "$dir/rootfs/app/"
	(cd "$dir" && runc spec)
	jq --argjson args "$args" --argjson ann "$ann" --arg hook "$hook" --arg state "$state" \
		--arg conf "$conf" --arg cg "$cg" '
		.process.terminal = false | .process.args = $args |
		.process.env += ["PYTHONDONTWRITEBYTECODE=1", "HOME=/tmp"] |
		.annotations = $ann |
		.linux.cgroupsPath = $cg |
		.linux.namespaces |= map(select(.type != "network")) |
		.mounts += [
			{destination: "/usr", type: "bind", source: "/usr", options: ["rbind", "ro", "nosuid", "nodev"]},
			{destination: "/etc", type: "bind", source: "/etc", options: ["rbind", "ro", "nosuid", "nodev"]},
			{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "size=16m"]}
		] |
		.hooks = {
			createRuntime: [{path: $hook, args: ["samepage-hook", "--state-dir", $state, "--config", $conf, "createRuntime"], timeout: 30}],
			poststop: [{path: $hook, args: ["samepage-hook", "--state-dir", $state, "--config", $conf, "poststop"], timeout: 30}]
		}' "$dir/config.json" > "$dir/config.json.new"
	mv "$dir/config.json.new" "$dir/config.json"
}
