#!/usr/bin/env bash
# The whole suite, as `make test` runs it: the host suite and the dm-crypt
# suite in the QEMU guest at the same time. The guest's emulated CPU is one
# core's work and the host suite mostly waits on tools and daemons, so
# together they take about as long as the guest alone. The guest's TAP is
# kept aside and printed after the host's: the summary reads two whole streams.
set -uo pipefail
cd "$(dirname "$0")/.."
guest_out=$(mktemp)
trap 'rm -f "$guest_out"' EXIT
test/vm/run-guest-suite.sh >"$guest_out" 2>&1 &
guest=$!
status=0
npx ava --tap || status=$?
wait "$guest" || status=$?
cat "$guest_out"
exit "$status"
