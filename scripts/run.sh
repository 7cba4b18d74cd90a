#!/bin/sh
# Sets up and runs finlock from the optimised build in build/rel.
# When finlockd is built, it starts the server with a demo lender (see
# scripts/demo.sh); otherwise it shows what the command-line client can do.
set -eu
cd "$(dirname "$0")/.."
bin=build/rel/bin
if [ -x "$bin/finlockd" ] && [ -f scripts/demo.sh ]; then
	exec sh scripts/demo.sh
fi
if [ -x "$bin/finlock" ]; then
	exec "$bin/finlock" --help
fi
echo "finlock: nothing to run yet (no programs built)" >&2
exit 1
