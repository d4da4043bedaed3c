#!/usr/bin/env bash
# Starts the built plugin as a host service. With systemd: a unit ordered
# before docker.service (so the daemon finds the plugin at boot). Without it:
# a background process with a pid file. Either way it returns once the socket
# answers. Settings: CUSTOM_* environment variables (see README), kept in
# /etc/default/custom-volume across runs: one given here replaces the kept
# value, one given empty (CUSTOM_KEK_FILE= make run) removes it, one not given
# keeps it (src/install/host-unit.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NODE=$(command -v node)
ENV_FILE=/etc/default/custom-volume
UNIT=/etc/systemd/system/custom-volume.service
PIDFILE=/run/custom-volume.pid
LOG=/var/log/custom-volume.log
if [ -d /run/systemd/system ]; then SYSTEMD=1; else SYSTEMD=; fi

# Merge and write the settings (and the unit), then read them back, NUL-separated
# (a value may hold any other byte). A bad setting stops here, before the
# running plugin is touched. `wait $!` gives the process substitution's status.
WRITE_UNIT=("$NODE" "$ROOT/dist/src/install/write-unit.js" --environment-file "$ENV_FILE" --node "$NODE" --main "$ROOT/dist/src/main.js")
if [ -n "$SYSTEMD" ]; then WRITE_UNIT+=(--unit "$UNIT"); fi
mapfile -d '' -t SETTINGS < <("${WRITE_UNIT[@]}" --print-env)
wait $! || exit 1
SOCKET=/run/docker/plugins/custom.sock
for setting in "${SETTINGS[@]}"; do
  case $setting in CUSTOM_SOCKET=*) SOCKET=${setting#CUSTOM_SOCKET=} ;; esac
done

if [ -n "$SYSTEMD" ]; then
  systemctl daemon-reload
  systemctl enable --now custom-volume.service
  systemctl restart custom-volume.service
else
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")"
    while kill -0 "$(cat "$PIDFILE")" 2>/dev/null; do sleep 0.1; done
  fi
  # Exactly the file's settings, as under systemd: none of this shell's own.
  UNSET=()
  for name in $(compgen -e); do
    case $name in CUSTOM_* | DM_DISABLE_UDEV) UNSET+=(-u "$name") ;; esac
  done
  env "${UNSET[@]}" -- "${SETTINGS[@]}" nohup "$NODE" "$ROOT/dist/src/main.js" >>"$LOG" 2>&1 &
  echo $! > "$PIDFILE"
fi

for _ in $(seq 1 50); do
  if curl -sf --unix-socket "$SOCKET" -X POST http://plugin/Plugin.Activate >/dev/null 2>&1; then
    echo "custom volume plugin is listening on $SOCKET (log: $([ -n "$SYSTEMD" ] && echo 'journalctl -u custom-volume' || echo $LOG))"
    exit 0
  fi
  sleep 0.2
done
echo "the plugin did not start; see $([ -n "$SYSTEMD" ] && echo 'journalctl -u custom-volume' || echo $LOG)" >&2
exit 1
