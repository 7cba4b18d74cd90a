#!/bin/sh
# The browser tests, as one test program for scripts/run-tests.sh: runs
# tests/browser/run.mjs with node (its npm packages installed by
# scripts/deps.sh). FINLOCK_BIN names the folder holding finlockd.
cd "$(dirname "$0")" || exit 1
exec node run.mjs "$@"
