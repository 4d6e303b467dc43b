#!/usr/bin/env bats
# samepage estimate: what KSM could save on running containers, before it
# is on.  Figures against workloads with known memory (fillmem: distinct
# pages inside a process, identical across processes with the same seed),
# an empty node, processes that exit while they are scanned, and the JSON
# layout against the schema in docs/estimate.md.

load helpers

MIB_PAGES=$((1048576 / $(getconf PAGESIZE)))

setup() {
	setup_common
	EMPTY_ROOT=$BATS_TEST_TMPDIR/empty-root
	mkdir -p "$EMPTY_ROOT"
	HOST_PIDS=()
}

teardown() {
	local p
	for p in "${HOST_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	teardown_common
}

estimate() {
	"$SAMEPAGE" --state-dir "$STATE_DIR" estimate --quiet "$@"
}

# within A B PERCENT: |A - B| <= PERCENT % of B
within() {
	awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= b * p / 100) }'
}

# Start fillmem on the host (not in a container); its pid goes to HOST_PIDS.
host_fillmem() {
	local log=$BATS_TEST_TMPDIR/host-$RANDOM.log i
	"$(fillmem_bin)" "$@" > "$log" 3>&- &
	HOST_PIDS+=($!)
	for i in $(seq 1 300); do
		grep -q '^ready' "$log" && return 0
		sleep 0.1
	done
	fail "fillmem $* not ready"
}

@test "estimate: --help states the cost per page and the capabilities; bad options" {
	run_ok "$SAMEPAGE" estimate --help
	assert_output --regexp "most [0-9]+ bytes per page"
	assert_output --partial "CAP_SYS_PTRACE"
	assert_output --partial "CAP_SYS_ADMIN"
	run "$SAMEPAGE" estimate --sample 0
	[ "$status" -eq 2 ] || fail "--sample 0: exit $status"
	run "$SAMEPAGE" estimate --bogus
	[ "$status" -eq 2 ] || fail "bad option: exit $status"
	run_fail estimate --runtime-root "$EMPTY_ROOT" no-such-container
	assert_output --partial "\`no-such-container\`: no running container"
}

@test "estimate: an empty node has no containers and nothing to save" {
	run_ok estimate --runtime-root "$EMPTY_ROOT"
	assert_output --partial "No running containers"
	run_ok estimate --runtime-root "$EMPTY_ROOT" --json
	echo "$output" | jq -e '.version == 1 and .containers == [] and .domains == [] and .node.containers == 0
		and .node.anon_pages == 0 and .node.saving_bytes == 0 and .complete == true' || fail "unexpected JSON"
}

@test "estimate: two identical containers and a distinct one give the known figures" {
	local a1 a2 b json
	a1=$(make_bundle twin1 samepage.io/domain=team-a -- fillmem 32 7)
	a2=$(make_bundle twin2 samepage.io/domain=team-a -- fillmem 32 7)
	b=$(make_bundle other samepage.io/domain=team-b -- fillmem 32 9)
	start_container twin1 "$a1"
	start_container twin2 "$a2"
	start_container other "$b"
	wait_ready twin1
	wait_ready twin2
	wait_ready other
	run_ok estimate --runtime-root "$RT_ROOT" --json
	json=$output
	# Domains come from the annotations, as the hook derives them.
	echo "$json" | jq -e '[.containers[] | {id, domain}] | sort_by(.id) ==
		[{id: "other", domain: "local/team-b"}, {id: "twin1", domain: "local/team-a"}, {id: "twin2", domain: "local/team-a"}]' \
		|| fail "containers or domains wrong"
	echo "$json" | jq -e '.frames_known and .complete and ([.containers[].processes] == [1, 1, 1])' || fail "not a full scan"
	# Each container: 32 MiB of anonymous memory (±1 %).
	for c in twin1 twin2 other; do
		within "$(echo "$json" | jq --arg c $c '.containers[] | select(.id == $c) | .anon_pages')" \
			$((32 * MIB_PAGES)) 1 || fail "$c: anon not 32 MiB"
	done
	# team-a: the twins' 32 MiB are one copy too many; team-b alone saves nothing.
	within "$(echo "$json" | jq '.domains[] | select(.domain == "local/team-a") | .saving_pages')" $((32 * MIB_PAGES)) 1 \
		|| fail "team-a saving not 32 MiB"
	echo "$json" | jq -e --argjson p $MIB_PAGES '.domains[] | select(.domain == "local/team-b") | .saving_pages < 0.01 * 32 * $p' \
		|| fail "team-b saves something"
	within "$(echo "$json" | jq .node.saving_pages)" $((32 * MIB_PAGES)) 1 || fail "node saving"
	# Ignoring domains adds nothing here (seed 9 shares nothing with 7)...
	within "$(echo "$json" | jq .node.saving_ignoring_domains_bytes)" "$(echo "$json" | jq .node.saving_bytes)" 1 \
		|| fail "ignoring domains differs"
	# ...and each twin holds half of its domain's saving.
	within "$(echo "$json" | jq '.containers[] | select(.id == "twin1") | .saving_pages')" $((16 * MIB_PAGES)) 1 \
		|| fail "twin1 share"
	# The table shows the same containers.
	run_ok estimate --runtime-root "$RT_ROOT"
	assert_output --regexp $'\ntwin1 +local/team-a +32\.[0-9]MiB'
	assert_output --regexp $'\nlocal/team-a +64\.[0-9]MiB +[0-9.]+[KMGi]*B +32\.[0-9]MiB'
	# --domain keeps one domain.
	run_ok estimate --runtime-root "$RT_ROOT" --json --domain team-b
	echo "$output" | jq -e '[.containers[].id] == ["other"]' || fail "--domain filter"
}

