#!/usr/bin/env bash
# Makes sure a Docker engine answers on the default socket. With systemd the
# packaged service is started; without it (containers, CI sandboxes) dockerd is
# started in the background with DOCKERD_FLAGS.
set -euo pipefail
DOCKERD_FLAGS=${DOCKERD_FLAGS:---storage-driver=vfs --iptables=false --bridge=none}
DOCKER=/usr/bin/docker; [ -x "$DOCKER" ] || DOCKER=docker

"$DOCKER" info >/dev/null 2>&1 && exit 0
if [ -d /run/systemd/system ]; then
  systemctl start docker
else
  # shellcheck disable=SC2086
  nohup dockerd $DOCKERD_FLAGS >/var/log/dockerd.log 2>&1 &
fi
for _ in $(seq 1 100); do
  "$DOCKER" info >/dev/null 2>&1 && exit 0
  sleep 0.3
done
echo "dockerd did not come up; see /var/log/dockerd.log" >&2
exit 1
