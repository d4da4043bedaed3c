#!/usr/bin/env bash
# Runs inside the guest (stock Debian kernel with dm-crypt): gives the tests a
# real ext4 scratch filesystem (the guest root is an overlay on tmpfs, where
# O_DIRECT loop devices cannot live) and runs the guest ava suite as TAP (or
# only the test files given, e.g. dist/test/guest/dockerd.test.js), or with
# "bench" the guest benchmark.
set -euo pipefail
modprobe dm_crypt 2>/dev/null || true
scratch=/var/tmp/guest-scratch
mkdir -p "$scratch"
truncate -s 4G /tmp/scratch.img
mkfs.ext4 -q -F /tmp/scratch.img
# discard: blocks the tests free go back to the guest RAM that holds the image.
mount -o loop,discard /tmp/scratch.img "$scratch"
export CUSTOM_TEST_TMP=$scratch AVA_SUITE=guest
if [ "${1:-}" = bench ]; then
  exec node dist/bench/guest.js
fi
node node_modules/ava/entrypoints/cli.mjs --tap "$@"
