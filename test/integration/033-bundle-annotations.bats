#!/usr/bin/env bats
# What an admission rule saw is what the hook judges (oci/bundle.h): crun
# keeps annotations as C strings and cuts `team-a\u0000x` to `team-a` in
# the hook's state, so the hook compares every samepage.io/ annotation of
# the state with the bundle's config.json, which it opens itself.

load helpers

setup() {
	setup_common
	requires ksm prctl_ksm
	ksm_save
	echo '{"domain_policy": "shared", "namespace_annotation": "io.kubernetes.pod.namespace"}' > "$CONFIG"
}

teardown() {
	teardown_common
}

# set_annotation BUNDLE KEY JQ-STRING: write an annotation with jq (a NUL
# is written as the JSON escape \u0000, as a Kubernetes API object has it).
set_annotation() {
	jq --arg k "$2" ".annotations[\$k] = $3" "$1/config.json" > "$1/config.json.new"
	mv "$1/config.json.new" "$1/config.json"
}

@test "bundle annotations: a NUL in samepage.io/domain is refused under $RUNTIME, naming the key" {
	local b
	b=$(make_bundle nul samepage.io/merge=true io.kubernetes.cri-o.ContainerType=container \
		io.kubernetes.pod.namespace=team-a)
	set_annotation "$b" samepage.io/domain '"team-a\u0000x"'
	grep -qF 'team-a\u0000x' "$b/config.json" || fail "no NUL escape in the spec"
	start_container nul "$b"
	[ "$status" -ne 0 ] || fail "a container whose samepage.io/domain holds a NUL started"
	assert_output --partial "annotation \`samepage.io/domain\`: value contains a NUL byte (in \`$b/config.json\`)"
	[ ! -s "$STATE_DIR/state.json" ] || run_fail jq -e '.containers[] | select(.id == "nul")' "$STATE_DIR/state.json"

	# the same container without the NUL starts and merges
	set_annotation "$b" samepage.io/domain '"team-a"'
	rt delete -f nul >/dev/null 2>&1 || true
	start_container nul "$b"
	[ "$status" -eq 0 ] || fail "$output"
	[ "$(ksm_field "$(container_pid nul)" ksm_merge_any)" = yes ]
	run_ok jq -e '.containers[] | select(.id == "nul") | .domain == "k8s/team-a"' "$STATE_DIR/state.json"
}

# A fake state, as crun writes it for the spec above: the value cut.
fake_state() {
	jq -cn --arg b "$1" --arg d "$2" \
		'{ociVersion: "1.0.2", id: "fake", status: "creating", pid: 1, bundle: $b,
		  annotations: {"samepage.io/merge": "true", "samepage.io/domain": $d}}'
}

@test "bundle annotations: a fake state whose value differs from config.json is refused" {
	local b=$BATS_TEST_TMPDIR/fake
	mkdir -m 0755 "$b"
	echo '{"annotations": {"samepage.io/merge": "true", "samepage.io/domain": "team-a\u0000x"}}' > "$b/config.json"
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime <<< "$(fake_state "$b" team-a)"
	[ "$status" -ne 0 ] || fail "the cut value was accepted"
	assert_output --partial "annotation \`samepage.io/domain\`: value contains a NUL byte (in \`$b/config.json\`)"

	echo '{"annotations": {"samepage.io/merge": "true", "samepage.io/domain": "team-b"}}' > "$b/config.json"
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime <<< "$(fake_state "$b" team-a)"
	[ "$status" -ne 0 ] || fail "a state that differs from config.json was accepted"
	assert_output --partial "annotation \`samepage.io/domain\`: the runtime's state differs from \`$b/config.json\`"

	# a symlinked config.json is not followed
	echo '{"annotations": {"samepage.io/merge": "true", "samepage.io/domain": "team-a"}}' > "$b/real.json"
	rm "$b/config.json"
	ln -s real.json "$b/config.json"
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime <<< "$(fake_state "$b" team-a)"
	[ "$status" -ne 0 ] || fail "a symlinked config.json was followed"
	assert_output --partial "open \`$b/config.json\`: Too many levels of symbolic links"

	# a bundle others can write to is not trusted
	rm "$b/config.json"
	cp "$b/real.json" "$b/config.json"
	chmod 0777 "$b"
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime <<< "$(fake_state "$b" team-a)"
	[ "$status" -ne 0 ] || fail "a world-writable bundle was trusted"
	assert_output --partial "bundle \`$b\` is writable by group or others (mode 0777)"

	# the same texts on both sides pass this check (and then fail on pid 1,
	# which is no container's init of ours)
	chmod 0755 "$b"
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime <<< "$(fake_state "$b" team-a)"
	refute_output --partial "annotation"
	refute_output --partial "bundle"
}
