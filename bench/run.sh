#!/bin/sh
# bench/run.sh - finlock's benchmarks, run by `make bench` after it has built
# build/rel (programs and libraries) and build/rel/bench/bench_* (one binary
# per bench/bench_*.c).
#
# The five measurements of the "Performance" issue, each printed with the
# baseline measured in the same run and the ratio (BENCHMARKS.md explains
# each one and records the figures):
#   1  check-in throughput: finlockd on SQLite vs nginx answering a body of
#      the same size, same load generator, connections and request bytes
#   2  payment to unlock: 10,000 devices in long-poll waits
#   3  sweep: (a) 1% of 1,000,000 contracts due at once; (b) full
#      re-decision vs a plain SQLite scan of the same rows
#   4  the agent: check-in cost on the phone, code size, memory
#   5  finlockd's resident memory with 10,000 idle waiting connections
#   6  every API call a console page makes, with 100,000 devices (< 200 ms)
#   7  the portfolio report over 1,000,000 contracts (< 2 s)
#   8  Daraja C2B confirmations into one finlockd: their rate against the
#      lender payment API's (and nginx's request rate), and confirmation
#      to unlocked phone with 10,000 waiting phones
#
# Every server (finlockd, nginx) is a child of this script on a free
# loopback port with its own temporary directory, and is stopped at the
# end. Nothing here is a test: `make test` never runs it.
#
# Environment: BENCH_QUICK=1 shrinks every size (for trying the script);
# BENCH_DEVICES overrides the number of enrolled devices of benchmark 1;
# BENCH_BIN runs the finlockd of another build directory; BENCH_ONLY runs
# only the named parts, among "agent policy checkin waits redecide confirm
# idle due console portfolio cluster cluster-sweep scale" (checkin, waits,
# redecide, confirm and idle share the fleet, built when one of them runs;
# scale, the fleet's size against the cost, runs only when named; cluster is
# PostgreSQL and
# two nodes behind nginx with its own fleet, and its sweep, which
# cluster-sweep runs alone: BENCH_PG_DEVICES, BENCH_PG_SWEEP override their
# sizes). BENCH_DEVICE_CACHE sets finlockd's device_cache for benchmarks
# 1, 2 and 5 (below the fleet: every check-in a cache miss, as a fleet
# larger than the cache has them).
# BENCH_DUE_ARGS: more finlockd options for the sweep's part (3a).
# BENCH_PG_OPTS: more PostgreSQL settings ("-c name=value ..."), and
# BENCH_PG_LOG a file to keep its server log in.
# BENCH_DUE_INLINE=1: the sweep's woken phones check each token before
# their time is taken (bench_wake --check-inline), as runs before 2026-12-08 did.
set -eu
cd "$(dirname "$0")/.."

B=build/rel/bench
BIN=${BENCH_BIN:-build/rel/bin}
T0=$(date +%s)

