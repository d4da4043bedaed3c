#!/usr/bin/env bash
# Offline stand-in for `docker pull busybox`: imports Debian's busybox-static
# as the image `busybox:latest` (for machines that reach no image registry).
set -euo pipefail
DOCKER=/usr/bin/docker; [ -x "$DOCKER" ] || DOCKER=docker
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{bin,tmp,proc,sys,dev,etc}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$rootfs/etc/passwd"
tar -C "$rootfs" -c . | "$DOCKER" import -c 'CMD ["/bin/sh"]' - busybox:latest >/dev/null
echo "imported busybox:latest"
