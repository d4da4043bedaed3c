#!/usr/bin/env bash
# Installs what the plugin, Docker and the tests need on Debian 12, as root.
# Idempotent: apt is only asked when a package is missing, npm only when the
# lock file is newer than node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNTIME_PKGS=(util-linux mount e2fsprogs xfsprogs btrfs-progs btrfs-compsize cryptsetup-bin dmsetup kmod curl)
DOCKER_PKGS=(docker.io docker-compose docker-registry debootstrap)
# qemu + xz: the dm-crypt suite boots Debian's stock kernel in a guest.
TEST_PKGS=(busybox-static fio qemu-system-x86 xz-utils glusterfs-server glusterfs-client iproute2 openssl)
want=("${RUNTIME_PKGS[@]}" "${DOCKER_PKGS[@]}" "${TEST_PKGS[@]}")

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
