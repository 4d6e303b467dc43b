#!/usr/bin/env bats
# Every manifest and config samepage ships, checked by a parser and for the
# fields that make it work, since no cluster, CRI-O or containerd runs here:
# hooks.d JSON (jq), samepage.conf (jq and samepage's own parser), Kubernetes
# YAML (python3-yaml), CRI-O and containerd TOML (python3's tomllib),
# systemd units (systemd-analyze), man pages and bash completion against the
# verbs and options the programs really have.  Debian's /usr/bin/python3 is
# used on purpose: it is the one `make deps` provides yaml for.

load helpers

PY=/usr/bin/python3
PKG=$BATS_TEST_DIRNAME/../../packaging

# The long options a program's --help lists in its option lines.
help_options() {
	"$@" --help 2>&1 | sed -nE 's/^ +(-[A-Za-z0-9], +)?(--[a-z][a-z-]*).*/\2/p' | sort -u
}

setup() {
	requires cmd:jq
	[ -x "$SAMEPAGE" ] || fail "$SAMEPAGE not built (run make)"
	KSMD_NICE=""
}

teardown() {
	# ksmd's priority as the test found it, then the knobs.
	[ -z "$KSMD_NICE" ] || renice -n "$KSMD_NICE" -p "$(pgrep -x -P 2 ksmd)" >/dev/null || true
	ksm_restore
}

@test "manifests: hooks.d files are oci-hooks 1.0.0, matching only samepage.io/merge=true" {
	local f stages=""
	for f in "$PKG"/hooks.d/*.json; do
		run_ok jq -e '
			.version == "1.0.0"
			and (.hook.path | startswith("/")) and (.hook.path | endswith("/samepage-hook"))
			and .hook.args[0] == "samepage-hook"
			and (.stages | length) == 1
			and (.stages[0] | IN("prestart", "createRuntime", "poststop"))
			and .hook.args[-1] == .stages[0]
			and (.always // false) == false
			and (.when.annotations | length) == 1' "$f"
		stages+=" $(jq -r '.stages[0]' "$f")"
		# The regexes (Go RE2; these are plain enough to mean the same in
		# ERE) select the key and the value exactly.
		local kre vre
		kre=$(jq -r '.when.annotations | keys[0]' "$f")
		vre=$(jq -r '.when.annotations[]' "$f")
		grep -Eq -- "$kre" <<< "samepage.io/merge" || fail "$f: key regex $kre misses samepage.io/merge"
		for k in samepage.io/merged samepage.io/domain x.samepage.io/merge samepageXio/merge; do
			! grep -Eq -- "$kre" <<< "$k" || fail "$f: key regex $kre matches $k"
		done
		grep -Eq -- "$vre" <<< "true" || fail "$f: value regex $vre misses true"
		for v in false True truex " true" ""; do
			! grep -Eq -- "$vre" <<< "$v" || fail "$f: value regex $vre matches '$v'"
		done
	done
	[[ $stages == *createRuntime* && $stages == *poststop* ]] || fail "stages shipped:$stages"
}

@test "manifests: samepage.conf has every key the parser knows, and the parser accepts it" {
	local keys known
	# `domains` maps the admin's group names to lists: the key itself is
	# what the parser knows.
	keys=$(jq -r '(del(.domains) | paths(type | . != "object" and . != "array") | map(tostring) | join(".")),
		(select(has("domains")) | "domains")' "$PKG/samepage.conf" | sort)
	# The keys node/config.c accepts: top level, and <block>.<key> for the
	# objects parsed by parse_<block> (governor, estimate).
	known=$(awk '/^static int parse_/ {g = ""} /^static int parse_(governor|estimate)\(/ {g = $3; sub(/^parse_/, "", g); sub(/\(.*/, "", g); g = g "."}
		/^int sp_config_parse/ {g = ""}
		match($0, /strcmp\(key, "[a-z_]+"\)/) {
			k = substr($0, RSTART + 13, RLENGTH - 15)
			if (k != "governor" && k != "estimate") print g k
		}' "$ROOT/node/config.c" | sort)
	[ -n "$known" ] || fail "could not read the keys from node/config.c"
	[ "$keys" = "$known" ] || fail "shipped keys differ from the parser's: $(diff <(echo "$keys") <(echo "$known"))"
	run_ok "$SAMEPAGE" --config "$PKG/samepage.conf" doctor --json
	echo "$output" | jq -e '.checks[] | select(.name == "config") | .status == "ok"' ||
		fail "the parser rejects the shipped config: $output"
	# Every key is documented in samepage.conf(5).
	for k in $known; do
		grep -q -- "\*\*$k\*\*" "$PKG/man/samepage.conf.5.md" || fail "samepage.conf(5) does not document $k"
	done
}

