# Helpers of the packaging tests (5*.bats), on top of helpers.bash.

# start_detached ID BUNDLE: `rt run -d` with the container's stdio on a log
# file ($BATS_TEST_TMPDIR/ID.log).  Not through bats' `run`: a detached
# container inherits its stdout, and `run` would wait on that pipe until the
# container exits.  Sets $status and $output like `run`.
start_detached() {
	local id=$1 bundle=$2
	echo "$id" >> "$CONTAINERS_FILE"
	status=0
	rt run -d -b "$bundle" "$id" < /dev/null > "$BATS_TEST_TMPDIR/$id.log" 2>&1 || status=$?
	output=$(cat "$BATS_TEST_TMPDIR/$id.log")
	echo "\$ $RUNTIME run -d $id -> $status" >&2
	echo "$output" >&2
}