@test "estimate: --sample states its error and brackets the full figure; --max-pages stops early" {
	local full est se
	host_fillmem 64 3
	host_fillmem 64 3
	run_ok estimate --pid "${HOST_PIDS[0]}" --pid "${HOST_PIDS[1]}" --domain team-a --json
	full=$(echo "$output" | jq .node.saving_pages)
	run_ok estimate --pid "${HOST_PIDS[0]}" --pid "${HOST_PIDS[1]}" --domain team-a --json --sample 0.25
	est=$(echo "$output" | jq .node.saving_pages)
	se=$(echo "$output" | jq '.node.saving_stderr_bytes / .page_size')
	echo "$output" | jq -e '.sample == 0.25 and .node.sampled_pages < 0.4 * .node.anon_pages' || fail "not sampled"
	awk -v f="$full" -v e="$est" -v s="$se" 'BEGIN { d = f - e; if (d < 0) d = -d; exit !(s > 0 && d <= 4 * s) }' \
		|| fail "sampled $est ± $se does not bracket $full"
	run_ok estimate --pid "${HOST_PIDS[0]}" --json --max-pages 1000
	echo "$output" | jq -e '.complete == false and .pages_read == 1000 and .node.anon_pages == 1000' \
		|| fail "--max-pages"
	run_ok estimate --pid "${HOST_PIDS[0]}" --sample 0.5
	assert_output --partial "standard errors"
}

@test "estimate: a process that exits before or during the scan is skipped, not an error" {
	local gone i json
	/bin/true 3>&- &
	gone=$!
	wait "$gone"
	run_ok estimate --pid "$gone" --json
	echo "$output" | jq -e '.containers[0].exited_processes == 1 and .containers[0].processes == 0' \
		|| fail "gone process not skipped"
	# Kill a large process while it is being read, several times: every run
	# succeeds and counts it as scanned or exited.
	for i in 1 2 3; do
		host_fillmem 256 $i
		"$SAMEPAGE" estimate --quiet --json --pid "${HOST_PIDS[-1]}" > "$BATS_TEST_TMPDIR/out" 3>&- &
		sleep 0.$((i * 2))
		kill "${HOST_PIDS[-1]}"
		wait $! || fail "estimate failed when its process exited (run $i)"
		jq -e '.containers[0].processes + .containers[0].exited_processes == 1' "$BATS_TEST_TMPDIR/out" \
			|| fail "run $i: process neither scanned nor exited"
	done
}

@test "estimate: --json follows the schema in docs/estimate.md" {
	local schema
	schema=$(awk '/<!-- schema:begin -->/ {on = 1; next} /<!-- schema:end -->/ {on = 0} on && !/^```/' \
		"$ROOT/docs/estimate.md")
	echo "$schema" | jq -e . > /dev/null || fail "schema in docs/estimate.md is not JSON"
	host_fillmem 4 1
	run_ok estimate --pid "${HOST_PIDS[0]}" --json --max-pages 100000
	# Every documented key is present with its type, and nothing else.
	jq -n -e --argjson s "$schema" --argjson o "$output" '
		def conforms($s; $o):
			if ($s | type) == "object" then
				($o | type) == "object" and (($s | keys) == ($o | keys))
				and all($s | keys[]; . as $k | conforms($s[$k]; $o[$k]))
			elif ($s | type) == "array" then
				($o | type) == "array" and all($o[]; conforms($s[0]; .))
			else
				($s | split("|")) as $types | any($types[]; . == ($o | type))
			end;
		conforms($s; $o)' || fail "output does not follow the documented schema"
}
