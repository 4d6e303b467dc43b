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
	# The keys node/config.c accepts: top level, and governor.<key>.
	known=$(awk '/^static int parse_governor/ {g = 1} /^int sp_config_parse/ {g = 0}
		match($0, /strcmp\(key, "[a-z_]+"\)/) {
			k = substr($0, RSTART + 13, RLENGTH - 15)
			if (k != "governor") print (g ? "governor." k : k)
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
	run_ok "$PY" - "$PKG/kubernetes" "$PKG/cri-o/samepage.conf" <<-'EOF'
	import json, sys, yaml
	kdir, conf = sys.argv[1], sys.argv[2]
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
	metrics = " ".join(pod["containers"][0]["command"])
	need("samepage" in metrics and "metrics --output /textfile/" in metrics, "metrics container runs samepage metrics --output")
	mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
	need(host["/var/lib/node_exporter/textfile_collector"] == mounts["/textfile"], "metrics output on the textfile hostPath")
	need(host["/run/samepage"] == mounts["/run/samepage"], "metrics reads the node state")
	need(json.loads(cm["data"]["samepage.conf"]) == json.load(open(conf)), "ConfigMap carries the shipped CRI-O samepage.conf")
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
	assert_output ok
}

@test "manifests: CRI-O and containerd TOML parse and wire hooks and annotations" {
	requires "cmd:$PY"
	run_ok "$PY" - "$PKG" <<-'EOF'
	import sys, tomllib
	pkg = sys.argv[1]
	def need(cond, what):
	    if not cond:
	        sys.exit("FAIL: " + what)
	crio = tomllib.load(open(pkg + "/cri-o/50-samepage.conf", "rb"))
	rt = crio["crio"]["runtime"]
	need("/usr/share/containers/oci/hooks.d" in rt["hooks_dir"] and "/etc/containers/oci/hooks.d" in rt["hooks_dir"],
	     "CRI-O hooks_dir has the package's and the DaemonSet's directory")
	handlers = rt["runtimes"]
	need(len(handlers) >= 1, "a runtime handler")
	for name, h in handlers.items():
	    need(set(h["allowed_annotations"]) >= {"samepage.io/merge", "samepage.io/domain", "samepage.io/required"},
	         "handler %s allows the samepage annotations" % name)
	    need(h.get("runtime_path", "/").startswith("/"), "handler %s runtime_path absolute" % name)
	ctd = tomllib.load(open(pkg + "/containerd/config.toml", "rb"))
	need(ctd["version"] == 2, "containerd config version 2")
	rts = ctd["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]
	for name, r in rts.items():
	    need(r["runtime_type"].startswith("io.containerd.runc."), "runtime %s is a runc shim" % name)
	    need("samepage.io/*" in r["pod_annotations"], "runtime %s passes pod annotations samepage.io/*" % name)
	    need(r["base_runtime_spec"].startswith("/"), "runtime %s has an absolute base_runtime_spec" % name)
	print("ok")
	EOF
	assert_output ok
}

@test "manifests: the containerd base spec recipe (a default spec through oci-config on stdin)" {
	requires cmd:runc
	# `ctr oci spec` is not installed here; runc's default spec stands in.
	(cd "$BATS_TEST_TMPDIR" && runc spec)
	run_ok sh -c "'$SAMEPAGE' oci-config --hook /usr/libexec/samepage/samepage-hook - < '$BATS_TEST_TMPDIR/config.json' > '$BATS_TEST_TMPDIR/base.json'"
	run_ok jq -e '.hooks.createRuntime[0].path == "/usr/libexec/samepage/samepage-hook"
		and .hooks.poststop[0].args == ["samepage-hook", "poststop"] and .ociVersion != null' "$BATS_TEST_TMPDIR/base.json"
	grep -q 'samepage oci-config - > /etc/containerd/samepage-base-spec.json' "$PKG/containerd/config.toml" ||
		fail "the recipe in containerd/config.toml changed; update this test"
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
