#!/bin/sh
# finlock demo: a lender's server with a handful of financed phones, on this
# machine, from the optimised build (`make run` builds it and runs this).
#
#  - finlockd on 127.0.0.1 (port 8080 when free, else one the kernel picks),
#    its SQLite database and keys under ./demo/data;
#  - a demo lender ("Demo Credit") with five phones sold on credit, each a
#    finlock-device directory under ./demo/phones, running in the
#    background: amina is paying, baraka gets reminders, chidi is locked
#    (overdue), dalia is released (paid off), esther locks at a time the
#    lender scheduled two minutes from the start;
#  - the address, the demo API key and commands to try are printed; Ctrl-C
#    stops every process this script started, and waits for them.
#
# Every run starts a fresh demo: ./demo is removed and made again (the
# demo's dates are relative to now, so a fresh one is the one that shows
# the states described). Processes left behind by an earlier run that was
# killed hard are stopped first. A ./demo this script did not make is left
# alone (the script refuses to start).
#
# For tests: FINLOCK_DEMO_BIN (the programs, default build/rel/bin),
# FINLOCK_DEMO_DIR (default ./demo) and FINLOCK_DEMO_LISTEN (default
# 127.0.0.1:8080, with a free port instead when 8080 is taken); relative
# paths are from the repository's top.
set -eu
cd "$(dirname "$0")/.."
root_dir=$(pwd)
bin=${FINLOCK_DEMO_BIN:-build/rel/bin}
demo=${FINLOCK_DEMO_DIR:-demo}
listen=${FINLOCK_DEMO_LISTEN:-}
case $bin in /*) ;; *) bin=$root_dir/$bin ;; esac
case $demo in /*) ;; *) demo=$root_dir/$demo ;; esac
# A path as the user types it from the repository's top.
show() {
	case $1 in
	"$root_dir"/*) printf '%s\n' "${1#"$root_dir"/}" ;;
	*) printf '%s\n' "$1" ;;
	esac
}
data=$demo/data
phones=$demo/phones
pids=$demo/pids
marker=$demo/.finlock-demo

for p in finlockd finlock finlock-device; do
	if [ ! -x "$bin/$p" ]; then
		echo "demo: $bin/$p is missing; run 'make run' (it builds it)" >&2
		exit 1
	fi
done

say() { printf '%s\n' "$*"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

# --- a fresh ./demo ------------------------------------------------------

# Stops what an earlier run left running: only processes whose command line
# names this demo directory.
stop_leftovers() {
	[ -f "$pids" ] || return 0
	while read -r pid; do
		[ -n "$pid" ] || continue
		if [ -r "/proc/$pid/cmdline" ] &&
			tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$demo/"; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done <"$pids"
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		alive=""
		while read -r pid; do
			[ -n "$pid" ] && [ -d "/proc/$pid" ] &&
				tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
				grep -q "$demo/" && alive=yes
		done <"$pids"
		[ -z "$alive" ] && return 0
		sleep 0.5
	done
	die "processes of an earlier demo ($pids) do not stop"
}

if [ -e "$demo" ]; then
	[ -f "$marker" ] || die "$demo exists and was not made by this script; move it away"
	stop_leftovers
	rm -rf "$demo"
fi
mkdir -p "$phones"
chmod 700 "$demo"
: >"$marker"
: >"$pids"

# --- stopping -------------------------------------------------------------

server_pid=""
phone_pids=""

stop_all() {
	trap - INT TERM HUP
	for pid in $phone_pids; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	if [ -n "$server_pid" ]; then
		kill -TERM "$server_pid" 2>/dev/null || true
	fi
	for pid in $phone_pids $server_pid; do
		wait "$pid" 2>/dev/null || true
	done
	: >"$pids"
}

on_signal() {
	say ""
	say "Stopping the phones and finlockd ..."
	stop_all
	say "Stopped. The demo's data stays in $(show "$demo")/ until the next run (which starts afresh)."
	exit 0
}
trap on_signal INT TERM HUP

fail() {
	printf 'demo: %s\n' "$*" >&2
	stop_all
	exit 1
}

# --- finlockd -------------------------------------------------------------

# Starts finlockd on $1 and waits for its "listening on" line; returns 1
# if it stopped instead (the port was taken).
start_server() {
	: >"$demo/finlockd.out"
	"$bin/finlockd" --data "$data" --listen "$1" \
		>>"$demo/finlockd.out" 2>>"$demo/finlockd.log" &
	server_pid=$!
	echo "$server_pid" >>"$pids"
	for _ in $(seq 1 100); do
		if grep -q '^listening on ' "$demo/finlockd.out"; then
			return 0
		fi
		if ! kill -0 "$server_pid" 2>/dev/null; then
			wait "$server_pid" 2>/dev/null || true
			server_pid=""
			return 1
		fi
		sleep 0.1
	done
	fail "finlockd did not start; see $demo/finlockd.log"
}

say "Starting finlockd (data in $(show "$data")) ..."
if [ -n "$listen" ]; then
	start_server "$listen" || fail "finlockd did not start on $listen; see $demo/finlockd.log"
elif ! start_server 127.0.0.1:8080; then
	say "Port 8080 is taken; letting the kernel pick a free port."
	start_server 127.0.0.1:0 || fail "finlockd did not start; see $demo/finlockd.log"
fi
addr=$(sed -n 's/^listening on //p' "$demo/finlockd.out" | head -n 1)
url="http://$addr"
op_key=$(sed -n 's/^operator key: //p' "$demo/finlockd.out" | head -n 1)
[ -n "$op_key" ] || fail "finlockd printed no operator key"
root_key=$("$bin/finlockd" --data "$data" root-pubkey 2>>"$demo/finlockd.log") ||
	fail "cannot read the root public key"

# --- the lender -------------------------------------------------------------

# finlock with the demo's server and $key (options follow the command).
fl() { "$bin/finlock" "$@" --server "$url" --key "$key"; }
# The value of a string member "$1" in the JSON on stdin.
json_str() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -n 1; }

key=$op_key
tenant=$(fl tenant create "Demo Credit" --json | json_str id)
[ -n "$tenant" ] || fail "could not create the demo lender"
key=$(fl tenant keys create "$tenant" --label demo-admin --json \
	2>>"$demo/finlockd.log" | json_str key)
[ -n "$key" ] || fail "could not create the demo lender's API key"
(
	umask 077
	{
		echo "FINLOCK_SERVER=$url"
		echo "FINLOCK_API_KEY=$key"
		echo "export FINLOCK_SERVER FINLOCK_API_KEY"
	} >"$demo/env"
)

# An RFC 3339 UTC time $1 seconds, or days, from now (negative: ago).
secs() { date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ; }
days() { secs $(($1 * 86400)); }

# phone NAME IMEI SERIAL MODEL: registers the phone and makes its
# directory; the enrollment code is left in $code.
phone() {
	code=$(fl devices register --imei "$2" --serial "$3" --model "$4" --json |
		json_str enrollment_code)
	[ -n "$code" ] || fail "could not register $1's phone"
	"$bin/finlock-device" --dir "$phones/$1" create --trust "$root_key" \
		--imei "$2" --serial "$3" --server "$url" >/dev/null ||
		fail "could not create $1's phone"
}

# contract IMEI LOAN-REF INSTALLMENTS: KES, East Africa time, 3 days'
# grace, reminders 3 days, 1 day and on the day before each due date.
# Some demo loans start with installments already due, on purpose (the
# phone in reminder, the locked one): --allow-overdue says so.
contract() {
	fl contracts create "$1" --loan-ref "$2" --installments "$3" \
		--currency KES --utc-offset +03:00 --grace 3d --remind 3d,1d,0d \
		--allow-overdue \
		--contact-name "Demo Credit" --contact-phones +254700000000 \
		--message "Pay at any Demo Credit agent or with M-PESA paybill 123456 (account: your loan number)." \
		>/dev/null || fail "could not create the contract $2"
}

pay() {
	fl payments record "$1" --amount "$2" --reference "$3" \
		--idempotency-key "demo-$3" >/dev/null 2>&1 ||
		fail "could not record the payment $3"
}

enroll_and_run() {
	"$bin/finlock-device" --dir "$phones/$1" enroll --code "$code" \
		>/dev/null || fail "$1's phone could not enroll"
	"$bin/finlock-device" --dir "$phones/$1" run \
		>>"$phones/$1.log" 2>&1 </dev/null &
	phone_pids="$phone_pids $!"
	echo "$!" >>"$pids"
}

say "Creating the demo lender and five phones ..."
# amina: paying; one installment paid, the next in 5 days
phone amina 352099001761481 R58N12AMINA "Galaxy A05"
contract 352099001761481 L-1001 "$(days -25):150000,$(days 5):150000,$(days 35):150000"
pay 352099001761481 150000 MPESA-QK71A01
enroll_and_run amina
# baraka: the next installment is due in 3 days (and 5 s): in 5 s the
# 3-day reminder shows on the phone, which is then in reminder
phone baraka 352099001761507 R58N12BARAK "Galaxy A15"
contract 352099001761507 L-1002 "$(secs $((3 * 86400 + 5))):150000,$(days 33):150000"
enroll_and_run baraka
# chidi: 6 days overdue, 3 days of grace: locked
phone chidi 352099001761515 R58N12CHIDI "Redmi 13C"
contract 352099001761515 L-1003 "$(days -6):150000,$(days 24):150000"
enroll_and_run chidi
# dalia: paid off: released for good
phone dalia 352099001761523 R58N12DALIA "Spark 20"
contract 352099001761523 L-1004 "$(days -40):150000,$(days -10):150000"
pay 352099001761523 300000 MPESA-QK71D01
enroll_and_run dalia
# esther: paying, but the lender scheduled a lock in two minutes
phone esther 352099001761531 R58N12ESTHR "Galaxy A05"
contract 352099001761531 L-1005 "$(days 20):150000,$(days 50):150000"
enroll_and_run esther
lock_at=$(fl devices lock 352099001761531 --reason "demo: scheduled lock" \
	--at +2m --json | json_str lock_at)

# Waits (15 s at most) until phone $1's status has "$2": "$3".
expect_phone() {
	for _ in $(seq 1 75); do
		if "$bin/finlock-device" --dir "$phones/$1" status --json 2>/dev/null |
			grep -q "\"$2\": *\"$3\""; then
			return 0
		fi
		sleep 0.2
	done
	fail "$1's phone never showed $2 $3; see $phones/$1.log"
}
expect_phone amina state active
expect_phone baraka state reminding
expect_phone baraka kind reminder
expect_phone chidi state locked
expect_phone dalia phase released
expect_phone esther state active

cli=$(show "$bin/finlock")
dev=$(show "$bin/finlock-device")
ph=$(show "$phones")
conn="--server $url --key $key"
say ""
fl devices list
say ""
say "finlock demo is running."
say ""
say "  server       $url   (log: $(show "$demo/finlockd.log"))"
say "  demo lender  Demo Credit, admin API key:"
say "               $key"
say "  phones       $ph/{amina,baraka,chidi,dalia,esther}"
say "               amina paying, baraka in reminder, chidi locked,"
say "               dalia released, esther locks at $lock_at"
say ""
say "Try, in another terminal (after '. $(show "$demo/env")' the --server and"
say "--key options can be left out):"
say ""
say "  1. The lender's devices, and why chidi is locked:"
say "     $cli devices list $conn"
say "     $cli devices show 352099001761515 $conn"
say ""
say "  2. chidi pays: record it, and the phone unlocks within a second"
say "     (watch it live with: $dev --dir $ph/chidi screen):"
say "     $cli payments record 352099001761515 --amount 150000 --reference MPESA-QK71C01 $conn"
say "     $dev --dir $ph/chidi status"
say ""
say "  3. A second-hand buyer checks dalia's phone, and its signed certificate:"
say "     $cli imei check 352099001761523 --server $url"
say "     $cli imei certificate 352099001761523 --server $url > cert.json"
say "     $cli imei verify-cert cert.json --root $root_key"
say ""
say "The README's \"Using finlock: a lender's guide\" walks through the rest."
say "Press Ctrl-C to stop."

# Runs until Ctrl-C (the trap stops everything), or until finlockd stops:
# stopped by a signal of its own (exit 0), the phones are stopped too.
status=0
wait "$server_pid" || status=$?
server_pid=""
if [ "$status" -eq 0 ]; then
	say "finlockd stopped; stopping the phones ..."
	stop_all
	say "Stopped. The demo's data stays in $(show "$demo")/ until the next run (which starts afresh)."
	exit 0
fi
fail "finlockd stopped (exit $status); see $(show "$demo/finlockd.log")"