# nginx for the baseline of benchmark 1 (an optional package, never in the
# default list of scripts/deps.sh).
FINLOCK_DEPS_EXTRA="nginx-light" sh scripts/deps.sh ||
	echo "bench: nginx-light could not be installed: no baseline for benchmark 1" >&2
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# The load generator and the minimal firmware are not bench_* programs:
# built here with the release flags.
make --no-print-directory -s "$B/loadgen"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/finlock-bench.XXXXXX")
PIDS=""
PG_DIR=""
cleanup() {
	pg_stop
	for p in $PIDS; do
		kill "$p" 2>/dev/null || true
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RESULTS=$TMP/results
: >"$RESULTS"
REPORT=$B/report.txt

quick() { [ "${BENCH_QUICK:-0}" = 1 ]; }

# result ID NAME FIGURE BASELINE RATIO TARGET MET - one line of the report
# (the format of bench/bench.h).
result() {
	echo "RESULT|$1|$2|$3|$4|$5|$6|$7" | tee -a "$RESULTS"
}

# run CMD... - runs a benchmark program, shows its output, keeps its
# RESULT lines.
run() {
	"$@" >"$TMP/out" 2>&1 || {
		cat "$TMP/out"
		echo "bench: $* failed" >&2
		return 1
	}
	cat "$TMP/out"
	grep '^RESULT|' "$TMP/out" >>"$RESULTS" || true
}

elapsed() { echo $(($(date +%s) - T0)); }

section() { printf '\n== %s (at %ss)\n' "$1" "$(elapsed)"; }

# kv FILE KEY - a value from loadgen's key=value output.
kv() { sed -n "s/^$2=//p" "$1" | head -1; }

# ratio A B - A/B with two decimals ("-" if B is 0 or empty).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

commas() { awk -v n="$1" 'BEGIN { s = sprintf("%d", n); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'; }

# --- the machine -------------------------------------------------------------

machine() {
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
	echo "machine: $(nproc) cores ($cpu), $mem, $(uname -sr)"
	echo "sqlite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1), libsodium $(pkg-config --modversion libsodium), libmicrohttpd $(pkg-config --modversion libmicrohttpd), $("$NGINX" -v 2>&1 | sed 's/.*: //')"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
}

# --- servers -------------------------------------------------------------------

CACHE_ARGS=${BENCH_DEVICE_CACHE:+--device-cache $BENCH_DEVICE_CACHE}
UNLIMITED="--public-rate 1000000 --public-burst 1000000 --public-global-rate 1000000 --public-global-burst 1000000"

# free_port - a loopback port nobody listens on now.
free_port() { "$B/loadgen" --free-port; }

# nginx_start PORT BODY_BYTES - nginx answering every request with a fixed
# JSON body of exactly BODY_BYTES bytes, 2 workers (one per core), access
# log off, keep-alive without limit.
nginx_start() {
	port=$1
	size=$2
	dir=$TMP/nginx
	mkdir -p "$dir"
	pad=$(awk -v n="$((size - 10))" 'BEGIN { s = ""; while (length(s) < n) s = s "x"; print s }')
	user=""
	[ "$(id -u)" = 0 ] && user="user root root;"
	cat >"$dir/nginx.conf" <<EOF
worker_processes 2;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
$user
worker_rlimit_nofile 20000;
events { worker_connections 20000; use epoll; }
http {
	access_log off;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	keepalive_requests 100000000;
	keepalive_timeout 300s;
	default_type application/json;
	server {
		listen 127.0.0.1:$port;
		location / { return 200 '{"pad":"$pad"}'; }
	}
}
EOF
	"$NGINX" -p "$dir" -c "$dir/nginx.conf" &
	NGINX_PID=$!
	PIDS="$PIDS $NGINX_PID"
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
		i=$((i + 1))
		[ $i -gt 50 ] && {
			cat "$dir/error.log" >&2
			echo "bench: nginx did not start" >&2
			return 1
		}
		sleep 0.1
	done
}

nginx_stop() {
	kill "$NGINX_PID" 2>/dev/null || true
	wait "$NGINX_PID" 2>/dev/null || true
}

# finlockd_start DIR [ARGS...] - finlockd from $BIN on a fresh data
# directory DIR/data and a free loopback port; sets FL_PID, FL_PORT,
# FL_URL, FL_DATA, FL_OPKEY (the operator key it prints at first start).
finlockd_start() {
	dir=$1
	shift
	mkdir -p "$dir"
	FL_DATA=$dir/data
	FL_PORT=$(free_port)
	# (removed here, not by the redirection, which the child makes:
	# the wait below must not read a previous start's lines)
	rm -f "$dir/stdout"
	"$BIN/finlockd" --data "$FL_DATA" --listen "127.0.0.1:$FL_PORT" \
		--log-level warn "$@" >"$dir/stdout" 2>"$dir/log" &
	FL_PID=$!
	PIDS="$PIDS $FL_PID"
	i=0
	until grep -q '^listening on' "$dir/stdout" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$FL_PID" 2>/dev/null; then
			tail -5 "$dir/log" >&2
			echo "bench: finlockd did not start" >&2
			return 1
		fi
		sleep 0.1
	done
	FL_URL=http://127.0.0.1:$FL_PORT
	FL_OPKEY=$(sed -n 's/^operator key: //p' "$dir/stdout")
}

finlockd_stop() {
	kill "$FL_PID" 2>/dev/null || true
	wait "$FL_PID" 2>/dev/null || true
}

# has_route METHOD PATH - finlockd routes it (any answer but 404/405).
has_route() {
	code=$(curl -s -o /dev/null -w '%{http_code}' -X "$1" "$FL_URL$2") || true
	if [ "$code" = 000 ] || [ -z "$code" ]; then
		echo "bench: finlockd did not answer $1 $2" >&2
		return 1
	fi
	[ "$code" != 404 ] && [ "$code" != 405 ]
}

# rss_kib PID - resident memory of a process, KiB.
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# --- the fleet: finlockd with N enrolled devices ------------------------------

# lender DIR - a tenant and its admin key through the operator key of the
# finlockd running on DIR; sets TENANT and ADMIN ($TMP/admin holds the key).
lender() {
	"$B/bench_fleet" --url "$FL_URL" --operator-key "$FL_OPKEY" \
		--lender-out "$1/lender"
	TENANT=$(sed -n 1p "$1/lender")
	ADMIN=$(sed -n 2p "$1/lender")
	echo "$ADMIN" >"$TMP/admin"
}

# Leaves finlockd running (FL_*) with N devices enrolled, their keys in
# $TMP/devs, and sets DEVAPI=1 when it serves the device protocol
# (otherwise DEVAPI_WHY says what is missing).
DEVAPI=0
DEVAPI_WHY=""

fleet() {
	section "the fleet for benchmarks 1, 2 and 5"
	n=$1
	finlockd_start "$TMP/f1"
	opkey=$FL_OPKEY
	if ! has_route POST /v1/devices; then
		DEVAPI_WHY="finlockd has no lender device API (POST /v1/devices)"
		return 0
	fi
	lender "$TMP/f1"
	finlockd_stop
	# Registration, contracts and enrollment keys through finlockd's own
	# store and decision code (bench_sweep.c says why and how).
	"$B/bench_sweep" fill "$FL_DATA" "$TENANT" "$n" --enroll "$n" \
		--out "$TMP/devs" | grep -v '='
	# Every phone here comes from 127.0.0.1: the per-address limit on
	# enrollments (the public rate limit) is lifted for the benchmark, and
	# the connection cap raised above the 10,000 waits of benchmark 5.
	finlockd_start "$TMP/f1" --max-connections 12000 $UNLIMITED $CACHE_ARGS
	FL_OPKEY=$opkey
	if ! has_route POST /v1/device/enroll || ! has_route POST /v1/device/checkin ||
		! has_route GET /v1/device/wait; then
		DEVAPI_WHY="finlockd does not serve the device protocol (POST /v1/device/enroll, POST /v1/device/checkin, GET /v1/device/wait) yet"
		return 0
	fi
	ROOT=$("$BIN/finlockd" --data "$FL_DATA" root-pubkey 2>/dev/null)
	# A thousand more through the real lender API and enrollment, for
	# their rates; they join the fleet.
	k=1000
	quick && k=100
	"$B/bench_fleet" --url "$FL_URL" --admin-key "$ADMIN" --devices "$k" \
		--root "$ROOT" --out "$TMP/devs.api" --threads 8 |
		tee "$TMP/fleet" | grep -v '='
	[ "$(kv "$TMP/fleet" failures)" = 0 ] || {
		echo "bench: registering or enrolling through the API failed" >&2
		return 1
	}
	cat "$TMP/devs.api" >>"$TMP/devs"
	DEVAPI=1
}

# --- 1-restart: the fleet reconnecting after a restart -----------------------

# After the warm runs (every device checked in since the start): finlockd
# stopped and started again on the same data directory, then every device
# checks in once, all at once. Time to first answer: from the start of
# the process to its first answer (/healthz; start-up checks included).
bench_restart() {
	opkey=$FL_OPKEY
	finlockd_stop
	echo "  restart (load $(cut -d' ' -f1-3 /proc/loadavg))"
	t0=$(date +%s%N)
	finlockd_start "$TMP/f1" --max-connections 12000 $UNLIMITED $CACHE_ARGS
	FL_OPKEY=$opkey
	until curl -sf -o /dev/null "$FL_URL/healthz"; do sleep 0.01; done
	t1=$(date +%s%N)
	up_ms=$(((t1 - t0) / 1000000))
	"$B/loadgen" --port "$FL_PORT" --devices "$TMP/devs" \
		--conns 256 --rounds 1 --duration 300 --save \
		--verify 100 >"$TMP/restart"
	t2=$(date +%s%N)
	r_rps=$(kv "$TMP/restart" rps)
	echo "  finlockd, first check-in of every device since its restart: $(commas "$r_rps") req/s ($(kv "$TMP/restart" ok) in $(kv "$TMP/restart" elapsed) s, p50 $(kv "$TMP/restart" p50_us) us, p99 $(kv "$TMP/restart" p99_us) us, non-2xx $(kv "$TMP/restart" non2xx), answers verified $(kv "$TMP/restart" verified), failed $(kv "$TMP/restart" verify_fail)); start to first answer (/healthz) $up_ms ms, start to the last device answered $(((t2 - t0) / 1000000)) ms (load $(cut -d' ' -f1-3 /proc/loadavg))"
	r=$(ratio "$r_rps" "$n_rps")
	met=$(awk -v r="$r" 'BEGIN { print r == "-" ? "-" : (r + 0 >= 0.3) ? "yes" : "no" }')
	result 1-restart "first check-ins after a restart" \
		"$(commas "$r_rps") req/s" "nginx $(commas "$n_rps") req/s" \
		"$r" ">= 0.3x nginx" "$met"
	result 1-up "restart: start to first answer" \
		"$up_ms ms" "-" "-" "-" "-"
}

# --- 1-full: phones that do not say token_held ------------------------------

# The same warm check-ins from phones of a version before token_held:
# every answer carries the device's token (packed in memory, put together
# for each answer), against nginx answering a body of that size. A first
# pass (each device once) signs the tokens the fleet's phones have not
# needed from this process yet; then the timed run.
bench_full() {
	"$B/loadgen" --port "$FL_PORT" --devices "$TMP/devs" \
		--conns "$conns" --rounds 1 --duration 300 --save \
		--full-answers >"$TMP/full.first"
	echo "  finlockd, phones without token_held, first pass (their tokens signed or rebuilt from the memo): $(commas "$(kv "$TMP/full.first" rps)") req/s"
	"$B/loadgen" --port "$FL_PORT" --devices "$TMP/devs" \
		--conns "$conns" --warmup 2 --duration "$dur" --save \
		--verify 1000 --full-answers >"$TMP/full"
	fbody=$(kv "$TMP/full" body_bytes)
	full_rps=$(kv "$TMP/full" rps)
	echo "  finlockd, phones without token_held (the token in every answer, $fbody bytes of body): $(commas "$full_rps") req/s, p50 $(kv "$TMP/full" p50_us) us, p99 $(kv "$TMP/full" p99_us) us, non-2xx $(kv "$TMP/full" non2xx), answers verified $(kv "$TMP/full" verified) (failed $(kv "$TMP/full" verify_fail))"
	[ -x "$NGINX" ] || return 0
	nport=$(free_port)
	nginx_start "$nport" "${fbody%.*}"
	"$B/loadgen" --port "$nport" --devices "$TMP/devs" --conns "$conns" \
		--warmup 2 --duration "$dur" --full-answers >"$TMP/ngx.full"
	nginx_stop
	nf_rps=$(kv "$TMP/ngx.full" rps)
	echo "  nginx, the same body: $(commas "$nf_rps") req/s, p50 $(kv "$TMP/ngx.full" p50_us) us, p99 $(kv "$TMP/ngx.full" p99_us) us"
	result 1-full "check-ins, phones without token_held" \
		"$(commas "$full_rps") req/s" "nginx $(commas "$nf_rps") req/s" \
		"$(ratio "$full_rps" "$nf_rps")" "-" "-"
}

# --- 1: check-in throughput ---------------------------------------------------

bench_checkin() {
	section "1: check-in throughput, finlockd (SQLite) vs nginx"
	n=$1
	conns=256
	dur=10
	quick && dur=3
	body=1000
	if [ $DEVAPI = 1 ]; then
		rss0=$(rss_kib "$FL_PID")
		# First contact: every device checks in once, the first time
		# since finlockd started (its MAC key is derived and its token
		# signed then). This also measures the size of the check-in
		# answer, which nginx will answer with.
		"$B/loadgen" --port "$FL_PORT" --devices "$TMP/devs" \
			--conns "$conns" --rounds 1 --duration 300 --save \
			--verify 100 >"$TMP/cold"
		body=$(kv "$TMP/cold" body_bytes)
		c_rps=$(kv "$TMP/cold" rps)
		echo "  finlockd, first check-in of every device since its start: $(commas "$c_rps") req/s ($(kv "$TMP/cold" ok) in $(kv "$TMP/cold" elapsed) s, p50 $(kv "$TMP/cold" p50_us) us, p99 $(kv "$TMP/cold" p99_us) us, non-2xx $(kv "$TMP/cold" non2xx), answers verified $(kv "$TMP/cold" verified), failed $(kv "$TMP/cold" verify_fail))"
		echo "  finlockd's check-in answer: $body bytes of body"
		rss1=$(rss_kib "$FL_PID")
		echo "  finlockd resident memory: $((rss0 / 1024)) MiB before the first check-ins, $((rss1 / 1024)) MiB after ($(awk -v a="$rss0" -v b="$rss1" -v n="$(wc -l <"$TMP/devs")" 'BEGIN { printf "%.1f", (b - a) / n }') KiB per device seen)"
	else
		echo "  $DEVAPI_WHY: nginx alone, $n devices of random keys, a $body-byte body"
		"$B/loadgen" --fake-devices "$n" "$TMP/devs.fake"
	fi
	devs=$TMP/devs
	[ $DEVAPI = 1 ] || devs=$TMP/devs.fake

	if [ -x "$NGINX" ]; then
		nport=$(free_port)
		nginx_start "$nport" "$body"
		"$B/loadgen" --port "$nport" --devices "$devs" --conns "$conns" \
			--warmup 2 --duration "$dur" >"$TMP/ngx"
		nginx_stop
	else
		echo "rps=0" >"$TMP/ngx"
	fi
	n_rps=$(kv "$TMP/ngx" rps)
	n_rps1=$n_rps
	echo "  nginx: $(commas "$n_rps") req/s, p50 $(kv "$TMP/ngx" p50_us) us, p99 $(kv "$TMP/ngx" p99_us) us, non-2xx $(kv "$TMP/ngx" non2xx), errors $(kv "$TMP/ngx" errors), body $(kv "$TMP/ngx" body_bytes) bytes"

	if [ $DEVAPI = 1 ]; then
		"$B/loadgen" --port "$FL_PORT" --devices "$TMP/devs" \
			--conns "$conns" --warmup 2 --duration "$dur" --save \
			--verify 1000 >"$TMP/fl"
		f_rps=$(kv "$TMP/fl" rps)
		echo "  finlockd: $(commas "$f_rps") req/s, p50 $(kv "$TMP/fl" p50_us) us, p99 $(kv "$TMP/fl" p99_us) us, non-2xx $(kv "$TMP/fl" non2xx) (last $(kv "$TMP/fl" last_bad_status)), errors $(kv "$TMP/fl" errors), answers verified $(kv "$TMP/fl" verified) (failed $(kv "$TMP/fl" verify_fail))"
		r=$(ratio "$f_rps" "$n_rps")
		met=$(awk -v r="$r" 'BEGIN { print r == "-" ? "-" : (r + 0 >= 0.5) ? "yes" : "no" }')
		ndev=$(commas "$(wc -l <"$TMP/devs")")
		result 1 "check-in throughput, $ndev devices" \
			"$(commas "$f_rps") req/s" "nginx $(commas "$n_rps") req/s" \
			"$r" ">= 0.5x nginx" "$met"
		r=$(ratio "$c_rps" "$n_rps")
		result 1-cold "first check-ins after a start" \
			"$(commas "$c_rps") req/s" "nginx $(commas "$n_rps") req/s" \
			"$r" "-" "-"
		bench_full
		bench_restart
	else
		result 1 "check-in throughput" "not measured: $DEVAPI_WHY" \
			"nginx $(commas "$n_rps") req/s" "-" ">= 0.5x nginx" "-"
	fi
}

# --- 5 and 2: waiting devices, payment to unlock ------------------------------

bench_waits() {
	section "5 and 2: 10,000 waiting devices, payment to unlock"
	w=10000
	quick && w=500
	if [ $DEVAPI = 0 ]; then
		result 5 "finlockd RSS, waiting connections" "not measured: $DEVAPI_WHY" "-" "-" "< 200 MiB" "-"
		result 2 "payment to unlock" "not measured: $DEVAPI_WHY" "-" "-" "p99 < 50 ms" "-"
		return 0
	fi
	run "$B/bench_wake" --port "$FL_PORT" --devices "$TMP/devs" \
		--root "$ROOT" --pid "$FL_PID" --waiters "$w" --settle 3 \
		--mode pay --admin-key-file "$TMP/admin" --rate 100 \
		--duration 20
}

# --- 8: Daraja C2B confirmations ------------------------------------------------

# wake_run OUT ARGS... - bench_wake in pay mode on the fleet's finlockd
# with 10,000 waiting phones; its key=value lines into OUT.
wake_run() {
	out=$1
	shift
	"$B/bench_wake" --port "$FL_PORT" --devices "$TMP/devs" \
		--root "$ROOT" --pid "$FL_PID" --waiters "$CW" --settle 2 \
		--mode pay "$@" >"$out" 2>&1 || {
		cat "$out"
		echo "bench: bench_wake $* failed" >&2
		return 1
	}
	grep -v -e '^RESULT|' -e '=' "$out"
}

bench_confirm() {
	section "8: Daraja C2B confirmations, 10,000 waiting phones"
	CW=10000
	quick && CW=500
	dur=10
	quick && dur=3
	if [ $DEVAPI = 0 ]; then
		result 8 "C2B confirmations" "not measured: $DEVAPI_WHY" "-" "-" "-" "-"
		return 0
	fi
	# a Daraja source of the fleet's tenant, callbacks from loopback
	curl -s -X POST -H "Authorization: Bearer $ADMIN" \
		-H 'Content-Type: application/json' \
		-d '{"kind":"mpesa_c2b","shortcode":"600000","allowed_networks":["127.0.0.0/8"]}' \
		"$FL_URL/v1/payment-sources" >"$TMP/source"
	cpath=$(sed -n 's/.*"confirmation_url":"[a-z]*:\/\/[^/]*\([^"]*\)".*/\1/p' "$TMP/source")
	if [ -z "$cpath" ]; then
		cat "$TMP/source"
		result 8 "C2B confirmations" "not measured: no payment source" "-" "-" "-" "-"
		return 0
	fi
	# the latency at a rate the feed of a large lender sends (first:
	# every phone still owes, so every confirmation changes its token)
	echo "  Daraja confirmations at 100/s, confirmation to unlocked phone:"
	wake_run "$TMP/cw.lat" --c2b-path "$cpath" --rate 100 --duration 20
	load1=$(cut -d' ' -f1-3 /proc/loadavg)
	# the rates: as fast as eight connections go, each answer durable
	echo "  the lender payment API (POST /v1/devices/{id}/payments), closed loop:"
	wake_run "$TMP/cw.api" --admin-key-file "$TMP/admin" --rate 0 --duration "$dur"
	echo "  Daraja confirmations (POST confirmation_url), closed loop:"
	wake_run "$TMP/cw.c2b" --c2b-path "$cpath" --rate 0 --duration "$dur"
	load2=$(cut -d' ' -f1-3 /proc/loadavg)
	n_rps=${n_rps1:-}
	if [ -z "$n_rps" ] && [ -x "$NGINX" ]; then
		nport=$(free_port)
		nginx_start "$nport" 100
		"$B/loadgen" --port "$nport" --devices "$TMP/devs" --conns 8 \
			--warmup 1 --duration "$dur" >"$TMP/ngx8"
		nginx_stop
		n_rps=$(kv "$TMP/ngx8" rps)
	fi
	a_rps=$(kv "$TMP/cw.api" pays_per_s)
	c_rps=$(kv "$TMP/cw.c2b" pays_per_s)
	echo "  load average (1, 5, 15 min): $load1 after the latency run, $load2 after the rates"
	if [ "$(kv "$TMP/cw.c2b" pay_errors)" != 0 ] || [ "$(kv "$TMP/cw.lat" lost)" != 0 ]; then
		result 8 "C2B confirmations" "not measured: $(kv "$TMP/cw.c2b" pay_errors) refused, $(kv "$TMP/cw.lat" lost) never woke" "-" "-" "-" "-"
		return 0
	fi
	result 8a "C2B confirmations/s (durable)" "$c_rps/s" \
		"payment API $a_rps/s" "$(ratio "$c_rps" "$a_rps")" "-" "-"
	[ -n "$n_rps" ] && result 8a-ngx "C2B confirmations/s vs nginx" \
		"$c_rps/s" "nginx $(commas "$n_rps") req/s" \
		"$(awk -v a="$c_rps" -v b="$n_rps" 'BEGIN { printf "%.4f", a / b }')" "-" "-"
	result 8b "confirmation to unlock, p50" \
		"$(kv "$TMP/cw.lat" wake_p50_ms) ms" \
		"answer 200: $(kv "$TMP/cw.lat" ans_p50_ms) ms" \
		"$(ratio "$(kv "$TMP/cw.lat" wake_p50_ms)" "$(kv "$TMP/cw.lat" ans_p50_ms)")" \
		"< 1 s" "$(awk -v v="$(kv "$TMP/cw.lat" wake_p50_ms)" 'BEGIN { print v + 0 < 1000 ? "yes" : "no" }')"
	result 8b "confirmation to unlock, p99" \
		"$(kv "$TMP/cw.lat" wake_p99_ms) ms" \
		"answer 200: $(kv "$TMP/cw.lat" ans_p99_ms) ms" \
		"$(ratio "$(kv "$TMP/cw.lat" wake_p99_ms)" "$(kv "$TMP/cw.lat" ans_p99_ms)")" \
		"< 1 s" "$(awk -v v="$(kv "$TMP/cw.lat" wake_p99_ms)" 'BEGIN { print v + 0 < 1000 ? "yes" : "no" }')"
}

# --- 3: the sweep ----------------------------------------------------------------

# 3(b), finlockd's half: every device of the fleet re-decided through
# finlockd's decision code, against a plain scan of the rows it reads.
bench_redecide() {
	section "3(b): finlockd re-decides every device of the fleet vs a plain scan"
	if [ -z "${TENANT:-}" ]; then
		result 3b "re-decide all devices (finlockd)" "not measured: $DEVAPI_WHY" "-" "-" "<= 3x scan" "-"
		return 0
	fi
	run "$B/bench_sweep" redecide "$TMP/f1/data"
}

# 3(a): 1% of 1,000,000 contracts reach a reminder at the same instant.
bench_due() {
	section "3(a): the sweep, 1% of 1,000,000 contracts due at once"
	n=1000000
	due=10000
	quick && n=20000 && due=200
	finlockd_start "$TMP/f3"
	if ! has_route POST /v1/devices; then
		finlockd_stop
		result 3a "sweep: 1% due at once" "not measured: finlockd has no lender device API" "-" "-" "< 1 s" "-"
		return 0
	fi
	lender "$TMP/f3"
	opkey3=$FL_OPKEY
	# The phone side needs the waits (the fleet may not have run).
	if has_route POST /v1/device/checkin && has_route GET /v1/device/wait; then
		DEVAPI=1
	else
		DEVAPI_WHY="finlockd does not serve the device protocol (POST /v1/device/checkin, GET /v1/device/wait) yet"
	fi
	finlockd_stop
	# The due set's instant: far enough after the import for finlockd
	# to start and the waits to be in place.
	rc=0
	"$B/bench_sweep" fill "$FL_DATA" "$TENANT" "$n" --due "$due" \
		--due-in 15 --enroll "$due" --bulk yes --out "$TMP/due.devs" \
		>"$TMP/fill" || rc=$?
	if [ $rc = 3 ]; then
		# finlockd's schema moved past what the bulk import writes:
		# everything through the store, at a tenth of the size.
		n=$((n / 10))
		echo "  the bulk import does not know this schema: $n devices through finlockd's store instead"
		rm -rf "$FL_DATA"
		finlockd_start "$TMP/f3"
		lender "$TMP/f3"
		finlockd_stop
		"$B/bench_sweep" fill "$FL_DATA" "$TENANT" "$n" --due "$due" \
			--due-in 15 --enroll "$due" --out "$TMP/due.devs" >"$TMP/fill"
	elif [ $rc != 0 ]; then
		return 1
	fi
	grep -v '=' "$TMP/fill"
	due_at=$(kv "$TMP/fill" due_at)
	finlockd_start "$TMP/f3" --max-connections 12000 ${BENCH_DUE_ARGS:-}
	# The store side (decided and committed), always; the phone side
	# (woken with a verified token) when finlockd serves the waits.
	"$B/bench_sweep" watch "$FL_DATA" "$due_at" 30 >"$TMP/watch" 2>&1 &
	watch_pid=$!
	if [ $DEVAPI = 1 ]; then
		root3=$("$BIN/finlockd" --data "$FL_DATA" root-pubkey 2>/dev/null)
		run "$B/bench_wake" --port "$FL_PORT" --devices "$TMP/due.devs" \
			--root "$root3" --pid "$FL_PID" --waiters "$due" \
			--settle 0.5 --mode due --due-at "$due_at" --timeout 30 ${BENCH_DUE_INLINE:+--check-inline yes}
	else
		result 3a "sweep: 1% due at once, phones woken" "not measured: $DEVAPI_WHY" "-" "-" "< 1 s" "-"
	fi
	wait "$watch_pid" || true
	cat "$TMP/watch"
	grep '^RESULT|' "$TMP/watch" >>"$RESULTS" || true
	echo "  tokens whose signature was made ahead of the instant: $(curl -s -H "Authorization: Bearer $opkey3" "$FL_URL/metrics" | sed -n 's/^finlockd_tokens_signed_ahead_total //p')"
	finlockd_stop
}

# --- cluster: PostgreSQL, and two nodes behind nginx -------------------------
#
# Part 4 of "Past one machine": check-ins per second on one node on
# PostgreSQL and on two nodes behind nginx (each against nginx serving the
# same bytes, measured here, beside benchmark 1's SQLite figure when it ran
# in the same invocation), payment to unlock with 10,000 waiting phones
# spread over the two nodes, and the 1% sweep on PostgreSQL. The PostgreSQL
# server is a private cluster in $TMP on a free port, fsync and
# synchronous_commit on (a 2xx means flushed, as on SQLite), stopped at the
# end.

PGBIN=/usr/lib/postgresql/15/bin

# as_pg CMD... - CMD as the postgres user when root (initdb refuses root).
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# pg_start - a private PostgreSQL 15 cluster; sets PG_PORT.
pg_start() {
	PG_DIR=$TMP/pg
	mkdir -p "$PG_DIR"
	if [ "$(id -u)" = 0 ]; then
		chmod 711 "$TMP"
		chown postgres:postgres "$PG_DIR"
	fi
	as_pg "$PGBIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 \
		--locale=C >"$TMP/initdb.log" 2>&1 || {
		cat "$TMP/initdb.log" >&2
		return 1
	}
	PG_PORT=$(free_port)
	as_pg "$PGBIN/pg_ctl" -D "$PG_DIR/data" -w -t 60 -l "$PG_DIR/server.log" \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=on -c synchronous_commit=on -c shared_buffers=1GB -c max_connections=300 -c max_wal_size=8GB -c checkpoint_timeout=30min ${BENCH_PG_OPTS:-}" \
		start >/dev/null || {
		cat "$PG_DIR/server.log" >&2
		return 1
	}
	echo "  $("$PGBIN/postgres" -V) on 127.0.0.1:$PG_PORT, a private cluster: fsync on, synchronous_commit on, shared_buffers 1GB"
}

