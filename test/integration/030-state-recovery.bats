#!/usr/bin/env bats
# The node state survives what can happen to it: a broken, empty, oversized
# or deleted file, a missing, read-only or full state dir, a planted symlink,
# a foreign owner, a lock held by someone else.  Annotated containers start
# (with KSM when the state can be written), unannotated ones are never
# refused, and a broken file is kept for inspection.

load helpers

setup() {
	setup_common
	requires ksm prctl_ksm
	ksm_save
	MOUNTS=()
	HOLDER=""
}

teardown() {
	local m
	[ -z "$HOLDER" ] || { kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null || true; }
	teardown_common
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" || true
	done
}

# A small tmpfs of our own under the test's tmpdir (unmounted in teardown).
tmpfs_at() {
	local dir=$1 size=$2
	mkdir -p "$dir"
	mount -t tmpfs -o "size=$size,mode=0700" samepage-test "$dir"
	MOUNTS+=("$dir")
}

start_annotated() {
	local name=$1 b
	shift
	b=$(make_bundle "$name" samepage.io/merge=true "$@")
	start_container "$name" "$b"
}

merge_any_of() {
	ksm_field "$(container_pid "$1")" ksm_merge_any
}

# A broken state.json: the annotated container still gets KSM, the file is
# moved aside (named in the record doctor reads) and a fresh state is saved.
recover_from() {
	local what=$1 aside
	start_annotated rec
	[ "$status" -eq 0 ] || fail "container refused with a $what state: $output"
	[ "$(merge_any_of rec)" = yes ] || fail "no KSM after recovering a $what state"
	aside=$(ls "$STATE_DIR"/state.json.broken-* 2>/dev/null | head -n1)
	[ -n "$aside" ] || fail "the $what file was not kept: $(ls -la "$STATE_DIR")"
	run_ok jq -e --arg aside "$aside" '.recovered.what | contains($aside)' "$STATE_DIR/state.json"
	run_ok jq -e '[.containers[] | select(.id == "rec" and .enabled)] | length == 1' "$STATE_DIR/state.json"
	run_ok "$SAMEPAGE" --config "$CONFIG" --state-dir "$STATE_DIR" doctor --json
	run_ok jq -e --arg aside "$aside" '.checks[] | select(.name == "state") | .status == "warn" and (.reason | contains($aside))' <<< "$output"
}

@test "state: a corrupt state.json is moved aside and rebuilt; the container gets KSM" {
	echo '{"version": 1, "containers": [ {"id": ' > "$STATE_DIR/state.json"
	recover_from corrupt
}

@test "state: a truncated state.json is moved aside and rebuilt" {
	printf '{ "version": 1, "containers": [ { "id": "x", "domain": "d", "pid": 1' > "$STATE_DIR/state.json"
	recover_from truncated
}

@test "state: an empty state.json is moved aside and rebuilt" {
	: > "$STATE_DIR/state.json"
	recover_from empty
}

