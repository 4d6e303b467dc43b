# Helpers of the status/metrics/enable tests (2*.bats), on top of helpers.bash.

# Config that never lets samepage touch ksmd (tests that do not merge).
config_no_ksmd() {
	echo "{\"manage_ksmd\": false${1:+, $1}}" > "$CONFIG"
}

# The container's cgroup in the v1 pids hierarchy (make_bundle's cgroupsPath).
container_cgroup() {
	local rel
	rel=$(jq -r .linux.cgroupsPath "$BATS_TEST_TMPDIR/$1/config.json")
	echo "/sys/fs/cgroup/pids$rel"
}

# Pids of a container from its cgroup (host view), sorted.
cgroup_pids() {
	sort -n -u "$1/cgroup.procs"
}

# "processes merge_any merging_pages zero_pages profit" summed over pids, as
# /proc shows them (each pid here is its own process: no CLONE_VM sharing).
proc_sums() {
	local p
	for p in "$@"; do
		# proc files have size 0: read, and count only what could be read
		cat "/proc/$p/ksm_stat" 2>/dev/null | grep -q . && cat "/proc/$p/ksm_stat" 2>/dev/null && echo "--"
	done | awk '
		$1 == "--" { n++ }
		$1 == "ksm_merge_any:" && $2 == "yes" { any++ }
		$1 == "ksm_merging_pages" { merging += $2 }
		$1 == "ksm_zero_pages" { zero += $2 }
		$1 == "ksm_process_profit" { profit += $2 }
		END { printf "%d %d %d %d %d\n", n, any, merging, zero, profit }'
}

# Sizes as the table prints them: 512B, 1.5KiB, 12.0MiB (one decimal).
fmt_size() {
	awk -v b="$1" 'BEGIN {
		split("KiB MiB GiB TiB PiB EiB", u, " ")
		m = b < 0 ? -b : b
		if (m < 1024) { printf "%dB\n", b; exit }
		v = m / 1024; i = 1
		while (v >= 1023.95 && i < 6) { v /= 1024; i++ }
		printf "%s%.1f%s\n", (b < 0 ? "-" : ""), v, u[i]
	}'
}

# Check a Prometheus text-format file line by line: comments are HELP or
# TYPE lines of well-formed names, every sample belongs to the family whose
# TYPE came last (families are contiguous), names carry the samepage_ prefix,
# label values are quoted with escapes, values are numbers, no family is
# declared twice.  Prints what is wrong and fails.
prom_validate() {
	awk '
	function bad(why) { printf "line %d: %s: %s\n", NR, why, $0; err = 1 }
	/^# HELP / {
		if ($3 !~ /^samepage_[a-zA-Z0-9_]+$/) bad("bad HELP name")
		next
	}
	/^# TYPE / {
		if ($3 !~ /^samepage_[a-zA-Z0-9_]+$/ || $4 !~ /^(gauge|counter|untyped|histogram|summary)$/ || NF != 4)
			bad("bad TYPE line")
		if ($3 in declared) bad("family declared twice")
		declared[$3] = 1; family = $3; next
	}
	/^#/ { bad("comment that is neither HELP nor TYPE"); next }
	/^$/ { bad("empty line"); next }
	{
		line = $0
		if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { bad("no metric name"); next }
		name = substr(line, 1, RLENGTH); rest = substr(line, RLENGTH + 1)
		if (name != family) bad("sample outside its family " family)
		if (substr(rest, 1, 1) == "{") {
			lab = "^\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\")(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\")*\\}"
			if (!match(rest, lab)) { bad("bad labels"); next }
			key = name substr(rest, 1, RLENGTH)
			rest = substr(rest, RLENGTH + 1)
		} else key = name
		if (rest !~ /^ (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[-+]Inf)$/) bad("bad value")
		if (key in seen) bad("duplicate series")
		seen[key] = 1; samples++
	}
	END { if (samples == 0) { print "no samples"; err = 1 } exit err }' "$1"
}