pg_stop() {
	[ -n "$PG_DIR" ] && [ -d "$PG_DIR/data" ] || return 0
	as_pg "$PGBIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
	[ -z "${BENCH_PG_LOG:-}" ] || cp "$PG_DIR/server.log" "$BENCH_PG_LOG"
	PG_DIR=""
}

# pg_db NAME - a new database NAME; prints its URI.
pg_db() {
	"$PGBIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
		-c "CREATE DATABASE $1" >&2
	echo "postgresql://postgres@127.0.0.1:$PG_PORT/$1"
}

# lb_start PORT UPSTREAM_PORT... - Debian's nginx as the load balancer in
# front of the nodes with docs/deploy.md's cluster block (each phone to
# one node by its id, max_fails, keepalive 64, proxy_next_upstream error
# timeout), 2 workers as in nginx_start; LB_RR=1: round robin instead of
# the hash on the device id. Sets LB_PID.
lb_start() {
	port=$1
	shift
	lbhash='hash $http_x_finlock_device consistent;'
	[ "${LB_RR:-0}" = 1 ] && lbhash=""
	dir=$TMP/lb
	mkdir -p "$dir"
	ups=""
	for u in "$@"; do
		ups="$ups server 127.0.0.1:$u max_fails=1 fail_timeout=5s;"
	done
	user=""
	[ "$(id -u)" = 0 ] && user="user root root;"
	cat >"$dir/nginx.conf" <<NGINXCONF
worker_processes 2;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
$user
worker_rlimit_nofile 50000;
events { worker_connections 25000; use epoll; }
http {
	access_log off;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	uwsgi_temp_path $dir/uwsgi;
	scgi_temp_path $dir/scgi;
	keepalive_requests 100000000;
	keepalive_timeout 300s;
	upstream finlockd_nodes {
		$lbhash
		$ups
		keepalive 64;
	}
	server {
		listen 127.0.0.1:$port;
		client_max_body_size 256k;
		large_client_header_buffers 4 16k;
		location / {
			proxy_pass http://finlockd_nodes;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_next_upstream error timeout;
			proxy_connect_timeout 2s;
			proxy_read_timeout 90s;
			proxy_buffering off;
		}
	}
}
NGINXCONF
	"$NGINX" -p "$dir" -c "$dir/nginx.conf" &
	LB_PID=$!
	PIDS="$PIDS $LB_PID"
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$port/"; do
		i=$((i + 1))
		[ $i -gt 50 ] && {
			cat "$dir/error.log" >&2
			echo "bench: nginx (load balancer) did not start" >&2
			return 1
		}
		sleep 0.1
	done
}