@test "manifests: Kubernetes YAML parses and has what the nodes need" {
	requires "cmd:$PY"
	run_ok "$PY" - "$PKG/kubernetes" "$PKG/cri-o/samepage.conf" "$PKG/containerd/samepage.conf" <<-'EOF'
	import json, sys, yaml
	kdir, conf, ctd_conf = sys.argv[1], sys.argv[2], sys.argv[3]
	def need(cond, what):
	    if not cond:
	        sys.exit("FAIL: " + what)
	docs = list(yaml.safe_load_all(open(kdir + "/samepage-daemonset.yaml")))
	for d in docs:
	    need(isinstance(d, dict) and d.get("apiVersion") and d.get("kind") and d["metadata"].get("name"),
	         "every document has apiVersion, kind, metadata.name")
	by_kind = {d["kind"]: d for d in docs}
	need(set(by_kind) >= {"Namespace", "ConfigMap", "DaemonSet"}, "Namespace, ConfigMap, DaemonSet present")
	need("ClusterRole" not in by_kind and "Role" not in by_kind, "no RBAC (nothing talks to the API)")
	ns = by_kind["Namespace"]["metadata"]["name"]
	ds, cm = by_kind["DaemonSet"], by_kind["ConfigMap"]
	need(ds["apiVersion"] == "apps/v1", "DaemonSet apps/v1")
	need(ds["metadata"]["namespace"] == ns and cm["metadata"]["namespace"] == ns, "objects in the namespace")
	sel = ds["spec"]["selector"]["matchLabels"]
	tpl = ds["spec"]["template"]
	need(all(tpl["metadata"]["labels"].get(k) == v for k, v in sel.items()), "selector matches the pod labels")
	pod = tpl["spec"]
	need(pod["nodeSelector"] == {"samepage.io/enabled": "true"}, "node selector samepage.io/enabled=\"true\" (a string)")
	need(pod.get("hostPID") is True, "hostPID for /proc/<pid>/ksm_stat of the containers")
	need(pod.get("automountServiceAccountToken") is False, "no API token mounted")
	vols = {v["name"]: v for v in pod["volumes"]}
	host = {v["hostPath"]["path"]: n for n, v in vols.items() if "hostPath" in v}
	for p in ["/usr/libexec/samepage", "/etc/containers/oci/hooks.d", "/etc/samepage",
	          "/run/samepage", "/var/lib/node_exporter/textfile_collector"]:
	    need(p in host, "hostPath " + p)
	need(vols["config"]["configMap"]["name"] == cm["metadata"]["name"], "config volume is the ConfigMap")
	ctrs = pod["initContainers"] + pod["containers"]
	for c in ctrs:
	    need(c.get("image") and c.get("name") and c.get("command"), "container %s: name, image, command" % c.get("name"))
	    for m in c.get("volumeMounts", []):
	        need(m["name"] in vols, "mount %s refers to a volume" % m["name"])
	install = " ".join(pod["initContainers"][0]["command"])
	need("samepage-hook" in install and "hooks.d" in install and "samepage.conf" in install,
	     "init container installs hook, hooks.d files and config")
	by_name = {c["name"]: c for c in pod["containers"]}
	need(set(by_name) == {"governor", "metrics"}, "containers governor and metrics, not %s" % sorted(by_name))
	metrics = " ".join(by_name["metrics"]["command"])
	need("samepage" in metrics and "metrics --output /textfile/" in metrics, "metrics container runs samepage metrics --output")
	mounts = {m["mountPath"]: m["name"] for m in by_name["metrics"]["volumeMounts"]}
	need(host["/var/lib/node_exporter/textfile_collector"] == mounts["/textfile"], "metrics output on the textfile hostPath")
	need(host["/run/samepage"] == mounts["/run/samepage"], "metrics reads the node state")
	# The governor: the hook's state and config, ksmd's knobs writable.
	gov = by_name["governor"]
	cmd = gov["command"]
	need(cmd[0] == "samepage" and cmd[-2:] == ["governor", "--foreground"], "governor runs samepage ... governor --foreground, not %s" % cmd)
	opt = dict(zip(cmd[1:-2:2], cmd[2:-2:2]))
	need(len(cmd) % 2 == 1 and set(opt) == {"--state-dir", "--config"}, "governor's global options: --state-dir and --config")
	mounts = {m["mountPath"]: m for m in gov["volumeMounts"]}
	need(mounts[opt["--state-dir"]]["name"] == host["/run/samepage"] and not mounts[opt["--state-dir"]].get("readOnly"),
	     "governor's state dir is the host's /run/samepage, writable (lock, its knob records)")
	cdir = opt["--config"].rsplit("/", 1)
	need(cdir[1] == "samepage.conf" and mounts[cdir[0]]["name"] == host["/etc/samepage"], "governor reads the installed samepage.conf")
	need("/sys/kernel/mm/ksm" in host and vols[host["/sys/kernel/mm/ksm"]]["hostPath"].get("type") == "Directory",
	     "hostPath /sys/kernel/mm/ksm (type Directory)")
	need(mounts["/sys/kernel/mm/ksm"]["name"] == host["/sys/kernel/mm/ksm"] and not mounts["/sys/kernel/mm/ksm"].get("readOnly"),
	     "governor writes ksmd's knobs at /sys/kernel/mm/ksm")
	need(not any(m["name"] == host["/sys/kernel/mm/ksm"] for c in ctrs if c is not gov for m in c.get("volumeMounts", [])),
	     "only the governor mounts ksmd's knobs")
	print(" ".join(cmd[1:]))
	need(json.loads(cm["data"]["samepage.conf.cri-o"]) == json.load(open(conf)), "ConfigMap carries the shipped CRI-O samepage.conf")
	need(json.loads(cm["data"]["samepage.conf.containerd"]) == json.load(open(ctd_conf)),
	     "ConfigMap carries the shipped containerd samepage.conf")
	need(json.load(open(conf))["namespace_annotation"] == "io.kubernetes.pod.namespace" and
	     json.load(open(ctd_conf))["namespace_annotation"] == "io.kubernetes.cri.sandbox-namespace",
	     "each runtime's samepage.conf trusts the key that runtime sets")
	need("samepage.conf" not in cm["data"], "no runtime-blind samepage.conf in the ConfigMap")
	dep = list(yaml.safe_load_all(open(kdir + "/example-deployment.yaml")))
	need(len(dep) == 1 and dep[0]["kind"] == "Deployment" and dep[0]["apiVersion"] == "apps/v1", "one apps/v1 Deployment")
	dep = dep[0]
	need(dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items(),
	     "Deployment selector matches its pods")
	ann = dep["spec"]["template"]["metadata"]["annotations"]
	need(ann.get("samepage.io/merge") == "true", "pod template annotated samepage.io/merge: \"true\"")
	need(all(isinstance(v, str) for v in ann.values()), "annotation values are strings")
	need(ann.get("samepage.io/required") in (None, "true", "false"), "samepage.io/required is true or false")
	need(dep["spec"]["template"]["spec"]["nodeSelector"] == pod["nodeSelector"], "pods go where the DaemonSet runs")
	print("ok")
	EOF
	assert_line ok
	# The governor's command line is one the CLI takes.
	run_ok $SAMEPAGE ${lines[0]} --help
	assert_output --partial "Usage: samepage governor"
}

