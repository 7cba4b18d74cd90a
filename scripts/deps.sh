#!/bin/sh
# Installs the Debian packages finlock needs to build, test and run, when they
# are missing, then the browser tests' npm packages (tests/browser, pinned by
# its package-lock.json) with `npm ci` when they are missing or older than
# the lock file. Idempotent and silent when everything is already there;
# runs `apt-get update` once, only when something has to be installed.
set -eu

# postgresql-15: the store tests start a private PostgreSQL cluster
# (tests/support/pg_cluster.c) to run the suite against that backend too.
# libyaml-dev: the live OpenAPI check (tests/integration/
# test_server_openapi_live.c) reads docs/openapi.yaml with libyaml.
# chromium and nodejs: the browser tests (chromium driven headless by npm's
# playwright-core). npm comes with some nodejs builds; Debian's own is a
# package of its own.
pkgs="make gcc clang libclang-rt-14-dev pkg-config ca-certificates
libsodium-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev
libcurl4-openssl-dev libcmocka-dev libyaml-dev libpq-dev sqlite3 curl nginx
openssl chromium nodejs postgresql-15"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"

browser_tests=$(cd "$(dirname "$0")/.." && pwd)/tests/browser
npm_ci() {
	lock="$browser_tests/package-lock.json"
	done_lock="$browser_tests/node_modules/.package-lock.json"
	[ -f "$lock" ] || return 0
	if [ -f "$done_lock" ] && [ ! "$lock" -nt "$done_lock" ]; then
		return 0
	fi
	if ! (cd "$browser_tests" &&
		npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
		echo "deps.sh: npm ci failed in tests/browser" >&2
		exit 1
	fi
}

if [ "${FINLOCK_DEPS_EXTRA:-}" != "" ]; then
	pkgs="$pkgs $FINLOCK_DEPS_EXTRA"
fi

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	npm_ci
	exit 0
fi

if [ "$(id -u)" != "0" ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO="sudo -n"
	else
		echo "deps.sh: missing packages:$missing; run as root or install them" >&2
		exit 1
	fi
else
	SUDO=""
fi

echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get update -qq >/dev/null; then
	echo "deps.sh: apt-get update failed (no package registry reachable?)" >&2
	exit 1
fi
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
	echo "deps.sh: could not install:$missing" >&2
	exit 1
fi
npm_ci