# pg_results FILE - FILE's RESULT lines with "pg-" before the id and
# "(PostgreSQL)" after the name, shown and kept.
pg_results() {
	sed 's/^RESULT|\([^|]*\)|\([^|]*\)|/RESULT|pg-\1|\2 (PostgreSQL)|/' "$1" >"$1.pg"
	cat "$1.pg"
	grep '^RESULT|' "$1.pg" >>"$RESULTS" || true
}

# load - the load average now (the machine is shared).
load() { cut -d' ' -f1-3 /proc/loadavg; }

# checkin_run PORT LABEL FILE - a warm check-in measurement as in
# benchmark 1, its loadgen output in FILE.
checkin_run() {
	"$B/loadgen" --port "$1" --devices "$TMP/cdevs" --conns 256 \
		--warmup 2 --duration "$dur" --save --verify 1000 >"$3"
	echo "  $2: $(commas "$(kv "$3" rps)") req/s, p50 $(kv "$3" p50_us) us, p99 $(kv "$3" p99_us) us, non-2xx $(kv "$3" non2xx) (last $(kv "$3" last_bad_status)), errors $(kv "$3" errors), answers verified $(kv "$3" verified) (failed $(kv "$3" verify_fail)); load $(load)"
}

bench_cluster() {
	section "cluster: PostgreSQL, one node and two behind nginx"
	n=${BENCH_PG_DEVICES:-100000}
	w=10000
	dur=10
	if quick; then
		n=2000 w=500 dur=3
	fi
	echo "  load average at the start: $(load)"
	pg_start
	uri=$(pg_db fleet)

	# The fleet: the first node makes the keys and the schema; the
	# devices go in by COPY (bench_sweep fill --database --bulk yes: the
	# store path costs ~30 ms a device here under load, a libpq round
	# trip per statement), every one enrolled as a phone.
	finlockd_start "$TMP/c1" --database "$uri"
	lender "$TMP/c1"
	finlockd_stop
	t=$(date +%s)
	"$B/bench_sweep" fill "$TMP/c1/data" "$TENANT" "$n" --enroll "$n" \
		--bulk yes --database "$uri" --out "$TMP/cdevs" | grep -v '='
	echo "  ($(($(date +%s) - t)) s; load $(load))"
	# the second node: the first one's key files (docs/deploy.md)
	mkdir -p "$TMP/c2"
	cp -a "$TMP/c1/data" "$TMP/c2/data"
	ROOT=$("$BIN/finlockd" --data "$TMP/c1/data" --database "$uri" root-pubkey 2>/dev/null)

	# One node on PostgreSQL.
	finlockd_start "$TMP/c1" --database "$uri" --max-connections 12000 $UNLIMITED
	N1_PID=$FL_PID N1_PORT=$FL_PORT
	"$B/loadgen" --port "$N1_PORT" --devices "$TMP/cdevs" --conns 256 \
		--rounds 1 --duration 300 --save --verify 100 >"$TMP/pgcold"
	body=$(kv "$TMP/pgcold" body_bytes)
	echo "  one node, first check-in of every device since its start: $(commas "$(kv "$TMP/pgcold" rps)") req/s (non-2xx $(kv "$TMP/pgcold" non2xx), verified $(kv "$TMP/pgcold" verified), failed $(kv "$TMP/pgcold" verify_fail)); answer $body bytes"
	checkin_run "$N1_PORT" "one node on PostgreSQL" "$TMP/pg1"

	# The baseline: nginx serving the same bytes, same load.
	nport=$(free_port)
	nginx_start "$nport" "$body"
	"$B/loadgen" --port "$nport" --devices "$TMP/cdevs" --conns 256 \
		--warmup 2 --duration "$dur" >"$TMP/cngx"
	nginx_stop
	c_ngx=$(kv "$TMP/cngx" rps)
	echo "  nginx, the same $body bytes: $(commas "$c_ngx") req/s, p50 $(kv "$TMP/cngx" p50_us) us, p99 $(kv "$TMP/cngx" p99_us) us; load $(load)"

	# One node behind the load balancer: what the proxy hop costs.
	lport=$(free_port)
	lb_start "$lport" "$N1_PORT"
	checkin_run "$lport" "one node on PostgreSQL behind nginx" "$TMP/pg1lb"
	kill "$LB_PID" 2>/dev/null || true
	wait "$LB_PID" 2>/dev/null || true

	# Two nodes behind nginx: docs/deploy.md's block (each phone to one
	# node), then round robin (a phone alternating between the nodes).
	finlockd_start "$TMP/c2" --database "$uri" --max-connections 12000 $UNLIMITED
	N2_PID=$FL_PID N2_PORT=$FL_PORT
	# every phone's first contact with node 2 (as node 1 had it), so
	# both runs below measure warm nodes
	"$B/loadgen" --port "$N2_PORT" --devices "$TMP/cdevs" --conns 256 \
		--rounds 1 --duration 300 --save >"$TMP/pgcold2"
	echo "  node 2, first check-in of every device since its start: $(commas "$(kv "$TMP/pgcold2" rps)") req/s, non-2xx $(kv "$TMP/pgcold2" non2xx)"
	lport=$(free_port)
	lb_start "$lport" "$N1_PORT" "$N2_PORT"
	checkin_run "$lport" "two nodes on PostgreSQL behind nginx (by device)" "$TMP/pg2"
	kill "$LB_PID" 2>/dev/null || true
	wait "$LB_PID" 2>/dev/null || true
	lport=$(free_port)
	LB_RR=1 lb_start "$lport" "$N1_PORT" "$N2_PORT"
	checkin_run "$lport" "two nodes on PostgreSQL behind nginx (round robin)" "$TMP/pg2rr"
	kill "$LB_PID" 2>/dev/null || true
	wait "$LB_PID" 2>/dev/null || true

	ndev=$(commas "$(wc -l <"$TMP/cdevs")")
	if [ -n "${f_rps:-}" ]; then
		r=$(ratio "$f_rps" "${n_rps1:-0}")
		result c1-sqlite "check-ins, 1 node SQLite (= 1)" \
			"$(commas "$f_rps") req/s" "nginx $(commas "${n_rps1:-0}") req/s" \
			"$r" ">= 0.45x nginx" \
			"$(awk -v r="$r" 'BEGIN { print ((r + 0 >= 0.45) ? "yes" : "no") }')"
	fi
	result c1-pg "check-ins, 1 node PostgreSQL, $ndev dev" \
		"$(commas "$(kv "$TMP/pg1" rps)") req/s" "nginx $(commas "$c_ngx") req/s" \
		"$(ratio "$(kv "$TMP/pg1" rps)" "$c_ngx")" "-" "-"
	result c1-pg1lb "check-ins, 1 node PostgreSQL, nginx LB" \
		"$(commas "$(kv "$TMP/pg1lb" rps)") req/s" "nginx $(commas "$c_ngx") req/s" \
		"$(ratio "$(kv "$TMP/pg1lb" rps)" "$c_ngx")" "-" "-"
	# two nodes against one behind the same load balancer
	r=$(ratio "$(kv "$TMP/pg2" rps)" "$(kv "$TMP/pg1lb" rps)")
	result c1-pg2 "check-ins, 2 nodes PostgreSQL, LB by device" \
		"$(commas "$(kv "$TMP/pg2" rps)") req/s" "1 node LB $(commas "$(kv "$TMP/pg1lb" rps)") req/s" \
		"$r" ">= 1x one node" \
		"$(awk -v r="$r" 'BEGIN { print r == "-" ? "-" : ((r + 0 >= 1) ? "yes" : "no") }')"
	result c1-pg2rr "check-ins, 2 nodes PostgreSQL, round robin" \
		"$(commas "$(kv "$TMP/pg2rr" rps)") req/s" "1 node LB $(commas "$(kv "$TMP/pg1lb" rps)") req/s" \
		"$(ratio "$(kv "$TMP/pg2rr" rps)" "$(kv "$TMP/pg1lb" rps)")" "-" "-"

	# Payment to unlock across nodes: waiters alternate between the
	# nodes, payments go to node 1.
	echo "  load average before the waits: $(load)"
	run "$B/bench_wake" --port "$N1_PORT" --port2 "$N2_PORT" \
		--devices "$TMP/cdevs" --root "$ROOT" --pid "$N1_PID" \
		--waiters "$w" --settle 3 --mode pay \
		--admin-key-file "$TMP/admin" --rate 100 --duration 20
	echo "  resident memory with the waits: node 1 $(($(rss_kib "$N1_PID") / 1024)) MiB, node 2 $(($(rss_kib "$N2_PID") / 1024)) MiB; load $(load)"
	kill "$N1_PID" "$N2_PID" 2>/dev/null || true
	wait "$N1_PID" 2>/dev/null || true
	wait "$N2_PID" 2>/dev/null || true
	# (PostgreSQL stays up: bench_cluster_sweep follows, in a database
	# of its own)
}