@test "manifests: the CRI-O drop-in passes CRI-O's documented validation and wires hooks.d" {
	requires "cmd:$PY"
	local check=$BATS_TEST_TMPDIR/check-crio.py
	cat > "$check" <<-'EOF'
	import sys, tomllib
	def need(cond, what):
	    if not cond:
	        sys.exit("FAIL: " + what)
	crio = tomllib.load(open(sys.argv[1], "rb"))
	need(set(crio) == {"crio"}, "every key under the crio table")
	rt = crio["crio"]["runtime"]
	need("/usr/share/containers/oci/hooks.d" in rt.get("hooks_dir", []) and "/etc/containers/oci/hooks.d" in rt.get("hooks_dir", []),
	     "CRI-O hooks_dir has the package's and the DaemonSet's directory")
	# crio.conf(5): allowed_annotations (of runtimes, deprecated there, and
	# of workloads) takes only the experimental annotations CRI-O
	# recognizes; since CRI-O 1.21 any other entry fails the config
	# validation.  samepage needs none: CRI-O passes pod annotations into
	# the OCI config and hooks.d matches them.
	known = {"io.kubernetes.cri-o.userns-mode", "io.kubernetes.cri-o.Devices", "io.kubernetes.cri-o.ShmSize",
	         "io.containers.trace-syscall", "io.kubernetes.cri-o.seccompNotifierAction", "io.kubernetes.cri-o.umask"}
	def recognized(a):
	    return a in known or a.startswith("io.kubernetes.cri-o.UnifiedCgroup.")
	for table in ("runtimes", "workloads"):
	    for name, h in rt.get(table, {}).items():
	        bad = [a for a in h.get("allowed_annotations", []) if not recognized(a)]
	        need(not bad, "%s.%s: allowed_annotations CRI-O would reject: %s" % (table, name, bad))
	        if table == "runtimes":
	            need(h.get("runtime_path", "").startswith("/"), "runtime %s: absolute runtime_path" % name)
	print("ok")
	EOF
	run_ok "$PY" "$check" "$PKG/cri-o/50-samepage.conf"
	assert_output ok
	# The check itself: the drop-in this project shipped before is refused.
	printf '[crio.runtime]\nhooks_dir = ["/usr/share/containers/oci/hooks.d", "/etc/containers/oci/hooks.d"]\n[crio.runtime.runtimes.runc]\nruntime_path = "/usr/bin/runc"\nallowed_annotations = ["samepage.io/merge"]\n' \
		> "$BATS_TEST_TMPDIR/old.conf"
	run_fail "$PY" "$check" "$BATS_TEST_TMPDIR/old.conf"
	assert_output --partial "allowed_annotations CRI-O would reject: ['samepage.io/merge']"
}

