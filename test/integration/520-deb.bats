#!/usr/bin/env bats
# The Debian package: built with `make deb` (dpkg-buildpackage, no network,
# lintian without errors), unpacked into a throwaway root, its files checked,
# and the installed hook run against a real runc container.  Also
# `make install` with DESTDIR/PREFIX.

load helpers

setup_file() {
	local root
	root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	VERSION=$(sed -n 's/^VERSION := //p' "$root/Makefile")
	DEB=$root/build/deb/samepage_${VERSION}_$(dpkg --print-architecture).deb
	export VERSION DEB
	# Built once for the file; its output is shown when a test fails.
	make -C "$root" --no-print-directory deb > "$BATS_FILE_TMPDIR/make-deb.log" 2>&1 ||
		echo "make deb failed: $?" >> "$BATS_FILE_TMPDIR/make-deb.log"
}

setup() {
	setup_common
	requires cmd:dpkg-deb cmd:lintian
	if grep -q '^make deb failed' "$BATS_FILE_TMPDIR/make-deb.log"; then
		fail "$(tail -40 "$BATS_FILE_TMPDIR/make-deb.log")"
	fi
	[ -f "$DEB" ] || fail "$DEB not built: $(tail -20 "$BATS_FILE_TMPDIR/make-deb.log")"
	DEST=$BATS_TEST_TMPDIR/root
	run_ok dpkg -x "$DEB" "$DEST"
}

teardown() {
	teardown_common
}

@test "deb: lintian reports no error and no unexplained warning" {
	run_ok lintian --fail-on error,warning "$DEB"
	refute_output --regexp '^[EW]: '
}

@test "deb: control fields, conffile, and every file in its place" {
	run_ok dpkg-deb -f "$DEB" Package Version Architecture Depends
	assert_line "Package: samepage"
	assert_line "Version: $VERSION"
	assert_line --regexp "^Depends: .*libjson-c"
	run_ok dpkg-deb -e "$DEB" "$BATS_TEST_TMPDIR/control"
	run_ok cat "$BATS_TEST_TMPDIR/control/conffiles"
	assert_line /etc/samepage/samepage.conf

	local f
	for f in usr/bin/samepage usr/libexec/samepage/samepage-hook; do
		[ -x "$DEST/$f" ] || fail "$f missing or not executable"
	done
	for f in usr/share/containers/oci/hooks.d/samepage.json \
		usr/share/containers/oci/hooks.d/samepage-poststop.json \
		etc/samepage/samepage.conf \
		lib/systemd/system/samepage-governor.service \
		lib/systemd/system/samepage-metrics.service \
		lib/systemd/system/samepage-metrics.timer \
		usr/share/man/man8/samepage.8.gz usr/share/man/man8/samepage-hook.8.gz \
		usr/share/man/man5/samepage.conf.5.gz \
		usr/share/bash-completion/completions/samepage \
		usr/share/doc/samepage/copyright usr/share/doc/samepage/changelog.gz \
		usr/share/doc/samepage/install.md.gz usr/share/doc/samepage/kubernetes.md.gz \
		usr/share/doc/samepage/examples/ksm-example.service \
		usr/share/doc/samepage/examples/kubernetes/samepage-daemonset.yaml \
		usr/share/doc/samepage/examples/cri-o/50-samepage.conf \
		usr/share/doc/samepage/examples/containerd/config.toml; do
		[ -f "$DEST/$f" ] || fail "$f missing from the package"
	done
	# The installed hooks.d files name the installed hook; the units the
	# installed CLI; the config is the shipped default.
	for f in "$DEST"/usr/share/containers/oci/hooks.d/*.json; do
		run_ok jq -e '.hook.path == "/usr/libexec/samepage/samepage-hook"' "$f"
	done
	run_ok grep -h '^ExecStart=' "$DEST"/lib/systemd/system/samepage-*.service
	assert_line --regexp '^ExecStart=/usr/bin/samepage governor'
	assert_line --regexp '^ExecStart=/usr/bin/samepage metrics --output /var/lib/node_exporter/textfile_collector/samepage.prom$'
	run_ok diff "$ROOT/packaging/samepage.conf" "$DEST/etc/samepage/samepage.conf"
	# The installed programs run and agree on the version.
	run_ok "$DEST/usr/bin/samepage" --version
	assert_output "samepage $VERSION"
	run_ok "$DEST/usr/libexec/samepage/samepage-hook" --version
	assert_output --partial "$VERSION"
	# Man pages render without groff warnings.
	for f in "$DEST"/usr/share/man/man*/*.gz; do
		run_ok sh -c "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$f' 2>&1 >/dev/null"
		assert_output ""
	done
}

