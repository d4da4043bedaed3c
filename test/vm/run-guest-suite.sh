#!/usr/bin/env bash
# Runs test/guest (compiled to dist/ on the host first; or only the files
# given, e.g. dist/test/guest/dockerd.test.js) inside a QEMU guest
# that boots Debian's stock kernel, where device-mapper and dm-crypt exist.
# Prints the guest's TAP; if the guest could not run the suite, prints a
# failing TAP line so the summary counts it.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp)
# The guest's module index is busybox's, which kmod's modprobe cannot read:
# what the suites need is loaded at boot instead.
export VM_PRELOAD_MODS=${VM_PRELOAD_MODS:-loop dm_mod dm_crypt xts aesni_intel sha256_ssse3 af_alg algif_skcipher algif_hash btrfs}
VM_TIMEOUT=${VM_TIMEOUT:-1800} VM_MEM=${VM_MEM:-4096} test/vm/run-in-vm.sh bash test/vm/guest-entry.sh "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
if ! grep -qE '^(not )?ok [0-9]+' "$out"; then
  echo "not ok 1 - guest suite did not run (run-in-vm exit $status)"
  echo "1..1"
  status=1
fi
rm -f "$out"
exit "$status"