@test "manifests: containerd: the shipped table is what samepage-containerd-spec installs" {
	requires "cmd:$PY"
	local script=$PKG/containerd/samepage-containerd-spec
	run_ok "$PY" - "$PKG" <<-'EOF'
	import sys, tomllib
	pkg = sys.argv[1]
	def need(cond, what):
	    if not cond:
	        sys.exit("FAIL: " + what)
	ctd = tomllib.load(open(pkg + "/containerd/config.toml", "rb"))
	need(ctd["version"] == 2, "containerd config version 2")
	rts = ctd["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
	need(list(rts) == ["runc-samepage"], "one runtime handler, runc-samepage (never the default runc)")
	r = rts["runc-samepage"]
	need(r["runtime_type"] == "io.containerd.runc.v2", "runc v2 shim")
	need(r["pod_annotations"] == ["samepage.io/*"], "passes the pod's samepage.io/* annotations")
	need("container_annotations" not in r, "no container_annotations (they could override the pod's)")
	need(r["base_runtime_spec"] == "/etc/containerd/samepage-base-spec.json", "base spec path")
	print("ok")
	EOF
	# The file minus comments and `version` is the script's table.
	diff <(grep -v '^#' "$PKG/containerd/config.toml" | grep -v '^version = 2$' | sed '/^$/d') \
		<("$script" --config /nonexistent config) || fail "config.toml and the script's table differ"
	# The ExecStartPre of the systemd drop-in runs the script's refresh.
	run_ok grep -qx 'ExecStartPre=-/usr/libexec/samepage/samepage-containerd-spec refresh' \
		"$PKG/containerd/samepage-containerd.conf"
}

@test "manifests: containerd: install into Debian's config keeps its settings and copies SystemdCgroup; uninstall restores it" {
	requires cmd:containerd cmd:ctr "cmd:$PY"
	local d=$BATS_TEST_TMPDIR/ctd script=$PKG/containerd/samepage-containerd-spec
	mkdir -p "$d"
	# Debian's /etc/containerd/config.toml, with the systemd cgroup driver on.
	cat > "$d/config.toml" <<-'EOF'
	version = 2

	[plugins]
	  [plugins."io.containerd.grpc.v1.cri"]
	    [plugins."io.containerd.grpc.v1.cri".cni]
	      bin_dir = "/usr/lib/cni"
	      conf_dir = "/etc/cni/net.d"
	    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
	      SystemdCgroup = true
	  [plugins."io.containerd.internal.v1.opt"]
	    path = "/var/lib/containerd/opt"
	EOF
	cp "$d/config.toml" "$d/orig.toml"
	run_ok "$script" --config "$d/config.toml" --spec "$d/spec.json" --hook "$HOOK" --samepage "$SAMEPAGE" install
	run_ok "$script" --config "$d/config.toml" --spec "$d/spec.json" --hook "$HOOK" --samepage "$SAMEPAGE" install
	[ "$(grep -c 'runtimes.runc-samepage]' "$d/config.toml")" = 1 ] || fail "install is not idempotent"
	# containerd itself reads the result: both handlers, cni kept.
	run_ok containerd --config "$d/config.toml" config dump
	assert_output --partial 'bin_dir = "/usr/lib/cni"'
	assert_output --partial 'runtimes.runc-samepage]'
	assert_output --partial "base_runtime_spec = \"$d/spec.json\""
	run_ok "$PY" -c 'import sys, tomllib; r = tomllib.load(open(sys.argv[1], "rb"))["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]; assert r["runc-samepage"]["options"]["SystemdCgroup"] is True and r["runc"]["options"]["SystemdCgroup"] is True, r' "$d/config.toml"
	# The base spec: ctr's default, without its rlimits, with the hook.
	run_ok jq -e --arg h "$HOOK" '(.process | has("rlimits") | not) and .hooks.createRuntime[0].path == $h
		and .hooks.poststop[0].args[-1] == "poststop" and (.mounts | length) > 0' "$d/spec.json"
	run_ok "$script" --config "$d/config.toml" --spec "$d/spec.json" uninstall
	cmp "$d/orig.toml" "$d/config.toml" || fail "uninstall did not restore config.toml: $(diff "$d/orig.toml" "$d/config.toml")"
	[ ! -e "$d/spec.json" ] || fail "uninstall left the base spec"
	# Fail safe: no hook, no install (and config.toml untouched).
	run_fail "$script" --config "$d/config.toml" --spec "$d/spec.json" --hook /nonexistent --samepage "$SAMEPAGE" install
	cmp "$d/orig.toml" "$d/config.toml" || fail "a failed install changed config.toml"
}

@test "manifests: RuntimeClass names the containerd handler and schedules onto samepage nodes" {
	requires "cmd:$PY"
	run_ok "$PY" - "$PKG" <<-'EOF'
	import sys, tomllib, yaml
	pkg = sys.argv[1]
	def need(cond, what):
	    if not cond:
	        sys.exit("FAIL: " + what)
	rc = list(yaml.safe_load_all(open(pkg + "/kubernetes/runtimeclass.yaml")))
	need(len(rc) == 1 and rc[0]["kind"] == "RuntimeClass" and rc[0]["apiVersion"] == "node.k8s.io/v1", "one node.k8s.io/v1 RuntimeClass")
	rc = rc[0]
	ctd = tomllib.load(open(pkg + "/containerd/config.toml", "rb"))
	need(rc["handler"] in ctd["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"], "handler is the containerd runtime")
	need(rc["scheduling"]["nodeSelector"] == {"samepage.io/enabled": "true"}, "pods of the class go to samepage nodes")
	dep = yaml.safe_load(open(pkg + "/kubernetes/example-deployment.yaml"))
	need(dep["spec"]["template"]["spec"].get("runtimeClassName") == rc["metadata"]["name"], "the example uses the class")
	print("ok")
	EOF
	assert_output ok
}

@test "manifests: the DaemonSet installs the samepage.conf of the node's runtime (CRI socket, or SAMEPAGE_RUNTIME)" {
	requires "cmd:$PY"
	local d=$BATS_TEST_TMPDIR script
	# The install script's choice, run against a fake /host/run.
	script=$("$PY" -c 'import sys, yaml; docs = {x["kind"]: x for x in yaml.safe_load_all(open(sys.argv[1]))}; print(docs["DaemonSet"]["spec"]["template"]["spec"]["initContainers"][0]["command"][-1])' \
		"$PKG/kubernetes/samepage-daemonset.yaml")
	script=$(awk '/^runtime=\$\{SAMEPAGE_RUNTIME/ {on = 1} on {print} on && /^esac$/ {exit}' <<< "$script")
	[ -n "$script" ] || fail "no runtime choice in the install script"
	script="${script//\/host\/run/$d/run}"$'\n''echo "chose $runtime"'
	mkdir -p "$d/run/crio" "$d/run/containerd"
	run_fail sh -ec "$script"
	assert_output --partial "set SAMEPAGE_RUNTIME"
	"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$d/run/containerd/containerd.sock"
	run_ok sh -ec "$script"
	assert_output --partial "chose containerd"
	"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$d/run/crio/crio.sock"
	run_ok sh -ec "$script"
	assert_output --partial "chose cri-o"
	SAMEPAGE_RUNTIME=containerd run_ok sh -ec "$script"
	assert_output --partial "chose containerd"
	SAMEPAGE_RUNTIME=docker run_fail sh -ec "$script"
	assert_output --partial "want cri-o or containerd"
	# The containerd handler only on containerd nodes.
	grep -q 'if \[ "\$runtime" = containerd \] && \[ -f /host/etc-containerd/config.toml \]' "$PKG/kubernetes/samepage-daemonset.yaml" ||
		fail "the runtime handler is not limited to containerd nodes"
}

@test "manifests: DaemonSet containers get only the capabilities they need, install and uninstall in order" {
	requires "cmd:$PY"
	run_ok "$PY" - "$PKG" <<-'EOF'
	import sys, yaml
	pkg = sys.argv[1]
	def need(cond, what):
	    if not cond:
	        sys.exit("FAIL: " + what)
	want = {
	    # files into root's host directories; nsenter into pid 1's mount
	    # namespace (setns: SYS_ADMIN + SYS_CHROOT; /proc/1/ns: SYS_PTRACE)
	    "install": {"CHOWN", "FOWNER", "DAC_OVERRIDE", "SYS_ADMIN", "SYS_CHROOT", "SYS_PTRACE"},
	    "uninstall": {"SYS_ADMIN", "SYS_CHROOT", "SYS_PTRACE"},
	    # /proc/<pid>/ksm_stat is 0400: other users' need DAC_READ_SEARCH only
	    "metrics": {"DAC_READ_SEARCH"},
	    # renicing ksmd (governor.boost_nice); the knobs are root's 0644 files
	    "governor": {"SYS_NICE"},
	    "done": set(),
	}
	def pod_of(f):
	    docs = {d["kind"]: d for d in yaml.safe_load_all(open(pkg + "/kubernetes/" + f))}
	    return docs["DaemonSet"]["spec"]["template"]["spec"]
	for f in ("samepage-daemonset.yaml", "samepage-uninstall.yaml"):
	    pod = pod_of(f)
	    for c in pod.get("initContainers", []) + pod["containers"]:
	        sc = c.get("securityContext", {})
	        need(c["name"] in want, "%s: container %s has a known purpose" % (f, c["name"]))
	        need(sc.get("privileged", False) is False, "%s not privileged" % c["name"])
	        need(sc.get("allowPrivilegeEscalation") is False, "%s: no privilege escalation" % c["name"])
	        need(sc["capabilities"]["drop"] == ["ALL"], "%s drops ALL" % c["name"])
	        need(set(sc["capabilities"].get("add", [])) == want[c["name"]],
	             "%s adds exactly %s, not %s" % (c["name"], sorted(want[c["name"]]), sc["capabilities"].get("add")))
	def in_order(script, steps, what):
	    at = [script.find(s) for s in steps]
	    need(-1 not in at and at == sorted(at), what + ": " + " < ".join(steps))
	in_order(pod_of("samepage-daemonset.yaml")["initContainers"][0]["command"][-1],
	         ["samepage-hook /host/libexec", "hooks.d", "samepage.conf", "samepage-containerd-spec install",
	          "systemctl restart containerd"], "install order")
	in_order(pod_of("samepage-uninstall.yaml")["initContainers"][0]["command"][-1],
	         ["samepage-containerd-spec uninstall", "systemctl restart containerd", "hooks.d", "samepage-hook"],
	         "uninstall order")
	print("ok")
	EOF
	assert_output ok
}

@test "manifests: reading another user's ksm_stat needs DAC_READ_SEARCH, not SYS_PTRACE" {
	requires root prctl_ksm cmd:setpriv
	local pid v
	setpriv --reuid 65534 --regid 65534 --clear-groups sleep 100 &
	pid=$!
	sleep 0.2
	# Root with every capability dropped but DAC_READ_SEARCH, as the metrics container.
	run setpriv --inh-caps=-all --bounding-set=-all,+dac_read_search cat "/proc/$pid/ksm_stat"
	v=$output
	run setpriv --inh-caps=-all --bounding-set=-all cat "/proc/$pid/ksm_stat"
	kill "$pid"
	[[ $v == *ksm_merge_any* ]] || fail "no ksm_stat with DAC_READ_SEARCH: $v"
	[ "$status" -ne 0 ] || fail "another user's ksm_stat readable without DAC_READ_SEARCH: the test proves nothing"
}

@test "manifests: the governor container's capabilities: SYS_NICE raises ksmd's priority, the knobs need none" {
	requires root ksm cmd:setpriv cmd:renice "cmd:$PY"
	local caps bound ksmd v
	caps=$("$PY" - "$PKG/kubernetes/samepage-daemonset.yaml" <<-'EOF'
	import sys, yaml
	docs = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[1]))}
	c = [c for c in docs["DaemonSet"]["spec"]["template"]["spec"]["containers"] if c["name"] == "governor"][0]
	print(",".join("+" + a.lower() for a in c["securityContext"]["capabilities"]["add"]))
	EOF
	)
	[ "$caps" = +sys_nice ] || fail "governor container's capabilities: $caps"
	bound="-all${caps:+,$caps}"
	ksm_save
	ksmd=$(pgrep -x -P 2 ksmd)
	KSMD_NICE=$(ps -o ni= -p "$ksmd" | tr -d ' ')
	[ "$KSMD_NICE" -gt -20 ] || fail "ksmd already at nice -20: nothing to raise"
	# Root with only the container's capabilities, as the container.
	run_ok setpriv --inh-caps=-all --bounding-set="$bound" renice -n $((KSMD_NICE - 1)) -p "$ksmd"
	[ "$(ps -o ni= -p "$ksmd" | tr -d ' ')" = $((KSMD_NICE - 1)) ] || fail "ksmd not reniced"
	renice -n "$KSMD_NICE" -p "$ksmd" >/dev/null
	run_fail setpriv --inh-caps=-all --bounding-set=-all renice -n $((KSMD_NICE - 1)) -p "$ksmd"
	# A knob written back with its own value, with no capability at all.
	v=$(cat "$KSM/sleep_millisecs")
	run_ok setpriv --inh-caps=-all --bounding-set=-all sh -c 'echo "$1" > "$2"' sh "$v" "$KSM/sleep_millisecs"
}

