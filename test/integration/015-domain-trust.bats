#!/usr/bin/env bats
# The domain comes from what the tenant cannot forge (node/domain.h): the
# namespace annotation the admin trusts on this node, narrowed at most by
# samepage.io/domain.  The spoof of issue 9 with real containers: a pod of
# namespace team-b that names `team-a` does not join team-a's domain.

load helpers

# The annotations CRI-O sets on a pod's container after copying the pod's
# own: the container type and the namespace (the key the admin trusts).
crio_pod() {
	echo io.kubernetes.cri-o.ContainerType=container io.kubernetes.pod.namespace="$1"
}

setup() {
	setup_common
	requires ksm prctl_ksm
	ksm_save
	echo '{"domain_policy": "exclusive", "namespace_annotation": "io.kubernetes.pod.namespace"}' > "$CONFIG"
}

teardown() {
	if [ -n "${SLEEPER:-}" ]; then
		kill "$SLEEPER" 2>/dev/null || true
		wait "$SLEEPER" 2>/dev/null || true
	fi
	teardown_common
}

@test "domain trust: a team-b pod naming team-a is refused and cannot join; an honest team-a pod is admitted" {
	local a spoof spoofreq honest
	a=$(make_bundle owner samepage.io/merge=true $(crio_pod team-a))
	start_container owner "$a"
	[ "$status" -eq 0 ] || fail "$output"
	[ "$(ksm_field "$(container_pid owner)" ksm_merge_any)" = yes ] || fail "team-a's pod got no KSM"
	run_ok jq -e '.containers[] | select(.id == "owner") | .enabled and .domain == "k8s/team-a"' "$STATE_DIR/state.json"

	# team-b names team-a, with containerd's namespace key as well (the
	# tenant's on a CRI-O node): it lands in its own namespace.
	spoof=$(make_bundle spoof samepage.io/merge=true samepage.io/domain=team-a \
		io.kubernetes.cri.sandbox-namespace=team-a $(crio_pod team-b))
	start_container spoof "$spoof"
	[ "$status" -eq 0 ] || fail "optional container failed: $output"
	[ "$(ksm_field "$(container_pid spoof)" ksm_merge_any)" = no ] || fail "team-b's spoof got KSM"
	run_ok jq -r '.containers[] | select(.id == "spoof") | "\(.enabled) \(.domain) \(.reason)"' "$STATE_DIR/state.json"
	assert_output --partial "false k8s/team-b/team-a domain \`k8s/team-b/team-a\` refused: domain \`k8s/team-a\` owns KSM"

	spoofreq=$(make_bundle spoofreq samepage.io/merge=true samepage.io/required=true samepage.io/domain=team-a \
		$(crio_pod team-b))
	start_container spoofreq "$spoofreq"
	[ "$status" -ne 0 ] || fail "required spoof started"
	assert_output --partial "domain \`k8s/team-b/team-a\` refused: domain \`k8s/team-a\` owns KSM on this node"

	# Naming the namespace itself narrows nothing: same domain as the owner.
	honest=$(make_bundle honest samepage.io/merge=true samepage.io/required=true samepage.io/domain=team-a \
		$(crio_pod team-a))
	start_container honest "$honest"
	[ "$status" -eq 0 ] || fail "honest team-a pod refused: $output"
	[ "$(ksm_field "$(container_pid honest)" ksm_merge_any)" = yes ]
	run_ok jq -e '[.containers[] | select(.enabled) | .domain] | unique == ["k8s/team-a"]' "$STATE_DIR/state.json"

	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" status --json --domain k8s/team-a
	echo "$output" | jq -e '[.containers[].id] | sort == ["honest", "owner"]' || fail "status --domain k8s/team-a"
}

