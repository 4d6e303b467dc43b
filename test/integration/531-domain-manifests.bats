#!/usr/bin/env bats
# What the node admin ships for security domains, checked without a cluster:
# the ValidatingAdmissionPolicy and its binding (parsed with python3-yaml,
# the CEL expressions checked for the label, the keys and the alphabet, and
# the domain regex run against good and bad values), and the per-runtime
# samepage.conf files (each trusts exactly its runtime's namespace key and
# the samepage parser accepts it).

load helpers

PY=/usr/bin/python3
PKG=$BATS_TEST_DIRNAME/../../packaging

@test "admission policy: a VAP and its binding that gate samepage.io/merge on the namespace label" {
	requires "cmd:$PY"
	"$PY" -c 'import yaml' 2>/dev/null || fail "needs python3-yaml (make deps)"
	run_ok "$PY" - "$PKG/kubernetes/admission-policy.yaml" <<-'EOF'
	import re, sys, yaml
	def need(cond, what):
	    if not cond:
	        sys.exit("FAIL: " + what)
	docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
	by_kind = {d["kind"]: d for d in docs}
	need(set(by_kind) == {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}, "a policy and a binding")
	for d in docs:
	    need(d["apiVersion"] == "admissionregistration.k8s.io/v1", d["kind"] + " is admissionregistration.k8s.io/v1")
	pol, bind = by_kind["ValidatingAdmissionPolicy"], by_kind["ValidatingAdmissionPolicyBinding"]
	spec = pol["spec"]
	need(bind["spec"]["policyName"] == pol["metadata"]["name"], "binding names the policy")
	need(bind["spec"]["validationActions"] == ["Deny"], "binding denies")
	need(spec.get("failurePolicy") == "Fail", "failurePolicy Fail")
	rules = spec["matchConstraints"]["resourceRules"]
	need(any("pods" in r["resources"] and "CREATE" in r["operations"] and r["apiGroups"] == [""] for r in rules),
	     "matches pod creation")
	variables = {v["name"]: v["expression"] for v in spec.get("variables", [])}
	def expand(e):
	    # variables.X in an expression stands for X's expression
	    return re.sub(r"variables\.([a-z_]+)", lambda m: "(" + variables[m.group(1)] + ")", e)
	exprs = [expand(v["expression"]) for v in spec["validations"]]
	for v in spec["validations"]:
	    need(v.get("message") or v.get("messageExpression"), "every validation has a message")
	merge = [e for e in exprs if "'samepage.io/merge' in" in e]
	need(len(merge) >= 1, "a validation about samepage.io/merge")
	need(any("namespaceObject.metadata.labels['samepage.io/allowed'] == 'true'" in e for e in merge),
	     "samepage.io/merge is gated on the namespace label samepage.io/allowed=true")
	dom = [e for e in exprs if "['samepage.io/domain'].matches(" in e]
	need(len(dom) == 1, "one validation matches samepage.io/domain against a regex")
	m = re.search(r"\.matches\('([^']*)'\)", dom[0])
	regex = m.group(1)
	need(regex.startswith("^") and regex.endswith("$"), "the regex is anchored at both ends")
	# CEL's matches() is RE2, where $ is the end of the text; Python's $ also
	# matches before a final newline, so compare with \Z.
	rx = re.compile(regex[:-1] + r"\Z")
	for good in ["team-a", "a", "0", "a" * 63, "web-1"]:
	    need(rx.match(good), "the regex accepts " + repr(good))
	for bad in ["", "Team_A", "a" * 64, "-a", "a-", "a.b", "a/b", "../a", "k8s/team-a", "team-a\n", "team-a\x00x", " a"]:
	    need(not rx.match(bad), "the regex refuses " + repr(bad))
	booleans = [e for e in exprs if "'samepage.io/required'" in e]
	need(booleans and "['true', 'false']" in booleans[0], "merge and required must be true or false")
	runtime_keys = [e for e in exprs if "'io.kubernetes.pod.namespace'" in e]
	need(runtime_keys and all(k in runtime_keys[0] for k in [
	    "'io.kubernetes.cri.sandbox-namespace'", "'io.kubernetes.cri-o.ContainerType'",
	    "'io.kubernetes.cri.container-type'"]), "pods may not set the runtimes' own keys")
	print("ok")
	EOF
	assert_output ok
}

@test "per-runtime samepage.conf: each trusts its runtime's namespace key, and the parser accepts it" {
	local rt key
	for rt in cri-o containerd; do
		case $rt in
		cri-o) key=io.kubernetes.pod.namespace ;;
		containerd) key=io.kubernetes.cri.sandbox-namespace ;;
		esac
		run_ok jq -e --arg k "$key" '.namespace_annotation == $k' "$PKG/$rt/samepage.conf"
		# The same as the generic file in every other key.
		run_ok jq -n -e --slurpfile a "$PKG/$rt/samepage.conf" --slurpfile b "$PKG/samepage.conf" \
			'($a[0] | del(.namespace_annotation)) == ($b[0] | del(.namespace_annotation))'
		run_ok "$SAMEPAGE" --config "$PKG/$rt/samepage.conf" doctor --json
		echo "$output" | jq -e '.checks[] | select(.name == "config") | .status == "ok"' ||
			fail "the parser rejects $rt/samepage.conf"
	done
	# The generic file (plain runc, crun, podman) trusts no namespace key.
	run_ok jq -e '.namespace_annotation == null' "$PKG/samepage.conf"
}