@test "manifests: systemd units verify cleanly" {
	requires cmd:systemd-analyze
	local d=$BATS_TEST_TMPDIR/units f
	mkdir -p "$d"
	# Point the units at the build, the only samepage this machine has.
	for f in "$PKG"/systemd/*.service "$PKG"/systemd/*.timer "$PKG"/systemd/examples/*.service; do
		sed "s|/usr/bin/samepage|$SAMEPAGE|g" "$f" > "$d/$(basename "$f")"
	done
	run_ok systemd-analyze verify --man=no "$d"/*.service "$d"/*.timer
	assert_output ""
	run_ok grep -q "^ExecStart=$SAMEPAGE metrics --output /var/lib/node_exporter/textfile_collector/samepage.prom$" \
		"$d/samepage-metrics.service"
	run_ok grep -q '^Unit=\|^OnUnitActiveSec=' "$d/samepage-metrics.timer"
	run_ok grep -q "^ExecStart=$SAMEPAGE exec -- " "$d/ksm-example.service"
}

# The lines of the code blocks (examples) of a piece of Markdown on stdin.
code_lines() {
	awk '/^```/ {on = !on; next} on'
}

@test "manifests: man pages have every verb, option and key, each with an example" {
	local verbs v o section examples
	verbs=$("$SAMEPAGE" --help | awk '/^Verbs:/ {on = 1; next} on && /^$/ {exit} on {print $1}')
	[ -n "$verbs" ] || fail "no verbs in samepage --help"
	for v in $verbs; do
		# From "## VERB" to the next heading outside a code block.
		section=$(awk -v v="$v" '/^```/ {code = !code} !code && /^## / {on = ($2 == v)}
			!code && /^# / {on = 0} on' "$PKG/man/samepage.8.md")
		[ -n "$section" ] || fail "samepage(8) has no section for verb $v"
		examples=$(code_lines <<< "$section")
		grep -q "samepage $v" <<< "$examples" || fail "samepage(8): verb $v has no example running it"
		for o in $(help_options "$SAMEPAGE" "$v"); do
			[ "$o" = --help ] && continue
			grep -q -- "$o" <<< "$section" || fail "samepage(8): verb $v does not document $o"
			# disable takes --domain only for symmetry with enable and
			# ignores it (its --help says "enable only"): no example.
			[ "$v $o" = "disable --domain" ] && continue
			grep -q -- "$o" <<< "$examples" || fail "samepage(8): verb $v has no example with $o"
		done
	done
	examples=$(code_lines < "$PKG/man/samepage.8.md")
	for o in $(help_options "$SAMEPAGE"); do
		grep -q -- "\*\*$o\*\*" "$PKG/man/samepage.8.md" || fail "samepage(8) lacks global option $o"
		grep -q -- "samepage $o" <<< "$examples" || fail "samepage(8) has no example with global option $o"
	done
	examples=$(code_lines < "$PKG/man/samepage-hook.8.md")
	for o in $(help_options "$HOOK"); do
		grep -q -- "\*\*$o\*\*" "$PKG/man/samepage-hook.8.md" || fail "samepage-hook(8) lacks option $o"
		grep -q -- "$o" <<< "$examples" || fail "samepage-hook(8) has no example with $o"
	done
	for o in samepage.io/merge samepage.io/domain samepage.io/required createRuntime prestart poststop; do
		grep -q -- "$o" "$PKG/man/samepage-hook.8.md" || fail "samepage-hook(8) lacks $o"
	done
	# Every config key in an example of samepage.conf(5).
	examples=$(code_lines < "$PKG/man/samepage.conf.5.md")
	for o in $(jq -r '(del(.domains) | paths(type | . != "object" and . != "array") | .[-1]), (select(has("domains")) | "domains")' \
		"$PKG/samepage.conf"); do
		grep -q -- "\"$o\"" <<< "$examples" || fail "samepage.conf(5) has no example with \"$o\""
	done
}

@test "manifests: bash completion knows every verb and option" {
	requires cmd:bash bash_completion
	local verbs v o
	run_ok bash -n "$PKG/bash-completion/samepage"
	verbs=$("$SAMEPAGE" --help | awk '/^Verbs:/ {on = 1; next} on && /^$/ {exit} on {print $1}')
	complete_words() {
		bash -c 'source /usr/share/bash-completion/bash_completion; source "$0"
			COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
			_samepage; printf "%s\n" "${COMPREPLY[@]}"' "$PKG/bash-completion/samepage" "$@"
	}
	run_ok complete_words samepage ""
	for v in $verbs; do
		assert_line "$v"
	done
	for v in $verbs; do
		[ "$v" = exec ] && continue
		run_ok complete_words samepage --state-dir /tmp "$v" --
		for o in $(help_options "$SAMEPAGE" "$v"); do
			assert_line -- "$o"
		done
	done
	run_ok complete_words samepage oci-
	assert_output oci-config
}

@test "manifests: the systemd example's command runs with KSM on (MemoryKSM= counterpart)" {
	requires prctl_ksm cmd:/usr/bin/python3
	local cmd pid i merge=""
	cmd=$(sed -n 's/^ExecStart=//p' "$PKG/systemd/examples/ksm-example.service")
	[[ $cmd == "/usr/bin/samepage exec -- "* ]] || fail "unexpected ExecStart: $cmd"
	# The build's samepage, and any free port instead of 8080.
	cmd=${cmd/\/usr\/bin\/samepage/$SAMEPAGE}
	cmd=${cmd% 8080}
	$cmd 0 > "$BATS_TEST_TMPDIR/example.log" 2>&1 &
	pid=$!
	for i in $(seq 1 50); do
		grep -q 'python3' "/proc/$pid/cmdline" 2>/dev/null && merge=$(ksm_field "$pid" ksm_merge_any) && break
		sleep 0.1
	done
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	[ "$merge" = yes ] || fail "example service process: ksm_merge_any=$merge; $(cat "$BATS_TEST_TMPDIR/example.log")"
}
