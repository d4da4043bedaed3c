#!/usr/bin/env bash
# make test: the whole suite, as CI runs it, closing with "N passed, N failed".
# What only downloads and unpacks (the managed plugin's Debian stage, the QEMU
# guest's kernel and initramfs: about 4 min on a fresh machine) runs in the
# background while lint and the build use the CPU. Then the host suite, then
# the guest suite: not at the same time, since the emulated guest takes a core
# and both suites' timing-bound tests then slowed past their bounds (measured).
set -euo pipefail
cd "$(dirname "$0")/.."

prefetch_log=$(mktemp)
(scripts/build-plugin-rootfs.sh --stage-only && VM_SETUP_ONLY=1 test/vm/run-in-vm.sh true) >"$prefetch_log" 2>&1 &
prefetch=$!
trap 'kill "$prefetch" 2>/dev/null || true; rm -f "$prefetch_log"' EXIT

make --no-print-directory lint build
if ! wait "$prefetch"; then
  echo "test: fetching the plugin's Debian stage or the guest kernel failed:" >&2
  cat "$prefetch_log" >&2
  exit 1
fi
scripts/build-plugin-rootfs.sh

(
  status=0
  AVA_SUITE=host npx ava --tap || status=$?
  test/vm/run-guest-suite.sh || status=$?
  exit "$status"
) | node dist/test/helpers/tap-summary.js --runs 2
