#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/kernel-smart-scan inside the guest (kernel/run.sh script): the same
# workload with smart scan on and off.  ksm-late-twins saves, sets and
# restores ksmd's knobs itself; its result lines go to the console and to
# the results share, where the host picks them up.
set -u
bin=${SP_B:?}/kernel/guest-bin/ksm-late-twins
echo "== uname $(uname -r)"
# ksmd's cost with smart scan on and off (alternating windows), then the
# late twin under smart scan; then the late twin without smart scan.
for args in "-s 1 -p 4096 -u 8192 -m 16 -A 5" "-s 0 -p 4096 -u 8192"; do
	echo "== ksm-late-twins $args"
	# shellcheck disable=SC2086 # split on purpose
	"$bin" $args
	echo "== exit $?"
done
exit 0
