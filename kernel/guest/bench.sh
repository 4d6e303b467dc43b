#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The guest's benchmark run (init.sh, SP_MODE=bench): bench/kernel-stat with
# the arguments the host left in build/kernel/bench-args (one per line).
set -u
args=()
if [ -f "$SP_B/kernel/bench-args" ]; then
	while IFS= read -r a; do
		[ -n "$a" ] && args+=("$a")
	done <"$SP_B/kernel/bench-args"
fi
echo "== bench/kernel-stat ${args[*]}"
SP_IN_GUEST=1 bench/kernel-stat "${args[@]}"
