#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `make check` builds the guest kernels in the background while the host
# suites run, so that the CPU those suites leave idle goes into the two
# cold kernel builds (normal and debug: about 15 and 20 CPU-minutes on a
# fresh machine) instead of their being built one after the other at the end.
#
#   kernel/prebuild.sh start B TARGETS...   `make TARGETS` in the background,
#                                           at idle CPU and I/O priority,
#                                           output in B/kernel-prebuild.log
#   kernel/prebuild.sh stop B               end it if it still runs (make
#                                           check failed before the kernel
#                                           checks)
#
# Nothing waits for it explicitly: kernel/build.sh holds B/.kernel-build.lock
# for a whole build, so the kernel checks' own `make kernel` waits for the
# background build and then finds its objects up to date.  A failed
# background build costs nothing but time: the foreground build redoes it
# and shows the error.
set -u
cmd=${1:?usage: prebuild.sh start B TARGETS... | stop B}
B=${2:?usage: prebuild.sh start B TARGETS... | stop B}
shift 2
pidfile=$B/kernel-prebuild.pid
log=$B/kernel-prebuild.log

case "$cmd" in
start)
	mkdir -p "$B"
	# Its own session and process group, so that stop ends all of it.
	setsid nice -n 19 ionice -c 3 make --no-print-directory "$@" >"$log" 2>&1 </dev/null &
	echo $! >"$pidfile"
	echo "kernel/prebuild: building $* in the background (log: $log)"
	;;
stop)
	[ -f "$pidfile" ] || exit 0
	pid=$(cat "$pidfile")
	rm -f "$pidfile"
	# setsid made it the leader of its own process group: pgid == pid.
	if [ -n "$pid" ] && kill -0 -- "-$pid" 2>/dev/null; then
		echo "kernel/prebuild: stopping the background kernel build"
		kill -TERM -- "-$pid" 2>/dev/null
	fi
	;;
*) echo "usage: prebuild.sh start B TARGETS... | stop B" >&2; exit 2 ;;
esac
