# ksmd's knobs for the tests, the demo and the benches: one list, one
# order, one lock.  Sourced (bash); it forks nothing to read a knob, which
# matters in the TCG guest of test/kernel/.
#
#   ksm_knobs_save FILE      take /run/lock/samepage-ksm.lock (fd
#                            $KSM_LOCK_FD; close it in processes that
#                            outlive the caller) and save every knob in FILE
#   ksm_knobs_restore FILE   put every saved knob back, remove FILE, release
#                            the lock; a knob that cannot be written is a
#                            warning on stderr (merge_across_nodes and
#                            max_page_sharing refuse while pages are shared)
#   ksm_knob NAME            a knob's value; a selector knob ("[none]
#                            scan-time") gives the selected word
#   ksm_knobs_fast [PAGES [SLEEP_MS]]   advisor off, ksmd on at PAGES per
#                            SLEEP_MS (default 5000 / 20), for fast merging
#
# The order is samepage's own (node/ksmd.h; test/unit/test-ksmd.c checks
# that the knobs samepage changes come first here, in its order):
# advisor_mode goes to `none` first (the kernel refuses pages_to_scan while
# an advisor runs, and resets pages_to_scan when the mode changes); the scan
# rate before `run` (ksmd holds its mutex for a whole batch, and a write to
# `run` waits for it); advisor_mode back to its saved mode last.

KSM=${KSM:-/sys/kernel/mm/ksm}
KSM_KNOBS="pages_to_scan sleep_millisecs smart_scan run use_zero_pages merge_across_nodes max_page_sharing stable_node_chains_prune_millisecs advisor_max_cpu advisor_min_pages_to_scan advisor_max_pages_to_scan advisor_target_scan_time advisor_mode"
KSM_LOCK=/run/lock/samepage-ksm.lock

# ksm_knob_read NAME: the value into $KSM_VALUE, without a fork.
ksm_knob_read() {
	KSM_VALUE=""
	read -r KSM_VALUE < "$KSM/$1" || [ -n "$KSM_VALUE" ] || return 1
	if [[ $KSM_VALUE =~ \[([^]]*)\] ]]; then
		KSM_VALUE=${BASH_REMATCH[1]}
	fi
}

ksm_knob() {
	ksm_knob_read "$1" && printf '%s\n' "$KSM_VALUE"
}

# ksm_knob_set NAME VALUE: write when it differs; warn when it cannot.
ksm_knob_set() {
	ksm_knob_read "$1" || return 0
	[ "$KSM_VALUE" = "$2" ] && return 0
	echo "$2" 2>/dev/null > "$KSM/$1" || echo "warning: cannot restore $1=$2 (is $KSM_VALUE)" >&2
}

ksm_knobs_save() {
	local file=$1 k
	exec {KSM_LOCK_FD}>"$KSM_LOCK"
	flock "$KSM_LOCK_FD"
	: > "$file"
	for k in $KSM_KNOBS; do
		[ -f "$KSM/$k" ] && ksm_knob_read "$k" || continue
		echo "$k $KSM_VALUE" >> "$file"
	done
}

ksm_knobs_restore() {
	local file=$1 k v
	local -A saved=()
	if [ -f "$file" ]; then
		while read -r k v; do
			saved[$k]=$v
		done < "$file"
		if [ -f "$KSM/advisor_mode" ]; then
			ksm_knob_set advisor_mode none
		fi
		for k in $KSM_KNOBS; do
			[ -n "${saved[$k]+set}" ] || continue
			ksm_knob_set "$k" "${saved[$k]}"
		done
		rm -f "$file"
	fi
	if [ -n "${KSM_LOCK_FD:-}" ]; then
		exec {KSM_LOCK_FD}>&-
		KSM_LOCK_FD=""
	fi
}

ksm_knobs_fast() {
	if [ -f "$KSM/advisor_mode" ]; then
		echo none > "$KSM/advisor_mode"
	fi
	echo "${1:-5000}" > "$KSM/pages_to_scan"
	echo "${2:-20}" > "$KSM/sleep_millisecs"
	echo 1 > "$KSM/run"
}