# The package's postinst, run as dpkg runs it (DPKG_ROOT points
# deb-systemd-helper at the unpacked root) in a mount namespace whose /run
# says systemd is PID 1, with systemctl and deb-systemd-invoke replaced by
# recorders: this machine has no booted systemd to start anything.
run_postinst() {
	local shim=$BATS_TEST_TMPDIR/shim
	mkdir -p "$shim"
	printf '#!/bin/sh\necho "$(basename "$0") $*" >> %s/calls\n' "$BATS_TEST_TMPDIR" > "$shim/systemctl"
	chmod +x "$shim/systemctl"
	cp "$shim/systemctl" "$shim/deb-systemd-invoke"
	: > "$BATS_TEST_TMPDIR/calls"
	unshare -m sh -ec 'mount -t tmpfs samepage-test-run /run; mkdir -p /run/systemd/system
		PATH=$0:$PATH DPKG_ROOT=$1 DPKG_MAINTSCRIPT_PACKAGE=samepage DPKG_MAINTSCRIPT_NAME=postinst \
			sh "$2" configure "$3"' "$shim" "$DEST" "$BATS_TEST_TMPDIR/control/postinst" "$1"
}

@test "deb: installing enables and starts the governor; the metrics timer stays off" {
	requires root cmd:unshare cmd:systemctl cmd:deb-systemd-helper
	run_ok dpkg-deb -e "$DEB" "$BATS_TEST_TMPDIR/control"
	run_ok run_postinst ""
	# What `systemctl is-enabled` answers on the installed node.
	run_ok systemctl --root="$DEST" is-enabled samepage-governor.service
	assert_output enabled
	[ -L "$DEST/etc/systemd/system/multi-user.target.wants/samepage-governor.service" ] ||
		fail "no multi-user.target.wants link for the governor"
	run systemctl --root="$DEST" is-enabled samepage-metrics.timer
	assert_output disabled
	# With systemd running, the postinst starts the governor and nothing else.
	run_ok cat "$BATS_TEST_TMPDIR/calls"
	assert_line "deb-systemd-invoke start samepage-governor.service"
	refute_output --partial metrics
	# An operator who disabled it keeps it disabled across an upgrade (the
	# postinst of a newer version runs with the old version as $2).
	run_ok systemctl --root="$DEST" disable samepage-governor.service
	run_ok run_postinst "$VERSION"
	run systemctl --root="$DEST" is-enabled samepage-governor.service
	assert_output disabled
}

@test "deb: the installed hook and config enable KSM for a runc container" {
	requires prctl_ksm ksm
	ksm_save
	local b pid
	# make_bundle wires $HOOK with --config $CONFIG: point both into the
	# unpacked package.
	HOOK=$DEST/usr/libexec/samepage/samepage-hook
	CONFIG=$DEST/etc/samepage/samepage.conf
	b=$(make_bundle debmerge samepage.io/merge=true samepage.io/domain=deb-test -- sleep 1000)
	run_ok jq -e --arg h "$HOOK" '.hooks.createRuntime[0].path == $h' "$b/config.json"
	start_container debmerge "$b"
	[ "$status" -eq 0 ] || fail "container did not start: $output"
	pid=$(container_pid debmerge)
	[ "$(ksm_field "$pid" ksm_merge_any)" = yes ] || fail "pid $pid: $(cat /proc/$pid/ksm_stat)"
	# The installed CLI reads what the installed hook wrote.
	run_ok "$DEST/usr/bin/samepage" --state-dir "$STATE_DIR" --config "$CONFIG" status --json
	echo "$output" | jq -e '[.. | objects | select(.id? == "debmerge")] | length >= 1' >/dev/null ||
		fail "status does not list debmerge: $output"
	run_ok rt delete -f debmerge
	run_ok jq -e '[.containers[] | select(.id == "debmerge")] | length == 0' "$STATE_DIR/state.json"
}

@test "deb: the installed oci-config picks the installed hook" {
	echo '{"ociVersion": "1.0.2"}' > "$BATS_TEST_TMPDIR/config.json"
	run_ok "$DEST/usr/bin/samepage" oci-config --stdout "$BATS_TEST_TMPDIR/config.json"
	echo "$output" | jq -e --arg h "$(realpath "$DEST/usr/libexec/samepage/samepage-hook")" \
		'.hooks.createRuntime[0].path == $h' || fail "$output"
}

