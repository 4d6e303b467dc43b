#!/usr/bin/env bats
# Kernel domains (issue 12) with real containers: samepage-hook + runc or
# crun (RUNTIME) on the native backend whose controller has ksm.domain.
# Runs inside the test guest (kernel/guest/check.sh), like 010-native.bats.
#
# The node is configured like a CRI-O node (namespace_annotation
# io.kubernetes.pod.namespace); the containers carry the annotations CRI-O
# sets.  What an operator checks: every domain is admitted at once, each
# container's cgroup is in its domain's kernel domain (ksm.domain.effective
# equals the id state.json records), pages merge within a domain, and no
# page frame is mapped by containers of two domains (/proc/<pid>/pagemap:
# two unrelated processes map one frame only when KSM merged their pages).
# The spoof and the self-opt-in of the domain issue are kept out by the
# kernel, not by refusing them.

load helpers

# fillmem 4: 1024 pages, all different, the same in every container
FILL_MIB=4
PAGES=1024
# selfopt: 1024 pages of 251 contents, so one process merges with itself
SELFOPT_CONTENTS=251

setup() {
	ktest_setup
}

teardown() {
	ktest_teardown
}

# pids_of ID...: the containers' init pids, in order.
pids_of() {
	local id
	for id in "$@"; do
		# the pid file has no newline
		echo "$(container_pid "$id")"
	done
}

# figure NAME: VALUE...: a measured figure, in the TAP output also when
# the test passes (bats prints fd 3).
figure() {
	echo "# $*" >&3
}

# merging_of ID...: "ID PAGES ..." of the containers' inits.
merging_of() {
	local id out=""
	for id in "$@"; do
		out+="${out:+ }$id $(ksm_merging "$(container_pid "$id")")"
	done
	echo "$out"
}

# Stop ksmd (merged pages stay merged) so that pagemap and the counters
# hold still while they are read; teardown restores the knob.
ksm_freeze() {
	echo 0 >"$KSM/run"
	sleep 0.2
}