@test "domain trust: a Kubernetes spec without the trusted namespace key is refused, a bad value fails" {
	local b
	# containerd's key on a node that trusts CRI-O's: no trusted namespace.
	b=$(make_bundle nons samepage.io/merge=true samepage.io/required=true \
		io.kubernetes.cri-o.ContainerType=container io.kubernetes.cri.sandbox-namespace=team-a)
	start_container nons "$b"
	[ "$status" -ne 0 ] || fail "Kubernetes container without the trusted key started"
	assert_output --partial "annotation \`io.kubernetes.cri-o.ContainerType\` marks a Kubernetes container, but the trusted namespace annotation \`io.kubernetes.pod.namespace\`"

	# Optional: runs, without KSM.
	b=$(make_bundle nonsopt samepage.io/merge=true io.kubernetes.cri.container-type=container)
	start_container nonsopt "$b"
	[ "$status" -eq 0 ] || fail "$output"
	[ "$(ksm_field "$(container_pid nonsopt)" ksm_merge_any)" = no ] || fail "got KSM without a namespace"

	# A namespace value outside the alphabet is plainly wrong input.
	b=$(make_bundle badns samepage.io/merge=true $(crio_pod Team_B))
	start_container badns "$b"
	[ "$status" -ne 0 ] || fail "container with a bad namespace started"
	assert_output --partial "annotation \`io.kubernetes.pod.namespace\`: invalid domain \`Team_B\`"
}

@test "domain trust: an embedded NUL is refused with the key named" {
	local b
	b=$(make_bundle nul samepage.io/merge=true $(crio_pod team-a))
	# jq writes the NUL as the JSON escape \u0000.
	jq '.annotations["samepage.io/domain"] = "web\u0000x"' "$b/config.json" > "$b/config.json.new"
	mv "$b/config.json.new" "$b/config.json"
	grep -qF 'web\u0000x' "$b/config.json" || fail "no NUL escape in the spec"
	start_container nul "$b"
	# crun cuts the value at the NUL in the hook's state; the hook reads
	# config.json itself (033-bundle-annotations.bats).
	[ "$status" -ne 0 ] || fail "container with a NUL in samepage.io/domain started"
	assert_output --partial "annotation \`samepage.io/domain\`: value contains a NUL byte"
}

@test "domain trust: namespaces in one group of samepage.conf share a domain; others do not" {
	echo '{"namespace_annotation": "io.kubernetes.pod.namespace", "domains": {"ci": ["ci-a", "ci-b"]}}' > "$CONFIG"
	local a b c
	a=$(make_bundle ca samepage.io/merge=true samepage.io/required=true $(crio_pod ci-a))
	b=$(make_bundle cb samepage.io/merge=true samepage.io/required=true $(crio_pod ci-b))
	c=$(make_bundle cc samepage.io/merge=true samepage.io/required=true $(crio_pod ci-c))
	start_container ca "$a"
	[ "$status" -eq 0 ] || fail "$output"
	start_container cb "$b"
	[ "$status" -eq 0 ] || fail "ci-b refused although grouped with ci-a: $output"
	start_container cc "$c"
	[ "$status" -ne 0 ] || fail "ci-c joined the group's domain"
	assert_output --partial "domain \`k8s/ci-c\` refused: domain \`group/ci\` owns KSM on this node (2 containers"
}

@test "domain trust: local containers get local/, enable --domain X is local/X" {
	echo '{"namespace_annotation": "io.kubernetes.pod.namespace", "domain_policy": "shared"}' > "$CONFIG"
	local b
	b=$(make_bundle plain samepage.io/merge=true)
	start_container plain "$b"
	[ "$status" -eq 0 ] || fail "$output"
	b=$(make_bundle named samepage.io/merge=true samepage.io/domain=team-a)
	start_container named "$b"
	[ "$status" -eq 0 ] || fail "$output"
	run_ok jq -c '[.containers[] | {id, domain}] | sort_by(.id)' "$STATE_DIR/state.json"
	assert_output '[{"id":"named","domain":"local/team-a"},{"id":"plain","domain":"local/default"}]'

	sleep 1000 &
	SLEEPER=$!
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" enable --pid "$SLEEPER" --domain team-a
	assert_output --partial "(domain local/team-a)"
	run_ok "$SAMEPAGE" --state-dir "$STATE_DIR" --config "$CONFIG" disable --pid "$SLEEPER"
}
