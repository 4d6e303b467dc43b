#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/kernel-smart-scan inside the guest (kernel/run.sh script): the same
# workload with smart scan on and off.  ksm-late-twins saves, sets and
# restores ksmd's knobs itself; its result lines go to the console and to
# the results share, where the host picks them up.
set -u
bin=${SP_B:?}/kernel/guest-bin/ksm-late-twins
args=(-p 4096 -u 8192 -m 64)
echo "== uname $(uname -r)"
for smart in 1 0; do
	echo "== ksm-late-twins -s $smart ${args[*]}"
	"$bin" -s "$smart" "${args[@]}"
	echo "== exit $?"
done
exit 0