@test "make install: DESTDIR and PREFIX, paths rewritten, an existing config kept" {
	local d=$BATS_TEST_TMPDIR/stage
	run_ok make -C "$ROOT" --no-print-directory install DESTDIR="$d" PREFIX=/usr/local
	local f
	for f in usr/local/bin/samepage usr/local/libexec/samepage/samepage-hook \
		usr/local/share/man/man8/samepage.8 usr/local/share/man/man8/samepage-hook.8 \
		usr/local/share/man/man5/samepage.conf.5 \
		usr/local/share/containers/oci/hooks.d/samepage.json \
		usr/local/share/containers/oci/hooks.d/samepage-poststop.json \
		usr/local/share/bash-completion/completions/samepage \
		usr/local/lib/systemd/system/samepage-metrics.timer \
		etc/samepage/samepage.conf; do
		[ -e "$d/$f" ] || fail "$f not installed"
	done
	run_ok jq -e '.hook.path == "/usr/local/libexec/samepage/samepage-hook"' \
		"$d/usr/local/share/containers/oci/hooks.d/samepage.json"
	run_ok grep -q '^ExecStart=/usr/local/bin/samepage metrics' "$d/usr/local/lib/systemd/system/samepage-metrics.service"
	echo '{"domain_policy": "shared"}' > "$d/etc/samepage/samepage.conf"
	run_ok make -C "$ROOT" --no-print-directory install DESTDIR="$d" PREFIX=/usr/local
	assert_output --partial "keeping existing"
	run_ok jq -e '.domain_policy == "shared"' "$d/etc/samepage/samepage.conf"
}

@test "deb: the DaemonSet's install step, run on the unpacked package, fills the host paths" {
	requires cmd:/usr/bin/python3
	local h=$BATS_TEST_TMPDIR/host script
	mkdir -p "$h/libexec" "$h/hooks.d" "$h/etc-samepage" "$h/config"
	# The init container's script and the ConfigMap, from the manifest.
	/usr/bin/python3 - "$ROOT/packaging/kubernetes/samepage-daemonset.yaml" "$h" <<-'PY'
	import sys, yaml
	docs = {d["kind"]: d for d in yaml.safe_load_all(open(sys.argv[1]))}
	init = docs["DaemonSet"]["spec"]["template"]["spec"]["initContainers"][0]
	assert init["command"][:2] == ["/bin/sh", "-ec"], init["command"]
	open(sys.argv[2] + "/install.sh", "w").write(init["command"][2])
	for key, text in docs["ConfigMap"]["data"].items():
	    open(sys.argv[2] + "/config/" + key, "w").write(text)
	PY
	# The image is the package installed on Debian: its paths are the
	# unpacked package's; the volumes are this test's directories.
	script=$(sed -e "s|/usr/libexec/samepage/|$DEST/usr/libexec/samepage/|g" \
		-e "s|/usr/share/containers/oci/hooks.d/|$DEST/usr/share/containers/oci/hooks.d/|g" \
		-e "s|/usr/bin/samepage|$DEST/usr/bin/samepage|g" \
		-e "s|/host/|$h/|g" -e "s|/config/|$h/config/|g" "$h/install.sh")
	# The node's runtime as the DaemonSet's env would name it (no CRI socket here).
	run_ok env SAMEPAGE_RUNTIME=cri-o sh -ec "$script"
	run_ok env SAMEPAGE_RUNTIME=cri-o sh -ec "$script"     # again, as on a pod restart: replaces, nothing added
	cmp "$DEST/usr/libexec/samepage/samepage-hook" "$h/libexec/samepage-hook" || fail "hook not copied"
	[ -x "$h/libexec/samepage-hook" ] || fail "hook not executable"
	run_ok ls -A "$h/libexec" "$h/hooks.d" "$h/etc-samepage"
	refute_output --partial ".new"
	run_ok diff -r "$DEST/usr/share/containers/oci/hooks.d" "$h/hooks.d"
	run_ok jq -e '.namespace_annotation == "io.kubernetes.pod.namespace"' "$h/etc-samepage/samepage.conf"
	run_ok "$h/libexec/samepage-hook" --version
	# The CLI and the containerd script beside the hook (samepage-containerd-spec uses both).
	cmp "$DEST/usr/bin/samepage" "$h/libexec/samepage" || fail "samepage CLI not copied"
	cmp "$DEST/usr/libexec/samepage/samepage-containerd-spec" "$h/libexec/samepage-containerd-spec" ||
		fail "samepage-containerd-spec not copied"
}
