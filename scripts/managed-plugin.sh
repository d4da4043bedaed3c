#!/usr/bin/env bash
# The managed-plugin life cycle on this host's Docker engine.
#   create   docker plugin create NAME plugin-rootfs, then enable (replaces an older NAME)
#   registry start a local docker-registry on $REGISTRY (127.0.0.1 only) unless one answers
#   push     create REGISTRY/NAME and push it
#   install  docker plugin install REGISTRY/NAME as NAME (the driver name users type)
#   upgrade  disable -f, upgrade to REGISTRY/NAME, enable: volumes and data are kept
# Settings: PLUGIN_NAME (custom), PLUGIN_TAG (latest), REGISTRY (127.0.0.1:5000),
# STATE_SOURCE (host directory for state, keys and images).
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKER=/usr/bin/docker; [ -x "$DOCKER" ] || DOCKER=docker
NAME=${PLUGIN_NAME:-custom}
TAG=${PLUGIN_TAG:-latest}
REGISTRY=${REGISTRY:-127.0.0.1:5000}
LOCAL=$NAME:$TAG
REMOTE=$REGISTRY/$NAME:$TAG
STATE_SOURCE=${STATE_SOURCE:-/var/lib/custom-volume-plugin}

exists() { "$DOCKER" plugin inspect "$1" >/dev/null 2>&1; }
remove() { if exists "$1"; then "$DOCKER" plugin disable -f "$1" >/dev/null 2>&1 || true; "$DOCKER" plugin rm -f "$1" >/dev/null; fi; }

case ${1:-} in
  create)
    mkdir -p "$STATE_SOURCE"
    remove "$LOCAL"
    "$DOCKER" plugin create "$LOCAL" plugin-rootfs
    "$DOCKER" plugin set "$LOCAL" state.source="$STATE_SOURCE"
    "$DOCKER" plugin enable "$LOCAL"
    echo "managed plugin $LOCAL enabled: docker volume create -d $NAME …"
    ;;
  registry)
    if curl -sf "http://$REGISTRY/v2/" >/dev/null; then exit 0; fi
    dir=/var/lib/custom-volume-registry
    mkdir -p "$dir"
    cat > "$dir/config.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: $REGISTRY
YAML
    nohup docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    for _ in $(seq 1 50); do curl -sf "http://$REGISTRY/v2/" >/dev/null && exit 0; sleep 0.2; done
    echo "registry did not start; see $dir/registry.log" >&2; exit 1
    ;;
  push)
    remove "$REMOTE"
    "$DOCKER" plugin create "$REMOTE" plugin-rootfs
    "$DOCKER" plugin push "$REMOTE"
    ;;
  install)
    mkdir -p "$STATE_SOURCE"
    remove "$LOCAL"
    "$DOCKER" plugin install --grant-all-permissions --alias "$LOCAL" "$REMOTE" state.source="$STATE_SOURCE"
    ;;
  upgrade)
    "$DOCKER" plugin disable -f "$LOCAL"
    "$DOCKER" plugin upgrade --grant-all-permissions "$LOCAL" "$REMOTE"
    "$DOCKER" plugin enable "$LOCAL"
    ;;
  *)
    echo "usage: $0 create|registry|push|install|upgrade" >&2; exit 2 ;;
esac
