#!/usr/bin/env bash
# Starts the built plugin as a host service. With systemd: a unit ordered
# before docker.service (so the daemon finds the plugin at boot). Without it:
# a background process with a pid file. Either way it returns once the socket
# answers. Settings: CUSTOM_* environment variables (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NODE=$(command -v node)
SOCKET=${CUSTOM_SOCKET:-/run/docker/plugins/custom.sock}
PIDFILE=/run/custom-volume.pid
LOG=/var/log/custom-volume.log

if [ -d /run/systemd/system ]; then
  cat > /etc/systemd/system/custom-volume.service <<UNIT
[Unit]
Description=custom Docker volume plugin
Before=docker.service
After=local-fs.target

[Service]
ExecStart=$NODE $ROOT/dist/src/main.js
Environment=CUSTOM_SOCKET=$SOCKET
KillMode=process
Restart=always

[Install]
WantedBy=multi-user.target docker.service
UNIT
  systemctl daemon-reload
  systemctl enable --now custom-volume.service
  systemctl restart custom-volume.service
else
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")"
    while kill -0 "$(cat "$PIDFILE")" 2>/dev/null; do sleep 0.1; done
  fi
  CUSTOM_SOCKET=$SOCKET nohup "$NODE" "$ROOT/dist/src/main.js" >>"$LOG" 2>&1 &
  echo $! > "$PIDFILE"
fi

for _ in $(seq 1 50); do
  if curl -sf --unix-socket "$SOCKET" -X POST http://plugin/Plugin.Activate >/dev/null 2>&1; then
    echo "custom volume plugin is listening on $SOCKET (log: $([ -d /run/systemd/system ] && echo 'journalctl -u custom-volume' || echo $LOG))"
    exit 0
  fi
  sleep 0.2
done
echo "the plugin did not start; see $LOG" >&2
exit 1
