#!/bin/sh
# bench/miss_ir.sh BUILD [N] - instructions (callgrind Ir) finlockd spends in the
# check-in handler per request, when every device checks in for the first
# time since a restart of finlockd on a fleet of N devices that all
# checked in before the restart (every request a cache miss).
# MISS_FULL=1: the phones do not say token_held (loadgen --full-answers),
# so every answer carries the token, built again from the token memo.
set -eu
R=$1
N=${2:-300}
B=$R/bench
BIN=$R/bin
TMP=$(mktemp -d /tmp/finlock-missir.XXXXXX)
PID=""
UNL="--public-rate 1000000 --public-burst 1000000 --public-global-rate 1000000 --public-global-burst 1000000"
start() {
	port=$("$B/loadgen" --free-port)
	rm -f "$TMP/stdout"
	$PRE "$BIN/finlockd" --data "$TMP/data" --listen "127.0.0.1:$port" \
		--log-level warn "$@" >"$TMP/stdout" 2>"$TMP/log" &
	PID=$!
	i=0
	until grep -q '^listening on' "$TMP/stdout" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 1200 ] || { tail "$TMP/log"; exit 1; }
		sleep 0.25
	done
	OPKEY=$(sed -n 's/^operator key: //p' "$TMP/stdout")
}
stop() { kill "$PID"; wait "$PID" || true; }
PRE=""
start
"$B/bench_fleet" --url "http://127.0.0.1:$port" --operator-key "$OPKEY" \
	--lender-out "$TMP/lender" >/dev/null
stop
"$B/bench_sweep" fill "$TMP/data" "$(sed -n 1p "$TMP/lender")" "$N" \
	--enroll "$N" --out "$TMP/devs" >/dev/null
start $UNL
"$B/loadgen" --port "$port" --devices "$TMP/devs" --conns 4 --rounds 1 \
	--duration 300 --save ${MISS_FULL:+--full-answers} >"$TMP/first"
stop
PRE="valgrind -q --tool=callgrind --callgrind-out-file=$TMP/cg.out --toggle-collect=checkin"
start $UNL
"$B/loadgen" --port "$port" --devices "$TMP/devs" --conns 4 --rounds 1 \
	--duration 600 --save ${MISS_FULL:+--full-answers} >"$TMP/restart"
stop
ok=$(sed -n 's/^ok=//p' "$TMP/restart")
ir=$(callgrind_annotate "$TMP/cg.out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "build=$R devices=$N answered=$ok ir_total=$ir ir_per_checkin=$((ir / ok))"
callgrind_annotate --inclusive=yes "$TMP/cg.out" 2>/dev/null | sed -n "1,${ANNOTATE_LINES:-60}p" >"$TMP/annotate"
cat "$TMP/annotate"
rm -rf "$TMP"