@test "kernel domains: two namespaces x two containers all start; each pair merges, no frame across" {
	local id b ida idb shared sharing n
	requires_kernel_domains
	# auto: the node's default, `kernel` where the controller has ksm.domain
	k8s_config auto
	for id in a1 a2 b1 b2; do
		b=$(make_bundle "$id" samepage.io/merge=true $(crio_pod "team-${id:0:1}") -- fillmem $FILL_MIB 3)
		start_container "$id" "$b"
	done
	for id in a1 a2 b1 b2; do
		wait_ready_n "$id" 1
	done

	# Admitted all four: no domain owns the node (exclusive would refuse team-b).
	run_ok jq -r '.containers[] | "\(.id) \(.enabled) \(.domain) \(.backend)"' "$STATE_DIR/state.json"
	[ "$(sort <<<"$output")" = "a1 true k8s/team-a native
a2 true k8s/team-a native
b1 true k8s/team-b native
b2 true k8s/team-b native" ] || fail "state.json: $output"
	ida=$(kdomain_recorded k8s/team-a)
	idb=$(kdomain_recorded k8s/team-b)
	echo "kernel domains: k8s/team-a $ida, k8s/team-b $idb" >&2
	[ "$ida" -gt 0 ] && [ "$idb" -gt 0 ] && [ "$ida" != "$idb" ] || fail "ids $ida and $idb"
	for id in a1 a2; do
		[ "$(kdomain_effective "$id")" = "$ida" ] || fail "$id: ksm.domain.effective $(kdomain_effective "$id"), want $ida"
	done
	for id in b1 b2; do
		[ "$(kdomain_effective "$id")" = "$idb" ] || fail "$id: ksm.domain.effective $(kdomain_effective "$id"), want $idb"
	done

	ksm_fast
	wait_merging $((PAGES * 9 / 10)) $(pids_of a1 a2 b1 b2)
	ksm_freeze
	shared=$(ksm_knob pages_shared)
	sharing=$(ksm_knob pages_sharing)
	frames_of a1 a2 b1 b2
	figure "merging pages of $PAGES: $(merging_of a1 a2 b1 b2)"
	figure "frames in common: a1-a2 $(frames_common a1 a2), b1-b2 $(frames_common b1 b2)," \
		"a1-b1 $(frames_common a1 b1) a1-b2 $(frames_common a1 b2) a2-b1 $(frames_common a2 b1) a2-b2 $(frames_common a2 b2)"
	figure "pages_shared $shared pages_sharing $sharing (one KSM page per content per domain: $((2 * PAGES));" \
		"one domain would give $PAGES and $((3 * PAGES)))"

	# within a domain the pair maps the same frames...
	[ "$(frames_common a1 a2)" -ge $((PAGES * 9 / 10)) ] || fail "team-a's pair shares $(frames_common a1 a2) frames"
	[ "$(frames_common b1 b2)" -ge $((PAGES * 9 / 10)) ] || fail "team-b's pair shares $(frames_common b1 b2) frames"
	# ...and none across
	for id in a1 a2; do
		n=$(frames_common "$id" b1)
		[ "$n" -eq 0 ] || fail "$id and b1 share $n frames"
		n=$(frames_common "$id" b2)
		[ "$n" -eq 0 ] || fail "$id and b2 share $n frames"
	done
	# the same content twice over: one KSM page per domain, each with two mappers
	[ "$shared" -ge $((2 * PAGES * 9 / 10)) ] && [ "$shared" -le $((2 * PAGES + 32)) ] ||
		fail "pages_shared $shared, want about $((2 * PAGES))"
	[ "$sharing" -le $((shared + 32)) ] || fail "pages_sharing $sharing > pages_shared $shared: a KSM page has more than two mappers"
}

@test "kernel domains: a team-b pod naming team-a gets a domain of its own and shares no frame with team-a" {
	local a s bad ida ids
	requires_kernel_domains
	k8s_config kernel
	a=$(selfopt_bundle a1 samepage.io/merge=true $(crio_pod team-a))
	# team-b names team-a, and sets containerd's namespace key too (the
	# tenant's own on a CRI-O node)
	s=$(selfopt_bundle spoof samepage.io/merge=true samepage.io/domain=team-a \
		io.kubernetes.cri.sandbox-namespace=team-a $(crio_pod team-b))
	start_container a1 "$a"
	start_container spoof "$s"
	wait_ready_n a1 1
	wait_ready_n spoof 1

	run_ok jq -r '.containers[] | "\(.id) \(.enabled) \(.domain)"' "$STATE_DIR/state.json"
	[ "$(sort <<<"$output")" = "a1 true k8s/team-a
spoof true k8s/team-b/team-a" ] || fail "state.json: $output"
	ida=$(kdomain_recorded k8s/team-a)
	ids=$(kdomain_recorded k8s/team-b/team-a)
	echo "kernel domains: k8s/team-a $ida, k8s/team-b/team-a $ids" >&2
	[ "$(kdomain_effective a1)" = "$ida" ] || fail "a1: ksm.domain.effective $(kdomain_effective a1), want $ida"
	[ "$(kdomain_effective spoof)" = "$ids" ] || fail "spoof: ksm.domain.effective $(kdomain_effective spoof), want $ids"
	[ "$ids" -gt 0 ] && [ "$ids" != "$ida" ] || fail "the spoof is in team-a's kernel domain $ida"

	# Both hold the same 251 contents, each merges with itself: one domain
	# would make them map the same frames.
	ksm_fast
	wait_merging $((PAGES * 9 / 10)) $(pids_of a1 spoof)
	ksm_freeze
	frames_of a1 spoof
	figure "merging pages of $PAGES: $(merging_of a1 spoof); frames in common: $(frames_common a1 spoof);" \
		"pages_shared $(ksm_knob pages_shared) (one domain: $SELFOPT_CONTENTS)"
	[ "$(frames_common a1 spoof)" -eq 0 ] || fail "the spoof shares $(frames_common a1 spoof) frames with team-a"
	[ "$(ksm_knob pages_shared)" -ge $((2 * SELFOPT_CONTENTS * 9 / 10)) ] || fail "pages_shared $(ksm_knob pages_shared)"

	# The domain written in full is no name: refused, naming the annotation.
	bad=$(make_bundle full samepage.io/merge=true samepage.io/domain=k8s/team-a $(crio_pod team-b))
	try_start_container full "$bad"
	[ "$start_rc" -ne 0 ] || fail "a container naming domain k8s/team-a started"
	[[ $start_out == *'annotation `samepage.io/domain`: invalid domain `k8s/team-a`'* ]] ||
		fail "the refusal does not name the annotation: $start_out"
}

@test "kernel domains: a container's own prctl(PR_SET_MEMORY_MERGE) merges, never with team-a's or team-b's frames" {
	local id b ida idb shared p
	requires_kernel_domains
	k8s_config kernel
	# No annotation: samepage leaves it alone, it opts in by itself, first
	# (under `kernel` it does not keep the domains that come after out).
	b=$(selfopt_bundle self)
	start_container self "$b"
	wait_ready_n self 1
	b=$(selfopt_bundle a1 samepage.io/merge=true $(crio_pod team-a))
	start_container a1 "$b"
	b=$(selfopt_bundle b1 samepage.io/merge=true $(crio_pod team-b))
	start_container b1 "$b"
	wait_ready_n a1 1
	wait_ready_n b1 1
	[[ $(head -n 1 "$BATS_TEST_TMPDIR/self.log") == "prctl=ok madvise=ok "* ]] ||
		fail "the self-opter could not opt in: $(head -n 1 "$BATS_TEST_TMPDIR/self.log")"
	p=$(container_pid self)
	[ "$(mergeable_vmas "$p")" -gt 0 ] || fail "the self-opter (pid $p) has no mergeable VMA"
	run_ok jq -r '[.containers[] | select(.id == "self")] | length' "$STATE_DIR/state.json"
	[ "$output" = 0 ] || fail "samepage recorded the unannotated container"

	ida=$(kdomain_recorded k8s/team-a)
	idb=$(kdomain_recorded k8s/team-b)
	echo "kernel domains: k8s/team-a $ida, k8s/team-b $idb, self $(kdomain_effective self)" >&2
	[ "$(kdomain_effective a1)" = "$ida" ] && [ "$(kdomain_effective b1)" = "$idb" ] || fail "a1 or b1 outside its domain"
	[ "$(kdomain_effective self)" = 0 ] || fail "the self-opter is in kernel domain $(kdomain_effective self), not the global 0"

	ksm_fast
	wait_merging $((PAGES * 9 / 10)) $(pids_of a1 b1 self)
	ksm_freeze
	shared=$(ksm_knob pages_shared)
	frames_of a1 b1 self
	figure "merging pages of $PAGES: $(merging_of a1 b1 self); frames in common: a1-self" \
		"$(frames_common a1 self), b1-self $(frames_common b1 self), a1-b1 $(frames_common a1 b1);" \
		"pages_shared $shared (three domains: $((3 * SELFOPT_CONTENTS)), one: $SELFOPT_CONTENTS)"
	for id in a1 b1; do
		[ "$(frames_common "$id" self)" -eq 0 ] || fail "$id shares $(frames_common "$id" self) frames with the self-opter"
	done
	[ "$(frames_common a1 b1)" -eq 0 ] || fail "a1 and b1 share $(frames_common a1 b1) frames"
	[ "$shared" -ge $((3 * SELFOPT_CONTENTS * 9 / 10)) ] || fail "pages_shared $shared: fewer KSM pages than three domains make"
}

@test "kernel domains: deny_unmanaged holds ksm.domain=deny; a self-opting container below it gets EPERM" {
	local deny b pa pu
	requires_kernel_domains
	deny=$CG_ROOT/$CG_PARENT/unmanaged
	mkdir "$deny"
	k8s_config kernel "\"deny_unmanaged\": \"$deny\""
	# admitting a container puts deny in place
	b=$(make_bundle a1 samepage.io/merge=true $(crio_pod team-a) -- fillmem 1 5)
	start_container a1 "$b"
	wait_ready_n a1 1
	[ "$(cat "$deny/ksm.domain")" = deny ] || fail "$deny/ksm.domain is $(cat "$deny/ksm.domain")"
	pa=$(container_pid a1)
	[ "$(kdomain_effective a1)" = "$(kdomain_recorded k8s/team-a)" ] || fail "a1: ksm.domain.effective $(kdomain_effective a1)"
	[ "$(mergeable_vmas "$pa")" -gt 0 ] || fail "a1 (pid $pa) has no mergeable VMA"

	b=$(selfopt_bundle u1)
	bundle_cgroup "$b" "/$CG_PARENT/unmanaged/u1"
	start_container u1 "$b"
	wait_ready_n u1 1
	pu=$(container_pid u1)
	echo "u1: $(head -n 1 "$BATS_TEST_TMPDIR/u1.log"); ksm.domain.effective $(kdomain_effective_of "$deny/u1")" >&2
	[[ $(head -n 1 "$BATS_TEST_TMPDIR/u1.log") == "prctl=EPERM madvise=EPERM "* ]] ||
		fail "under deny: $(head -n 1 "$BATS_TEST_TMPDIR/u1.log")"
	[ "$(kdomain_effective_of "$deny/u1")" = deny ]
	[ "$(mergeable_vmas "$pu")" -eq 0 ] || fail "u1 (pid $pu) has mergeable VMAs under deny"

	# An annotated container below it could never merge: refused, both named.
	b=$(make_bundle u2 samepage.io/merge=true samepage.io/required=true $(crio_pod team-a))
	bundle_cgroup "$b" "/$CG_PARENT/unmanaged/u2"
	try_start_container u2 "$b"
	[ "$start_rc" -ne 0 ] || fail "a required container below deny_unmanaged started"
	[[ $start_out == *"deny_unmanaged \`$deny\` holds the workload's cgroup \`$deny/u2\`"* ]] ||
		fail "the refusal does not name both cgroups: $start_out"
}
