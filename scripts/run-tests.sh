#!/bin/sh
# Runs test programs one after another and adds up their results. Each program
# is a cmocka suite (it prints its own [  PASSED  ] / [  FAILED  ] lines); the
# last line is the total: "N passed, N failed".
set -u
passed=0
failed=0
broken=""
for t in "$@"; do
	name=${t#build/san/tests/}
	echo "== $name"
	out=$(mktemp)
	"$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	rm -f "$out"
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed, sanitizer abort, or a runner that printed no summary
		failed=$((failed + 1))
		broken="$broken $name"
	fi
done
[ -n "$broken" ] && echo "programs that failed without a summary:$broken"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