bench_cluster_sweep() {
	sweep_n=${BENCH_PG_SWEEP:-1000000}
	sweep_due=10000
	quick && sweep_n=20000 sweep_due=200
	[ -n "$PG_DIR" ] || pg_start

	# The 1% sweep on PostgreSQL: the fleet and the due set by COPY, two
	# nodes (one of them sweeps), the phones of
	# the due set waiting on both.
	section "cluster: the sweep on PostgreSQL, 1% of $(commas "$sweep_n") contracts due at once"
	suri=$(pg_db sweep)
	finlockd_start "$TMP/s1" --database "$suri"
	lender "$TMP/s1"
	finlockd_stop
	t=$(date +%s)
	"$B/bench_sweep" fill "$TMP/s1/data" "$TENANT" "$sweep_n" \
		--due "$sweep_due" --due-in 20 --enroll "$sweep_due" --bulk yes \
		--database "$suri" --out "$TMP/sdue.devs" >"$TMP/sfill"
	grep -v '=' "$TMP/sfill"
	echo "  ($(($(date +%s) - t)) s; load $(load))"
	due_at=$(kv "$TMP/sfill" due_at)
	mkdir -p "$TMP/s2"
	cp -a "$TMP/s1/data" "$TMP/s2/data"
	finlockd_start "$TMP/s1" --database "$suri" --max-connections 12000
	S1_PID=$FL_PID S1_PORT=$FL_PORT
	finlockd_start "$TMP/s2" --database "$suri" --max-connections 12000
	S2_PID=$FL_PID S2_PORT=$FL_PORT
	sroot=$("$BIN/finlockd" --data "$TMP/s1/data" --database "$suri" root-pubkey 2>/dev/null)
	"$B/bench_sweep" watch "$TMP/s1/data" "$due_at" 120 --database "$suri" \
		>"$TMP/swatch" 2>&1 &
	watch_pid=$!
	"$B/bench_wake" --port "$S1_PORT" --port2 "$S2_PORT" \
		--devices "$TMP/sdue.devs" --root "$sroot" --pid "$S1_PID" \
		--waiters "$sweep_due" --settle 0.5 --mode due --due-at "$due_at" \
		--timeout 120 ${BENCH_DUE_INLINE:+--check-inline yes} >"$TMP/swake" 2>&1 || echo "bench: bench_wake (due, PostgreSQL) failed" >&2
	pg_results "$TMP/swake"
	wait "$watch_pid" || true
	pg_results "$TMP/swatch"
	echo "  load average at the end: $(load)"
	kill "$S1_PID" "$S2_PID" 2>/dev/null || true
	wait "$S1_PID" 2>/dev/null || true
	wait "$S2_PID" 2>/dev/null || true
	pg_stop
}