@test "state: an oversized state.json is moved aside and rebuilt" {
	head -c $((16 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' > "$STATE_DIR/state.json"
	recover_from oversized
}

@test "state: a missing state dir is recreated 0700, the container gets KSM" {
	rm -rf "$STATE_DIR"
	start_annotated missing
	[ "$status" -eq 0 ] || fail "$output"
	[ "$(merge_any_of missing)" = yes ]
	[ "$(stat -c %a "$STATE_DIR")" = 700 ] || fail "state dir mode $(stat -c %a "$STATE_DIR")"
	[ "$(stat -c %a "$STATE_DIR/state.json")" = 600 ] || fail "state file mode $(stat -c %a "$STATE_DIR/state.json")"
}

# Without a record, nothing is injected: the container runs without KSM
# (warned), fails only when it is `required`, and one that did not ask
# never notices.
expect_unwritable() {
	local why=$1
	start_annotated noted
	[ "$status" -eq 0 ] || fail "container refused although not required ($why): $output"
	[ "$(merge_any_of noted)" = no ] || fail "KSM injected without a record ($why)"
	start_annotated strict samepage.io/required=true
	[ "$status" -ne 0 ] || fail "required container started although the state could not be written ($why)"
	STRICT_OUTPUT=$output
	b=$(make_bundle plain)
	start_container plain "$b"
	[ "$status" -eq 0 ] || fail "unannotated container refused ($why): $output"
}

@test "state: a read-only state dir: warned, no KSM without a record, required fails" {
	tmpfs_at "$STATE_DIR" 1m
	mount -o remount,ro "$STATE_DIR"
	expect_unwritable read-only
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime \
		<<< '{"id":"ro","status":"creating","pid":1,"annotations":{"samepage.io/merge":"true"}}'
	[ "$status" -eq 0 ] || fail "$output"
	assert_output --partial "Read-only file system"
}

@test "state: a full state dir: warned, no KSM without a record, required fails" {
	tmpfs_at "$STATE_DIR" 64k
	head -c 1m /dev/zero > "$STATE_DIR/filler" 2>/dev/null || true
	expect_unwritable full
	[[ "$STRICT_OUTPUT" == *"record intent: save state: write"*"No space left on device"* ]] ||
		fail "the required container's failure does not say why: $STRICT_OUTPUT"
}

@test "state: a symlinked or foreign-owned state dir is refused with a clear message" {
	local real=$BATS_TEST_TMPDIR/elsewhere
	rm -rf "$STATE_DIR"
	mkdir -m 0700 "$real"
	ln -s "$real" "$STATE_DIR"
	expect_unwritable symlink
	[ ! -e "$real/state.json" ] || fail "the hook wrote through a symlinked state dir"
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime \
		<<< '{"id":"sym","status":"creating","pid":1,"annotations":{"samepage.io/merge":"true"}}'
	assert_output --partial "\`$STATE_DIR\` is a symlink, refusing to use it"

	rm "$STATE_DIR"
	mkdir -m 0700 "$STATE_DIR"
	chown 65534:65534 "$STATE_DIR"
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime \
		<<< '{"id":"foreign","status":"creating","pid":1,"annotations":{"samepage.io/merge":"true"}}'
	[ "$status" -eq 0 ] || fail "$output"
	assert_output --partial "is owned by uid 65534"
	[ ! -e "$STATE_DIR/state.json" ] || fail "the hook wrote into a foreign-owned dir"
}

@test "state: a planted symlink at state.json is replaced, its target untouched" {
	local victim=$BATS_TEST_TMPDIR/victim
	echo secret > "$victim"
	chmod 0600 "$victim"
	ln -s "$victim" "$STATE_DIR/state.json"
	start_annotated planted
	[ "$status" -eq 0 ] || fail "$output"
	[ "$(cat "$victim")" = secret ] || fail "root wrote through the planted symlink"
	[ "$(stat -c %a "$victim")" = 600 ] || fail "root chmod'ed the symlink's target"
	[ ! -L "$STATE_DIR/state.json" ] || fail "state.json is still the symlink"
	[ "$(stat -c %a "$STATE_DIR/state.json")" = 600 ]
}

@test "state: the lock held by someone else: the hook gives up within lock_timeout_ms, an unannotated container is not blocked" {
	echo '{"lock_timeout_ms": 500}' > "$CONFIG"
	touch "$STATE_DIR/lock"
	flock "$STATE_DIR/lock" sleep 120 &
	HOLDER=$!
	sleep 0.3
	local t0 t1
	t0=$(date +%s%N)
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime \
		<<< "{\"id\":\"locked\",\"status\":\"creating\",\"pid\":$$,\"annotations\":{\"samepage.io/merge\":\"true\"}}"
	t1=$(date +%s%N)
	[ "$status" -eq 0 ] || fail "$output"
	assert_output --partial "/lock\` is held by another process for more than 500 ms"
	[ $(((t1 - t0) / 1000000)) -lt 2000 ] || fail "the hook waited $(((t1 - t0) / 1000000)) ms"
	run "$HOOK" --state-dir "$STATE_DIR" --config "$CONFIG" createRuntime \
		<<< "{\"id\":\"locked\",\"status\":\"creating\",\"pid\":$$,\"annotations\":{\"samepage.io/merge\":\"true\",\"samepage.io/required\":\"true\"}}"
	[ "$status" -ne 0 ] || fail "required container passed without the lock"

	# were it to wait for the lock, it would wait 5 s
	echo '{"lock_timeout_ms": 5000}' > "$CONFIG"
	local b
	b=$(make_bundle plain samepage.io/domain=Bad_Domain)
	t0=$(date +%s%N)
	start_container plain "$b"
	t1=$(date +%s%N)
	[ "$status" -eq 0 ] || fail "$output"
	[ $(((t1 - t0) / 1000000)) -lt 4000 ] || fail "an unannotated container waited $(((t1 - t0) / 1000000)) ms for the lock"
}
