#!/usr/bin/env bats
# `samepage oci-config`: wiring the hook into a plain OCI bundle, checked by
# running the bundle under the real runtime (RUNTIME=runc by default; one
# test runs crun as well).

load helpers

setup() {
	setup_common
	[ -x "$SAMEPAGE" ] || fail "$SAMEPAGE not built (run make)"
	# The hook must not touch ksmd here (no /sys/kernel/mm/ksm knob, so no
	# need for the machine-wide KSM lock): 520-deb.bats runs the default.
	echo '{"manage_ksmd": false}' > "$CONFIG"
}

teardown() {
	teardown_common
}

# A busybox bundle from make_bundle with its hooks taken out again, so that
# only oci-config puts the hook in.
bare_bundle() {
	local b
	b=$(make_bundle "$@")
	jq 'del(.hooks)' "$b/config.json" > "$b/config.json.new" && mv "$b/config.json.new" "$b/config.json"
	echo "$b"
}

wire() {
	run_ok "$SAMEPAGE" oci-config --hook "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" "$@"
}

@test "oci-config: --help names every option with an example" {
	run_ok "$SAMEPAGE" oci-config --help
	for o in --hook --state-dir --config --timeout --stdout --remove; do
		assert_output --partial -- "$o"
	done
	assert_output --partial "samepage oci-config config.json"
	run_ok "$SAMEPAGE" --help
	assert_output --partial "oci-config"
}

@test "oci-config: a wired bundle's annotated container gets KSM under $RUNTIME" {
	requires prctl_ksm
	local b pid
	b=$(bare_bundle wired samepage.io/merge=true -- sleep 1000)
	wire "$b/config.json"
	run_ok jq -e --arg h "$HOOK" '.hooks.createRuntime[0].path == $h and .hooks.poststop[0].path == $h
		and .hooks.createRuntime[0].args[-1] == "createRuntime" and .hooks.poststop[0].args[-1] == "poststop"' "$b/config.json"
	start_container wired "$b"
	[ "$status" -eq 0 ] || fail "container did not start: $output"
	pid=$(container_pid wired)
	[ "$(ksm_field "$pid" ksm_merge_any)" = yes ] || fail "pid $pid: $(cat /proc/$pid/ksm_stat)"
	run_ok jq -e '.containers[] | select(.id == "wired") | .enabled' "$STATE_DIR/state.json"
	# poststop, wired by oci-config too, forgets the container.
	run_ok rt delete -f wired
	run_ok jq -e '[.containers[] | select(.id == "wired")] | length == 0' "$STATE_DIR/state.json"
}

@test "oci-config: a wired bundle without the annotation stays off" {
	requires prctl_ksm
	local b pid
	b=$(bare_bundle plain -- sleep 1000)
	# A bundle directory stands for its config.json.
	wire "$b"
	run_ok jq -e '.hooks.createRuntime | length == 1' "$b/config.json"
	start_container plain "$b"
	[ "$status" -eq 0 ] || fail "container did not start: $output"
	pid=$(container_pid plain)
	[ "$(ksm_field "$pid" ksm_merge_any)" = no ] || fail "pid $pid: $(cat /proc/$pid/ksm_stat)"
}

@test "oci-config: a wired bundle gets KSM under crun too" {
	requires prctl_ksm cmd:crun
	RUNTIME=crun
	local b pid
	b=$(bare_bundle wiredcrun samepage.io/merge=true -- sleep 1000)
	wire "$b/config.json"
	start_container wiredcrun "$b"
	[ "$status" -eq 0 ] || fail "container did not start: $output"
	pid=$(container_pid wiredcrun)
	[ "$(ksm_field "$pid" ksm_merge_any)" = yes ] || fail "pid $pid: $(cat /proc/$pid/ksm_stat)"
}

