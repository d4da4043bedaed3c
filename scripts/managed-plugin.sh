#!/usr/bin/env bash
# The managed-plugin life cycle on this host's Docker engine.
#   create   docker plugin create NAME plugin-rootfs, then enable (replaces an older NAME)
#   registry start a local docker-registry on $REGISTRY (127.0.0.1 only) unless one answers
#   push     create REGISTRY/NAME and push it
#   install  docker plugin install REGISTRY/NAME as NAME (the driver name users type)
#   upgrade  disable -f, upgrade to REGISTRY/NAME, enable: volumes and data are kept
# Settings: PLUGIN_NAME (custom), PLUGIN_TAG (latest: the tag pushed, installed
# or upgraded to), REGISTRY (127.0.0.1:5000), STATE_SOURCE (host directory for
# state, keys and images), DOCKER_HOST (which engine), TMPDIR (where a bundle
# is staged; /var/tmp).
# Locally the plugin is always NAME (NAME:latest): volumes remember their
# driver by name, so upgrading to another tag must not rename it.
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKER=/usr/bin/docker; [ -x "$DOCKER" ] || DOCKER=docker
NAME=${PLUGIN_NAME:-custom}
TAG=${PLUGIN_TAG:-latest}
REGISTRY=${REGISTRY:-127.0.0.1:5000}
LOCAL=$NAME:latest
REMOTE=$REGISTRY/$NAME:$TAG
STATE_SOURCE=${STATE_SOURCE:-/var/lib/custom-volume-plugin}
# The KEK's directory (the kek mount, read-only inside): apart from the state.
KEK_SOURCE=${KEK_SOURCE:-/etc/custom-volume}
# Docker refuses to start a plugin whose mount source is missing.
make_sources() { mkdir -p "$STATE_SOURCE"; mkdir -p -m 0700 "$KEK_SOURCE"; }

exists() { "$DOCKER" plugin inspect "$1" >/dev/null 2>&1; }

# dockerd 20.10 refuses a second `plugin create` from a rootfs it has seen
# ("content sha256:… already exists"), so each reference gets its own rootfs:
# a hard-linked copy with the reference written into it.
create_from_bundle() {
  local ref=$1
  [ -f plugin-rootfs/config.json ] || { echo "plugin-rootfs/ is not built: make plugin-rootfs" >&2; exit 1; }
  stage=$(mktemp -d "${TMPDIR:-/var/tmp}/custom-plugin-bundle.XXXXXX")
  trap 'rm -rf "$stage"' EXIT
  # Hard links where the stage shares the bundle's filesystem, a copy elsewhere
  # (into a fresh mktemp directory: never a path someone else could have taken).
  if ! cp -al plugin-rootfs/. "$stage/" 2>/dev/null; then
    rm -rf "$stage"
    stage=$(mktemp -d "${TMPDIR:-/var/tmp}/custom-plugin-bundle.XXXXXX")
    cp -a plugin-rootfs/. "$stage/"
  fi
  printf '%s\n' "$ref" > "$stage/rootfs/opt/custom/PLUGIN_REF"
  "$DOCKER" plugin create "$ref" "$stage" >/dev/null
  rm -rf "$stage"
  trap - EXIT
}
remove() { if exists "$1"; then "$DOCKER" plugin disable -f "$1" >/dev/null 2>&1 || true; "$DOCKER" plugin rm -f "$1" >/dev/null; fi; }

case ${1:-} in
  create)
    make_sources
    remove "$LOCAL"
    create_from_bundle "$LOCAL"
    "$DOCKER" plugin set "$LOCAL" state.source="$STATE_SOURCE" kek.source="$KEK_SOURCE"
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
    create_from_bundle "$REMOTE"
    "$DOCKER" plugin push "$REMOTE"
    "$DOCKER" plugin rm -f "$REMOTE" >/dev/null
    echo "pushed $REMOTE"
    ;;
  install)
    make_sources
    remove "$LOCAL"
    "$DOCKER" plugin install --grant-all-permissions --alias "$LOCAL" "$REMOTE" state.source="$STATE_SOURCE" kek.source="$KEK_SOURCE"
    echo "installed $REMOTE as $LOCAL"
    ;;
  upgrade)
    # dockerd 20.10 can drop settings on upgrade (measured: state.source fell back
    # to its default after an install with state.source=…, the plugin then saw
    # no volumes and the daemon made `local` ones in their place). Carry the
    # state mount and the settable environment over explicitly.
    source=$("$DOCKER" plugin inspect -f '{{range .Settings.Mounts}}{{if eq .Name "state"}}{{.Source}}{{end}}{{end}}' "$LOCAL")
    # A plugin from before the kek mount has none: the new one gets KEK_SOURCE.
    kek=$("$DOCKER" plugin inspect -f '{{range .Settings.Mounts}}{{if eq .Name "kek"}}{{.Source}}{{end}}{{end}}' "$LOCAL")
    kek=${kek:-$KEK_SOURCE}
    mkdir -p -m 0700 "$kek"
    mapfile -t env < <("$DOCKER" plugin inspect -f '{{range .Settings.Env}}{{println .}}{{end}}' "$LOCAL" | grep -E '^(CUSTOM_LOG_LEVEL|CUSTOM_KEK_FILE|CUSTOM_KEK_PREVIOUS_FILE|CUSTOM_COMMAND_TIMEOUT_MS|CUSTOM_LEASE_GRACE_MS|CUSTOM_LEASE_CHECK_MS|CUSTOM_OVERCOMMIT|CUSTOM_GLUSTER_[A-Z_]+|DM_DISABLE_UDEV)=')
    "$DOCKER" plugin disable -f "$LOCAL"
    # The user names the new tag; Docker would otherwise ask on the terminal
    # whenever the reference differs from the one installed.
    "$DOCKER" plugin upgrade --grant-all-permissions --skip-remote-check "$LOCAL" "$REMOTE" </dev/null
    "$DOCKER" plugin set "$LOCAL" state.source="$source" kek.source="$kek" "${env[@]}"
    "$DOCKER" plugin enable "$LOCAL"
    echo "upgraded $LOCAL to $REMOTE"
    ;;
  *)
    echo "usage: $0 create|registry|push|install|upgrade" >&2; exit 2 ;;
esac