# --- 4: the agent --------------------------------------------------------------

bench_agent() {
	section "4: the device agent"
	run "$B/bench_agent" "$TMP"

	# Code size: the agent library's objects, and the smallest firmware
	# that links the whole agent API with libsodium and jansson static.
	a_text=$(size -t build/rel/libflagent.a | awk 'END { print $1 }')
	c_text=$(size -t build/rel/libflcore.a | awk 'END { print $1 }')
	fw=$B/fwmin
	# shellcheck disable=SC2046
	cc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 -g \
		-fno-strict-aliasing -Iinclude -Isrc -o "$fw" bench/fwmin.c \
		build/rel/libflagent.a build/rel/libflcore.a \
		-Wl,-Bstatic -lsodium -ljansson -Wl,-Bdynamic -lpthread -lm \
		-Wl,-Map="$fw.map"
	fw_size=$(size "$fw" | awk 'NR == 2 { print $1 + $2 + $3 }')
	echo 'int main(void) { return 0; }' >"$TMP/empty.c"
	cc -O2 -o "$TMP/empty" "$TMP/empty.c"
	empty_size=$(size "$TMP/empty" | awk 'NR == 2 { print $1 + $2 + $3 }')
	echo "  libflagent.a objects: text $a_text bytes; libflcore.a objects: text $c_text bytes (the whole archive)"
	echo "  minimal firmware (bench/fwmin.c), text+data+bss linked from each archive:"
	perl -ne '
		if (/^ (\.(?:text|rodata|data|bss)\S*)\s*$/) { $sec = $1; $pend = 1; next }
		if ($pend && /^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)/) { add($sec, hex($1), $2); $pend = 0; next }
		$pend = 0;
		if (/^ (\.(?:text|rodata|data|bss)\S*)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)/) { add($1, hex($2), $3) }
		sub add { my ($s, $n, $f) = @_; return unless $f =~ /\.a\(/; $f =~ s/\(.*//; $f =~ s{.*/}{}; $t{$f} += $n }
		END { printf "    %-14s %7d bytes\n", $_, $t{$_} for sort keys %t }' "$fw.map"
	fw_kib=$(awk -v a="$fw_size" -v b="$empty_size" 'BEGIN { printf "%.0f", (a - b) / 1024 }')
	echo "  whole minimal firmware: $fw_size bytes; an empty C program: $empty_size bytes"
	result 4g "agent: code size (minimal firmware)" "$fw_kib KiB" "-" "-" "-" "-"
	result 4h "agent: libflagent.a objects (text)" "$(awk -v a="$a_text" 'BEGIN { printf "%.1f KiB", a / 1024 }')" "-" "-" "-" "-"
}

# --- 3(b): the policy engine against a plain scan -----------------------------

bench_policy() {
	section "3(b): re-deciding every contract, policy engine vs plain scan"
	n=1000000
	quick && n=50000
	run "$B/bench_policy" "$TMP/policy.db" "$n"
	rm -f "$TMP/policy.db"
}

# --- 6 and 7: the console at scale -----------------------------------------------

# luhn BODY14 - BODY14 with its IMEI check digit.
luhn() {
	echo "$1" | awk '{ s = 0; for (i = 1; i <= 14; i++) { d = substr($0, i, 1) + 0;
		if (i % 2 == 0) { d *= 2; if (d > 9) d -= 9 } s += d }
		printf "%s%d\n", $0, (10 - s % 10) % 10 }'
}

# timed ID NAME TARGET_MS METHOD PATH [BODY] - the median and slowest of 5
# answers to one console call (with the admin key, as the console's
# session acts), each a new connection as a page's first call is.
timed() {
	id=$1 name=$2 target=$3 method=$4 path=$5 body=${6:-}
	: >"$TMP/times"
	for i in 1 2 3 4 5; do
		if [ -n "$body" ]; then
			b=$(echo "$body" | sed "s/@N@/$i/g; s/@IMEI@/$(luhn "${IMEIBASE:-3599000000000}$i")/g")
			t=$(curl -s -o "$TMP/body" -w '%{http_code} %{time_total}' -X "$method" \
				-H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
				--data "$b" "$FL_URL$path")
		else
			t=$(curl -s -o "$TMP/body" -w '%{http_code} %{time_total}' -X "$method" \
				-H "Authorization: Bearer $ADMIN" "$FL_URL$path")
		fi
		case $t in
		2*) echo "${t#* }" >>"$TMP/times" ;;
		*)
			echo "  $method $path: HTTP ${t% *}: $(head -c 300 "$TMP/body")"
			result "$id" "$name" "not measured: HTTP ${t% *}" "-" "-" "< $target ms" "-"
			return 0
			;;
		esac
	done
	sort -n "$TMP/times" | awk -v id="$id" -v name="$name" -v target="$target" '
		{ v[NR] = $1 * 1000 }
		END { med = v[3]; max = v[5]
		      printf "RESULT|%s|%s|%.0f ms (max %.0f)|-|-|< %d ms|%s\n", id, name, med, max, target,
		             (max < target ? "yes" : "no") }' | tee -a "$RESULTS" | sed 's/^RESULT|/  /'
}

# 6: every API call a console page makes, with 100,000 devices.
bench_console() {
	section "6: the console's calls with 100,000 devices"
	n=100000
	quick && n=5000
	finlockd_start "$TMP/c1"
	lender "$TMP/c1"
	finlockd_stop
	rc=0
	"$B/bench_sweep" fill "$FL_DATA" "$TENANT" "$n" --bulk yes \
		>"$TMP/fill" || rc=$?
	if [ $rc = 3 ]; then
		echo "  the bulk import does not know this schema: through finlockd's store instead"
		"$B/bench_sweep" fill "$FL_DATA" "$TENANT" "$n" >"$TMP/fill"
	elif [ $rc != 0 ]; then
		return 1
	fi
	grep -v '=' "$TMP/fill"
	finlockd_start "$TMP/c1"
	# one device of the middle of the list, for the device page
	dev=$(curl -s -H "Authorization: Bearer $ADMIN" \
		"$FL_URL/v1/devices?limit=1&q=3520990005" |
		sed -n 's/.*"items":\[{"id":"\([^"]*\)".*/\1/p')
	[ -n "$dev" ] || dev=$(curl -s -H "Authorization: Bearer $ADMIN" \
		"$FL_URL/v1/devices?limit=1" | sed -n 's/.*"items":\[{"id":"\([^"]*\)".*/\1/p')
	cursor=$(curl -s -H "Authorization: Bearer $ADMIN" \
		"$FL_URL/v1/devices?limit=50&sort=amount_due&order=desc" |
		sed -n 's/.*"next_cursor":"\([^"]*\)".*/\1/p')
	imei=$(curl -s -H "Authorization: Bearer $ADMIN" "$FL_URL/v1/devices/$dev" |
		sed -n 's/.*"imei":"\([0-9]*\)".*/\1/p')
	echo "  $n devices; the device page shows $dev"
	timed 6a "devices: first page" 200 GET "/v1/devices?limit=50"
	timed 6b "devices: search (IMEI digits)" 200 GET "/v1/devices?limit=50&q=${imei#??????}"
	timed 6c "devices: state locked (none: all scanned)" 200 GET "/v1/devices?limit=50&state=locked"
	timed 6d "devices: overdue + stolen + lock held" 200 GET "/v1/devices?limit=50&overdue=true&stolen=true&lock_held=true"
	timed 6e "devices: sort amount due desc" 200 GET "/v1/devices?limit=50&sort=amount_due&order=desc"
	timed 6f "devices: sort amount due, page 2" 200 GET "/v1/devices?limit=50&sort=amount_due&order=desc&cursor=$cursor"
	timed 6g "devices: sort next due" 200 GET "/v1/devices?limit=50&sort=next_due"
	timed 6h "device: GET /v1/devices/{id}" 200 GET "/v1/devices/$dev"
	timed 6i "device: contract" 200 GET "/v1/devices/$dev/contract"
	timed 6j "device: payments" 200 GET "/v1/devices/$dev/payments?limit=500"
	timed 6k "device: audit entries" 200 GET "/v1/audit?target=$dev&limit=500"
	timed 6l "device: pairing requests" 200 GET "/v1/devices/$dev/pairing-requests"
	timed 6m "import: IMEI among own devices" 200 GET "/v1/devices/by-imei/$imei"
	timed 6n "portfolio: $(commas "$n") devices" 200 GET "/v1/reports/portfolio"
	timed 6s "portfolio: collections (?history=true)" 200 GET "/v1/reports/portfolio?history=true"
	timed 6o "keys" 200 GET "/v1/keys?limit=500"
	timed 6p "audit log: first 100" 200 GET "/v1/audit?limit=100"
	timed 6q "session: GET /v1/session" 200 GET "/v1/whoami"
	IMEIBASE=$(printf '3599%09d' $(($$ % 1000000000)))
	timed 6r "register a phone (fsync'd write)" 200 POST "/v1/devices" \
		'{"imei":"@IMEI@","serial":"BENCH-@N@","model":"bench"}'

	finlockd_stop
	rm -rf "$TMP/c1"
}