@test "oci-config: idempotent, keeps other hooks, --remove restores the file" {
	local b c=$BATS_TEST_TMPDIR
	b=$(bare_bundle idem)
	jq '.hooks = {prestart: [{path: "/bin/true"}], poststop: [{path: "/bin/true", args: ["true"]}]}' \
		"$b/config.json" > "$c/orig.json"
	cp "$c/orig.json" "$c/config.json"
	chmod 0600 "$c/config.json"
	wire "$c/config.json"
	cp "$c/config.json" "$c/once.json"
	wire "$c/config.json"
	cmp "$c/once.json" "$c/config.json" || fail "second run changed the file: $(diff "$c/once.json" "$c/config.json")"
	[ "$(stat -c %a "$c/config.json")" = 600 ] || fail "mode not kept: $(stat -c %a "$c/config.json")"
	# One samepage entry per stage, the foreign hooks still in place and first.
	run_ok jq -e '(.hooks.createRuntime | length) == 1 and (.hooks.poststop | length) == 2
		and .hooks.poststop[0].path == "/bin/true" and .hooks.prestart == [{path: "/bin/true"}]' "$c/config.json"
	# Everything outside .hooks is untouched.
	run_ok diff <(jq -S 'del(.hooks)' "$c/orig.json") <(jq -S 'del(.hooks)' "$c/config.json")
	# A different hook path or state dir replaces the entries, no second hook.
	run_ok "$SAMEPAGE" oci-config --hook /opt/sp/samepage-hook --timeout 5 "$c/config.json"
	run_ok jq -e '(.hooks.createRuntime | length) == 1 and .hooks.createRuntime[0].path == "/opt/sp/samepage-hook"
		and .hooks.createRuntime[0].args == ["samepage-hook", "createRuntime"] and .hooks.createRuntime[0].timeout == 5' "$c/config.json"
	run_ok "$SAMEPAGE" oci-config --remove "$c/config.json"
	run_ok diff <(jq -S . "$c/orig.json") <(jq -S . "$c/config.json")
}

@test "oci-config: stdin to stdout, and --stdout leaves the file alone" {
	local b
	b=$(bare_bundle pipe)
	cp "$b/config.json" "$BATS_TEST_TMPDIR/before.json"
	run_ok "$SAMEPAGE" oci-config --hook /x/samepage-hook - < "$b/config.json"
	echo "$output" | jq -e '.hooks.createRuntime[0].path == "/x/samepage-hook"' || fail "stdin mode: $output"
	run_ok "$SAMEPAGE" oci-config --hook /x/samepage-hook --stdout "$b/config.json"
	echo "$output" | jq -e '.hooks.poststop[0].args == ["samepage-hook", "poststop"]' || fail "--stdout: $output"
	cmp "$BATS_TEST_TMPDIR/before.json" "$b/config.json" || fail "--stdout modified the file"
}

@test "oci-config: the default hook is the one installed beside samepage" {
	local d=$BATS_TEST_TMPDIR/prefix
	install -D "$SAMEPAGE" "$d/bin/samepage"
	install -D "$HOOK" "$d/libexec/samepage/samepage-hook"
	echo '{"ociVersion": "1.0.2"}' > "$BATS_TEST_TMPDIR/c.json"
	run_ok "$d/bin/samepage" oci-config --stdout "$BATS_TEST_TMPDIR/c.json"
	echo "$output" | jq -e --arg h "$d/libexec/samepage/samepage-hook" '.hooks.createRuntime[0].path == $h' ||
		fail "default hook path: $output"
}

@test "oci-config: invalid input is refused with the reason, the file unchanged" {
	local f=$BATS_TEST_TMPDIR/bad.json
	echo '{"ociVersion": "1.0.2", ' > "$f"
	run_fail "$SAMEPAGE" oci-config "$f"
	assert_output --partial "$f: not valid JSON"
	echo '[1, 2]' > "$f"
	run_fail "$SAMEPAGE" oci-config "$f"
	assert_output --partial "not a JSON object"
	echo '{"process": {}}' > "$f"
	run_fail "$SAMEPAGE" oci-config "$f"
	assert_output --partial "no \`ociVersion\`"
	echo '{"ociVersion": "1.0.2", "hooks": {"poststop": {"path": "/bin/true"}}}' > "$f"
	run_fail "$SAMEPAGE" oci-config "$f"
	assert_output --partial "\`hooks.poststop\` must be an array"
	echo '{"ociVersion": "1.0.2", "hooks": {"prestart": [{"args": []}]}}' > "$f"
	cp "$f" "$f.orig"
	run_fail "$SAMEPAGE" oci-config "$f"
	assert_output --partial "\`hooks.prestart[0]\` must be an object with a string \`path\`"
	cmp "$f" "$f.orig"
	run_fail "$SAMEPAGE" oci-config --hook relative/samepage-hook "$f"
	assert_output --partial "--hook must be an absolute path"
	run_fail "$SAMEPAGE" oci-config --state-dir run/sp "$f"
	assert_output --partial "--state-dir must be an absolute path"
	run_fail "$SAMEPAGE" oci-config --timeout 0 "$f"
	assert_output --partial "--timeout"
	run_fail "$SAMEPAGE" oci-config "$BATS_TEST_TMPDIR/missing.json"
	assert_output --partial "missing.json"
}
