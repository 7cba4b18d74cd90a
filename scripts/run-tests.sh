#!/bin/sh
# Runs test programs, several at a time, and adds up their results. Each
# program is a cmocka suite (it prints its own [  PASSED  ] / [  FAILED  ]
# lines) that starts its own servers on free loopback ports in its own
# temporary directories, so programs do not depend on each other. Each
# program's output is printed whole when it ends (never interleaved with
# another's), headed "== name (seconds)"; the last line is the total:
# "N passed, N failed".
#
# TEST_JOBS sets how many run at once (default: the number of CPUs).
# Programs that still bound the wall-clock time of the simulated phone's
# own loop (the ones named in RUN_ALONE: a name, or a folder ending in /)
# run after the others, one at a time, with nothing else of the suite
# beside them.
set -u
RUN_ALONE=${RUN_ALONE:-"e2e/ integration/test_device_run integration/test_device_cli"}

# One program (run by xargs as: run-tests.sh --one DIR N PROGRAM): its
# output and counts in DIR/N.*, then the output printed under the lock.
if [ "${1:-}" = "--one" ]; then
	dir=$2
	n=$3
	t=$4
	name=${t#build/san/tests/}
	start=$(date +%s.%N)
	"$t" >"$dir/$n.out" 2>&1
	rc=$?
	end=$(date +%s.%N)
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$dir/$n.out" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$dir/$n.out" | awk '{s+=$1} END {print s+0}')
	broken=0
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed, sanitizer abort, or a runner that printed no summary
		broken=1
	fi
	echo "$p $f $broken $name" >"$dir/$n.res"
	{
		flock 9
		echo "$name $start $end" |
			awk '{printf "== %s (%.1f s)\n", $1, $3 - $2}'
		cat "$dir/$n.out"
	} 9>"$dir/lock"
	exit 0
fi

jobs=${TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
dir=$(mktemp -d "${TMPDIR:-/tmp}/finlock-tests.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

# alone NAME: true when the program NAME is one of RUN_ALONE.
alone() {
	for a in $RUN_ALONE; do
		case "$a" in
		*/) case "$1" in "$a"*) return 0 ;; esac ;;
		*) [ "$1" = "$a" ] && return 0 ;;
		esac
	done
	return 1
}

i=0
: >"$dir/alone"
for t in "$@"; do
	i=$((i + 1))
	if alone "${t#build/san/tests/}"; then
		printf '%s\n%s\n' "$i" "$t" >>"$dir/alone"
	else
		printf '%s\n%s\n' "$i" "$t"
	fi
done | xargs -r -P "$jobs" -n 2 sh "$0" --one "$dir"
xargs -r -P 1 -n 2 sh "$0" --one "$dir" <"$dir/alone"

passed=0
failed=0
broken=""
for res in "$dir"/*.res; do
	[ -e "$res" ] || continue
	read -r p f b name <"$res"
	passed=$((passed + p))
	failed=$((failed + f + b))
	[ "$b" -eq 1 ] && broken="$broken $name"
done
missing=$((i - $(ls "$dir" | grep -c '\.res$')))
if [ "$missing" -gt 0 ]; then
	failed=$((failed + missing))
	broken="$broken ($missing programs left no result)"
fi
[ -n "$broken" ] && echo "programs that failed without a summary:$broken"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
