#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# PID 1 of the test guest (kernel/run.sh boots it with init=<this file>).
# The root filesystem is the host's root, read-only over virtio-9p; this
# script mounts the kernel filesystems and tmpfs for everything writable,
# mounts the host's results directory (tag `results`, writable), runs the
# suite chosen by SP_MODE and powers off.  Everything reported back to the
# host goes into /run/results; the console only shows progress.
#
# Kernel command-line parameters with `=` that the kernel does not know
# arrive here as environment: SP_MODE (check|bench|debug|script), SP_TOP (the
# clone), SP_B (its build directory), SP_SCRIPT (for script: a host path).

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb

poweroff_now() {
	sync
	# busybox's reboot calls reboot(2) directly: no init system to ask.
	# qemu runs with -no-reboot, so a reset ends it.
	exec /bin/busybox reboot -f
}
trap poweroff_now EXIT

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mkdir -p /run/results /run/lock /root
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results /run/results || {
	echo "guest: cannot mount the results share" >&2
	exit 1
}
# /root is read-only host state; tools that want a home get a tmpfs one.
mount -t tmpfs tmpfs /root
hostname samepage-guest

R=/run/results
echo "guest: Linux $(uname -r), $(nproc) CPUs, cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
uname -r >"$R/uname"
cat /sys/fs/cgroup/cgroup.controllers >"$R/controllers"

# A clone under a path the guest covers with tmpfs (/tmp, /run: CI may
# clone anywhere) comes back through its own read-only share, tag `top`.
if [ ! -f "${SP_TOP:?SP_TOP not set}/kernel/guest/init.sh" ]; then
	mkdir -p "$SP_TOP" &&
		mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro top "$SP_TOP" || {
		echo "guest: cannot mount the clone at $SP_TOP" >&2
		exit 1
	}
fi
cd "$SP_TOP" || exit 1
export SP_TOP SP_B=${SP_B:-$SP_TOP/build} SP_RESULTS=$R

mode=${SP_MODE:-check}
case "$mode" in
check | bench | debug) script=kernel/guest/$mode.sh ;;
script) script=${SP_SCRIPT:?} ;;
*) echo "guest: unknown SP_MODE=$mode" >&2; exit 1 ;;
esac
bash "$script" 2>&1 | tee "$R/$mode.log"
echo "${PIPESTATUS[0]}" >"$R/exit-status"
echo "guest: done (exit status $(cat "$R/exit-status"))"