# 7: the portfolio report over 1,000,000 contracts.
bench_portfolio() {
	section "7: the portfolio report over 1,000,000 contracts"
	n=1000000
	quick && n=20000
	finlockd_start "$TMP/p1"
	lender "$TMP/p1"
	finlockd_stop
	rc=0
	"$B/bench_sweep" fill "$FL_DATA" "$TENANT" "$n" --bulk yes \
		>"$TMP/fill" || rc=$?
	if [ $rc = 3 ]; then
		n=$((n / 10))
		echo "  the bulk import does not know this schema: $n devices through finlockd's store instead"
		"$B/bench_sweep" fill "$FL_DATA" "$TENANT" "$n" >"$TMP/fill"
	elif [ $rc != 0 ]; then
		return 1
	fi
	grep -v '=' "$TMP/fill"
	finlockd_start "$TMP/p1"
	timed 7a "portfolio report, $(commas "$n") contracts" 2000 GET "/v1/reports/portfolio"
	timed 7b "portfolio report as CSV, $(commas "$n")" 2000 GET "/v1/reports/portfolio?format=csv"
	finlockd_stop
	rm -rf "$TMP/p1"
}

# --- idle: many idle connections from many addresses ---------------------------
#
# What a normal client on 127.0.0.1 sees while 10,000 connections from
# other loopback addresses (127.3.x.y, phones behind carrier NATs) sit
# idle, each opened again a second after the server closes it
# (bench/bench_idle.c): /healthz latency (a new connection per probe) and
# check-in throughput, each against the same without them in this run.
# finlockd runs on the fleet's data with the default connection limits
# (max_connections 8192, max_pending_per_client 128, header_timeout 10 s),
# not the fleet's raised --max-connections: 10,000 are more than the
# default limit, as a flood is.

# cpu_s PID - user + system CPU seconds of a process so far.
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }

# idle_checkins FILE - warm check-ins from 127.0.0.1 as in benchmark 1;
# I_CPU: finlockd's share of a core meanwhile (percent).
idle_checkins() {
	c0=$(cpu_s "$FL_PID")
	t0=$(date +%s.%N)
	"$B/loadgen" --port "$FL_PORT" --devices "$TMP/devs" --conns 256 \
		--warmup 2 --duration "$idur" --save >"$1"
	I_CPU=$(awk -v a="$c0" -v b="$(cpu_s "$FL_PID")" -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.0f", 100 * (b - a) / (t1 - t0) }')
}

# listen_queue - connections waiting in finlockd's listen queue now.
listen_queue() {
	ss -ltnH "sport = :$FL_PORT" 2>/dev/null | awk '{ print $2; exit }'
}

# idle_scenario ADDRS MODE LABEL - one run with the idle connections open;
# sets I_OUT and I_CI (bench_idle's and loadgen's output files).
idle_scenario() {
	I_OUT=$TMP/idle.$1.$2
	I_CI=$TMP/idle.$1.$2.ci
	rm -f "$TMP/idle.ready"
	"$B/bench_idle" --port "$FL_PORT" --conns "$ic" --addrs "$1" \
		--mode "$2" --probe "$iprobe" --hold $((idur + 6)) \
		--ready "$TMP/idle.ready" >"$I_OUT" 2>&1 &
	ipid=$!
	PIDS="$PIDS $ipid"
	i=0
	until [ -e "$TMP/idle.ready" ] || ! kill -0 "$ipid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 1200 ] && break
		sleep 0.1
	done
	q1=$(listen_queue)
	idle_checkins "$I_CI"
	q2=$(listen_queue)
	rss=$(rss_kib "$FL_PID")
	wait "$ipid" || {
		cat "$I_OUT"
		echo "bench: bench_idle failed" >&2
		return 1
	}
	grep -v '=' "$I_OUT"
	echo "  check-ins from 127.0.0.1 meanwhile: $(commas "$(kv "$I_CI" rps)") req/s, p50 $(kv "$I_CI" p50_us) us, p99 $(kv "$I_CI" p99_us) us, non-2xx $(kv "$I_CI" non2xx), errors $(kv "$I_CI" errors), reconnects $(kv "$I_CI" reconnects); finlockd's CPU $I_CPU% of a core"
	echo "  finlockd's listen queue before/after the check-ins: ${q1:-?}/${q2:-?}; resident memory $((rss / 1024)) MiB; load $(load)"
	p99=$(kv "$I_OUT" probe_p99_us)
	r=$(ratio "$p99" "$b_p99")
	result "idle-h$1$2" "/healthz p99, $LABEL" \
		"$(awk -v v="$p99" 'BEGIN { printf "%.1f ms", v / 1000 }') (p50 $(awk -v v="$(kv "$I_OUT" probe_p50_us)" 'BEGIN { printf "%.2f", v / 1000 }'))" \
		"alone $(awk -v v="$b_p99" 'BEGIN { printf "%.1f ms", v / 1000 }')" "$r" "< 100 ms" \
		"$(awk -v v="$p99" -v f="$(kv "$I_OUT" probe_fail)" 'BEGIN { print (v + 0 < 100000 && f + 0 == 0) ? "yes" : "no" }')"
	r=$(ratio "$(kv "$I_CI" rps)" "$b_rps")
	result "idle-c$1$2" "check-ins, $LABEL" "$(commas "$(kv "$I_CI" rps)") req/s" \
		"alone $(commas "$b_rps") req/s" "$r" ">= 0.8x alone" \
		"$(awk -v r="$r" 'BEGIN { print r == "-" ? "-" : (r + 0 >= 0.8) ? "yes" : "no" }')"
}

bench_idle() {
	section "idle: 10,000 idle connections from many addresses vs a normal client"
	ic=10000
	idur=10
	iprobe=10
	quick && ic=1000 idur=3 iprobe=3
	if [ $DEVAPI = 0 ]; then
		result idle "idle connections" "not measured: $DEVAPI_WHY" "-" "-" "-" "-"
		return 0
	fi
	opkey=$FL_OPKEY
	finlockd_stop
	finlockd_start "$TMP/f1" $UNLIMITED
	FL_OPKEY=$opkey
	# every device's first contact since this start: the runs below are
	# warm
	"$B/loadgen" --port "$FL_PORT" --devices "$TMP/devs" --conns 256 \
		--rounds 1 --duration 600 --save >"$TMP/idle.cold"
	echo "  finlockd with the default connection limits; first check-ins: $(commas "$(kv "$TMP/idle.cold" rps)") req/s; load $(load)"
	"$B/bench_idle" --port "$FL_PORT" --conns 0 --probe "$iprobe" >"$TMP/idle.base"
	b_p99=$(kv "$TMP/idle.base" probe_p99_us)
	echo "  alone: /healthz p50 $(kv "$TMP/idle.base" probe_p50_us) us, p99 $b_p99 us, max $(kv "$TMP/idle.base" probe_max_us) us, $(kv "$TMP/idle.base" probe_fail) failed"
	idle_checkins "$TMP/idle.base.ci"
	b_rps=$(kv "$TMP/idle.base.ci" rps)
	echo "  alone: check-ins $(commas "$b_rps") req/s, p50 $(kv "$TMP/idle.base.ci" p50_us) us, p99 $(kv "$TMP/idle.base.ci" p99_us) us, errors $(kv "$TMP/idle.base.ci" errors); finlockd's CPU $I_CPU% of a core; resident memory $(($(rss_kib "$FL_PID") / 1024)) MiB; load $(load)"
	LABEL="$(commas "$ic") idle, 100 addresses"
	echo "  $LABEL, nothing sent:"
	idle_scenario 100 fresh
	LABEL="$(commas "$ic") idle, 4 addresses"
	echo "  $LABEL (over max_pending_per_client), nothing sent:"
	idle_scenario 4 fresh
	LABEL="$(commas "$ic") kept alive, 100 addresses"
	echo "  $LABEL, idle after one request:"
	idle_scenario 100 kept
}

# --- scale: cost against the size of the fleet ----------------------------------
#
# One finlockd on SQLite with N enrolled devices, for each N of
# BENCH_SCALE (default "100000 1000000"): the fleet imported in bulk
# (bench_sweep fill --bulk yes --enroll N: every device a phone with real
# keys), every device's first check-in since the start (the resident
# memory before and after: KiB per device seen), nginx answering the same
# bytes, warm check-ins, then the full re-decision (bench_sweep redecide).
# Each size is compared with the first. finlockd runs with its default
# device_cache unless BENCH_SCALE_CACHE sets one; the last size runs a
# second time with BENCH_SCALE_CACHE2 (default: the size itself) when it
# is above the cache. Not part of the default run (BENCH_ONLY=scale): the
# million takes about ten minutes.

# scale_checkins DIR LABEL - first contacts, nginx, warm check-ins on the
# finlockd running now; sets SC_* from their outputs.
scale_checkins() {
	d=$1
	rss0=$(rss_kib "$FL_PID")
	t=$(date +%s)
	"$B/loadgen" --port "$FL_PORT" --devices "$d/devs" --conns 256 \
		--rounds 1 --duration 3000 --save --verify 1000 >"$d/cold"
	SC_COLD_S=$(($(date +%s) - t))
	rss1=$(rss_kib "$FL_PID")
	seen=$(kv "$d/cold" ok)
	SC_KIB=$(awk -v a="$rss0" -v b="$rss1" -v n="$seen" 'BEGIN { printf "%.2f", (n > 0 ? (b - a) / n : 0) }')
	SC_RSS0=$rss0 SC_RSS1=$rss1 SC_SEEN=$seen
	body=$(kv "$d/cold" body_bytes)
	echo "  $2: first check-in of $(commas "$seen") devices: $(commas "$(kv "$d/cold" rps)") req/s in $SC_COLD_S s (non-2xx $(kv "$d/cold" non2xx), verified $(kv "$d/cold" verified), failed $(kv "$d/cold" verify_fail)); resident memory $((rss0 / 1024)) -> $((rss1 / 1024)) MiB, $SC_KIB KiB per device seen; load $(load)"
	nport=$(free_port)
	nginx_start "$nport" "$body"
	"$B/loadgen" --port "$nport" --devices "$d/devs" --conns 256 \
		--warmup 2 --duration "$sdur" >"$d/ngx"
	nginx_stop
	SC_NGX=$(kv "$d/ngx" rps)
	"$B/loadgen" --port "$FL_PORT" --devices "$d/devs" --conns 256 \
		--warmup 2 --duration "$sdur" --save --verify 1000 >"$d/warm"
	SC_RPS=$(kv "$d/warm" rps)
	SC_R=$(ratio "$SC_RPS" "$SC_NGX")
	echo "  $2: check-ins $(commas "$SC_RPS") req/s (p50 $(kv "$d/warm" p50_us) us, p99 $(kv "$d/warm" p99_us) us, non-2xx $(kv "$d/warm" non2xx), errors $(kv "$d/warm" errors), verified $(kv "$d/warm" verified), failed $(kv "$d/warm" verify_fail)) against nginx $(commas "$SC_NGX") req/s ($SC_R); resident memory $(($(rss_kib "$FL_PID") / 1024)) MiB; load $(load)"
}

bench_scale() {
	sizes=${BENCH_SCALE:-100000 1000000}
	quick && sizes="2000 20000"
	sdur=10
	quick && sdur=3
	cache=${BENCH_SCALE_CACHE:-}
	first=""
	for n in $sizes; do
		section "scale: one finlockd (SQLite), $(commas "$n") devices"
		d=$TMP/sc$n
		finlockd_start "$d"
		lender "$d"
		finlockd_stop
		t=$(date +%s)
		"$B/bench_sweep" fill "$FL_DATA" "$TENANT" "$n" --enroll "$n" \
			--bulk yes --out "$d/devs" | grep -v '='
		echo "  (the import: $(($(date +%s) - t)) s; database $(du -sm "$FL_DATA" | cut -f1) MiB; load $(load))"
		cargs=""
		[ -n "$cache" ] && cargs="--device-cache $cache"
		t=$(date +%s)
		# shellcheck disable=SC2086
		finlockd_start "$d" --max-connections 12000 $UNLIMITED $cargs
		echo "  finlockd started in $(($(date +%s) - t)) s, device_cache ${cache:-1000000 (default)}"
		scale_checkins "$d" "$(commas "$n") devices"
		kib=$SC_KIB rps=$SC_RPS ngx=$SC_NGX r=$SC_R
		c2=${BENCH_SCALE_CACHE2:-$n}
		if [ -n "$first" ] && [ "$n" -gt "${cache:-1000000}" ] && [ "$c2" != "${cache:-1000000}" ]; then
			finlockd_stop
			finlockd_start "$d" --max-connections 12000 $UNLIMITED --device-cache "$c2"
			echo "  again with device_cache $(commas "$c2"):"
			scale_checkins "$d" "$(commas "$n") devices, cache $(commas "$c2")"
			kib2=$SC_KIB rps2=$SC_RPS ngx2=$SC_NGX r2=$SC_R
		else
			c2=""
		fi
		finlockd_stop
		"$B/bench_sweep" redecide "$FL_DATA" >"$d/redecide" 2>&1 || {
			cat "$d/redecide"
			return 1
		}
		grep -v -e '^RESULT|' "$d/redecide"
		red=$(sed -n 's/.*per transaction): \([0-9.]*\) s.*/\1/p' "$d/redecide")
		echo "  load $(load)"
		if [ -z "$first" ]; then
			first=$n f_kib=$kib f_r=$r f_red=$red f_rps=$rps f_ngx=$ngx
			result "scale-c$n" "check-ins, $(commas "$n") devices" \
				"$(commas "$rps") req/s" "nginx $(commas "$ngx") req/s" "$r" "-" "-"
			result "scale-m$n" "RSS per device seen, $(commas "$n")" \
				"$kib KiB" "-" "-" "-" "-"
			result "scale-r$n" "re-decide all, $(commas "$n") devices" \
				"$red s" "-" "-" "-" "-"
		else
			x=$(awk -v a="$r" -v b="$f_r" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }')
			result "scale-c$n" "check-ins, $(commas "$n") dev, cache ${cache:-1000000}" \
				"$(commas "$rps") req/s ($r nginx)" "$(commas "$first"): $f_r nginx" \
				"$x" ">= 0.8x" "$(awk -v x="$x" 'BEGIN { print x == "-" ? "-" : (x + 0 >= 0.8) ? "yes" : "no" }')"
			x=$(ratio "$kib" "$f_kib")
			result "scale-m$n" "RSS per device seen, cache ${cache:-1000000}" \
				"$kib KiB" "$(commas "$first"): $f_kib KiB" "$x" "0.9-1.1x" \
				"$(awk -v x="$x" 'BEGIN { print x == "-" ? "-" : (x + 0 >= 0.9 && x + 0 <= 1.1) ? "yes" : "no" }')"
			if [ -n "$c2" ]; then
				x=$(awk -v a="$r2" -v b="$f_r" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }')
				result "scale-c$n-c" "check-ins, $(commas "$n") dev, cache $c2" \
					"$(commas "$rps2") req/s ($r2 nginx)" "$(commas "$first"): $f_r nginx" \
					"$x" ">= 0.8x" "$(awk -v x="$x" 'BEGIN { print x == "-" ? "-" : (x + 0 >= 0.8) ? "yes" : "no" }')"
				x=$(ratio "$kib2" "$f_kib")
				result "scale-m$n-c" "RSS per device seen, cache $c2" \
					"$kib2 KiB" "$(commas "$first"): $f_kib KiB" "$x" "0.9-1.1x" \
					"$(awk -v x="$x" 'BEGIN { print x == "-" ? "-" : (x + 0 >= 0.9 && x + 0 <= 1.1) ? "yes" : "no" }')"
			fi
			# per device: time / devices, against the first size's
			x=$(awk -v a="$red" -v b="$f_red" -v n="$n" -v m="$first" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", (a / n) / (b / m) }')
			result "scale-r$n" "re-decide all, per device" "$red s for $(commas "$n")" \
				"$f_red s for $(commas "$first")" "$x" "<= 1.25x" \
				"$(awk -v x="$x" 'BEGIN { print x == "-" ? "-" : (x + 0 <= 1.25) ? "yes" : "no" }')"
		fi
		rm -rf "$d"
	done
}

# --- the report ------------------------------------------------------------------

report() {
	{
		echo "finlock benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(elapsed) s"
		machine
		echo
		awk -F'|' '
			function row(a, b, c, d, e, f, g) { printf "%-9s %-42s %-22s %-24s %-6s %-15s %s\n", a, b, c, d, e, f, g }
			BEGIN { row("id", "measurement", "figure", "baseline", "ratio", "target", "met")
			        row("--", "-----------", "------", "--------", "-----", "------", "---") }
			{ fig = $4
			  if (fig ~ /^not measured: /) { notes = notes "  " $2 ": " substr(fig, 15) "\n"; fig = "not measured" }
			  row($2, $3, fig, $5, $6, $7, $8) }
			END { if (notes != "") printf "\nnot measured:\n%s", notes }' "$RESULTS"
	} >"$REPORT"
	echo
	cat "$REPORT"
	echo
	echo "report: $REPORT"
}

N=${BENCH_DEVICES:-100000}
quick && N=2000
# want PART - whether BENCH_ONLY (default: everything) names PART.
want() {
	[ -z "${BENCH_ONLY:-}" ] && return 0
	case " $BENCH_ONLY " in *" $1 "*) return 0 ;; esac
	return 1
}

machine
want agent && bench_agent
want policy && bench_policy
if want checkin || want waits || want redecide || want confirm || want idle; then
	fleet "$N"
	want checkin && bench_checkin "$N"
	want waits && bench_waits
	want confirm && bench_confirm
	want idle && bench_idle
	finlockd_stop
	want redecide && bench_redecide
fi
want due && bench_due
# opt-in: named in BENCH_ONLY
case " ${BENCH_ONLY:-} " in *" scale "*) bench_scale ;; esac
want console && bench_console
want portfolio && bench_portfolio
want cluster && bench_cluster
if want cluster || want cluster-sweep; then
	bench_cluster_sweep
fi
report
