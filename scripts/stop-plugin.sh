#!/usr/bin/env bash
# Stops the plugin. Mounted volumes stay mounted (containers keep running);
# the next start picks them up from state.
set -euo pipefail
if [ -d /run/systemd/system ] && systemctl is-enabled custom-volume.service >/dev/null 2>&1; then
  systemctl stop custom-volume.service
elif [ -f /run/custom-volume.pid ]; then
  kill "$(cat /run/custom-volume.pid)" 2>/dev/null || true
  rm -f /run/custom-volume.pid
fi
