#!/usr/bin/env bash
# Builds the container images of every Kairos service (deploy/docker/Dockerfile), of the provisioning
# hook (tools/provision), and of NATS and FerretDB (the charts' dev mode) from the binaries
# scripts/install-tools.sh caches, all with one tag. Skips an image whose inputs did not change.
#
# Where no container registry is reachable, the base images are made locally: Debian root file systems
# built with mmdebstrap from the machine's own apt sources (suite $KAIROS_BASE_SUITE, default trixie,
# whose nodejs is 20; bookworm's is 18), one with npm for the build stage and a smaller one with only
# Node for the runtime, cached as tarballs under ~/.cache/kairos/images and imported into the local
# image store. Users with registry access pass --node-image instead.
#
# Usage: scripts/build-images.sh [--tag TAG] [--repo PREFIX] [--node-image IMAGE] [--save DIR] [name...]
#   name: a service with a chart (deploy/helm/charts.mjs: ingest, enrichment, ...), provision, nats,
#         ferretdb (default: all)
#   --tag    image tag (default: the services' package.json version, which is the charts' appVersion)
#   --repo   name prefix (default: kairos, giving kairos/ingest:TAG)
#   --save   also write each image as an OCI archive DIR/<name>.tar (for `ctr images import`)
# Installs podman, buildah and mmdebstrap with apt-get when missing (root), and writes the two
# containers.conf settings this machine needs (docs/deploy.md, "Building images").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

# The services with a chart (deploy/helm/charts.mjs describes each).
read -r -a SERVICES <<< "$(node --input-type=module -e "const m = await import('./deploy/helm/charts.mjs'); console.log(Object.keys(m.SERVICES).join(' '))")"
ALL=("${SERVICES[@]}" provision nats ferretdb)
TAG="$(node -p "require('./services/ingest/package.json').version")"
REPO="kairos"
NODE_IMAGE=""
SAVE_DIR=""
CACHE="${KAIROS_CACHE_DIR:-$HOME/.cache/kairos}"
BIN_DIR="${KAIROS_BIN_DIR:-$CACHE/bin}"
SUITE="${KAIROS_BASE_SUITE:-trixie}"
# The build stage needs npm (to fetch pnpm); the runtime needs only Node and the CA certificates.
BUILD_PACKAGES="nodejs,npm,tini,ca-certificates"
RUNTIME_PACKAGES="nodejs,ca-certificates"

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

want=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG="${2:?--tag needs a value}"; shift 2 ;;
    --repo) REPO="${2:?--repo needs a value}"; shift 2 ;;
    --node-image) NODE_IMAGE="${2:?--node-image needs a value}"; shift 2 ;;
    --save) SAVE_DIR="${2:?--save needs a directory}"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ " ${ALL[*]} " == *" $1 "* ]] || die "unknown image '$1' (expected one of: ${ALL[*]})"
       want+=("$1"); shift ;;
  esac
done
[ ${#want[@]} -gt 0 ] || want=("${ALL[@]}")

# --- the container tools -------------------------------------------------------------------------
ensure_tools() {
  local missing=()
  command -v podman >/dev/null 2>&1 || command -v buildah >/dev/null 2>&1 || missing+=(podman buildah runc uidmap slirp4netns fuse-overlayfs containernetworking-plugins iptables)
  if [ -z "$NODE_IMAGE" ]; then command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap); fi
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing: ${missing[*]}; install Podman (or Buildah) and mmdebstrap, or pass --node-image"
  fi
  log "installing ${missing[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Root on these machines lacks CAP_SYS_RESOURCE (hard nofile limit 20000), so the default ulimit
# request fails, and crun refuses the hybrid cgroup layout: set both unless already configured.
ensure_containers_conf() {
  local conf=/etc/containers/containers.conf
  [ "$(id -u)" = 0 ] || return 0
  if [ -f "$conf" ] && grep -q '^default_ulimits' "$conf" && grep -q '^runtime' "$conf"; then return; fi
  if [ -f "$conf" ] && grep -q '^\[' "$conf"; then
    log "$conf exists without default_ulimits/runtime; leaving it alone (see docs/deploy.md if runs fail)"
    return
  fi
  mkdir -p /etc/containers
  log "writing $conf (ulimits within the hard limit, runc)"
  cat > "$conf" <<'EOF'
# Written by Kairos scripts/build-images.sh: root lacks CAP_SYS_RESOURCE (hard nofile limit 20000)
# and crun refuses the machine's hybrid cgroup layout.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
EOF
}

ensure_tools
ensure_containers_conf
if command -v podman >/dev/null 2>&1; then ENGINE=podman; else ENGINE=buildah; fi

image_label() { # image label -> value or empty
  "$ENGINE" inspect --format "{{ index .Labels \"$2\" }}" "$1" 2>/dev/null || true
}

build() { # image context containerfile inputs-hash [build args...]
  local image="$1" context="$2" file="$3" hash="$4"
  shift 4
  if [ "$(image_label "$image" io.kairos.inputs)" = "$hash" ]; then
    log "$image: up to date"
    return
  fi
  log "$image: building"
  local args=(--network=host --layers -f "$file" --label "io.kairos.inputs=$hash" -t "$image" "$@" "$context")
  if [ "$ENGINE" = podman ]; then podman build "${args[@]}"; else buildah bud "${args[@]}"; fi
}

# --- the base image --------------------------------------------------------------------------------
# The machine's own Debian mirrors (deb822 sources or one-line lists), so nothing else is contacted.
apt_mirror() { # suffix: debian | debian-security
  cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n'
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p'
} 2>/dev/null
pick_mirror() { apt_mirror | grep -E "/$1/?\$" | head -1 || true; }

make_base() { # name packages -> prints the image name
  local name="$1" packages="$2" key tar main security image
  key="$(printf '%s %s' "$SUITE" "$packages" | sha256sum | cut -c1-12)"
  image="localhost/$REPO/$name:$SUITE-$key"
  tar="$CACHE/images/$name-$SUITE-$key.tar"
  if "$ENGINE" inspect "$image" >/dev/null 2>&1; then log "base $image: present"; echo "$image"; return; fi
  if [ ! -s "$tar" ]; then
    main="$(pick_mirror debian)"
    security="$(pick_mirror debian-security)"
    [ -n "$main" ] || die "no Debian mirror found in the apt sources; pass --node-image IMAGE instead"
    local mirrors=("deb $main $SUITE main")
    [ -z "$security" ] || mirrors+=("deb $security $SUITE-security main")
    mkdir -p "$CACHE/images"
    log "base $name: mmdebstrap $SUITE with $packages (about 2 minutes, once)"
    nice -n 10 mmdebstrap --variant=minbase --format=tar --include="$packages" "$SUITE" "$tar.part" "${mirrors[@]}" >&2
    mv "$tar.part" "$tar"
  fi
  log "base $name: importing $tar"
  if [ "$ENGINE" = podman ]; then
    podman import --change 'CMD ["node"]' "$tar" "$image" >/dev/null
  else
    local c; c="$(buildah from scratch)"
    buildah add "$c" "$tar" / >/dev/null
    buildah config --cmd node "$c"
    buildah commit -q "$c" "$image" >/dev/null
    buildah rm "$c" >/dev/null
  fi
  echo "$image"
}

ensure_base() {
  if [ -n "$NODE_IMAGE" ]; then BASE="$NODE_IMAGE"; BUILD_BASE="$NODE_IMAGE"; return; fi
  BUILD_BASE="$(make_base node-build "$BUILD_PACKAGES")"
  BASE="$(make_base node-base "$RUNTIME_PACKAGES")"
}

# Content of the files an image is built from (tracked and untracked, not ignored), so an unchanged
# tree is skipped and any edit rebuilds.
inputs_hash() { # paths...
  { git ls-files -co --exclude-standard -- "$@" | LC_ALL=C sort | xargs -d '\n' sha256sum 2>/dev/null
    for image in "$BUILD_BASE" "$BASE"; do printf '%s %s\n' "$image" "$("$ENGINE" inspect --format '{{.Id}}' "$image")"; done
  } | sha256sum | cut -c1-32
}

ensure_base
# A TLS-intercepting proxy's CA (the host trusts it through NODE_EXTRA_CA_CERTS) reaches the
# downloading build steps as a secret, never as a layer.
SECRET_ARGS=()
[ -z "${NODE_EXTRA_CA_CERTS:-}" ] || [ ! -s "$NODE_EXTRA_CA_CERTS" ] || SECRET_ARGS=(--secret "id=ca,src=$NODE_EXTRA_CA_CERTS")
SOURCES=(deploy/docker/Dockerfile .dockerignore package.json pnpm-lock.yaml pnpm-workspace.yaml
  tsconfig.base.json proto scripts/gen-proto.mjs libs services tools e2e/package.json)
SOURCE_HASH="$(inputs_hash "${SOURCES[@]}")"

build_one() { # name
  local name="$1" image="$REPO/$1:$TAG" bin ctx hash
  case "$name" in
    nats|ferretdb)
      bin="nats-server"; [ "$name" = nats ] || bin=ferretdb
      [ -x "$BIN_DIR/$bin" ] || bash scripts/install-tools.sh "$bin"
      ctx="$(mktemp -d)"
      cp "$BIN_DIR/$bin" "$ctx/bin"
      hash="$({ sha256sum < "$ctx/bin"; sha256sum < deploy/docker/binary.Containerfile; echo "$BASE"; } | sha256sum | cut -c1-32)"
      build "$image" "$ctx" deploy/docker/binary.Containerfile "$hash" \
        --build-arg "BASE_IMAGE=$BASE" --build-arg "BINARY=$bin"
      rm -rf "$ctx"
      ;;
    *)
      build "$image" "$ROOT" deploy/docker/Dockerfile "$SOURCE_HASH" \
        --build-arg "NODE_IMAGE=$BASE" --build-arg "BUILD_IMAGE=$BUILD_BASE" --build-arg "SERVICE=$name" "${SECRET_ARGS[@]}"
      ;;
  esac
  if [ -n "$SAVE_DIR" ]; then
    mkdir -p "$SAVE_DIR"
    rm -f "$SAVE_DIR/$name.tar"
    # Named as the local store names it (localhost/...), so a cluster fed with `ctr images import`
    # finds it under global.imageRegistry=localhost without any registry.
    "$ENGINE" push "$image" "oci-archive:$SAVE_DIR/$name.tar:localhost/$image" >/dev/null
  fi
}

# The first image builds alone (it fills the layer cache with the shared build stage); the others
# then run $KAIROS_IMAGE_JOBS at a time (default 2), each adding only its own `pnpm deploy` and
# runtime layers, with their output in a log shown when one fails.
JOBS="${KAIROS_IMAGE_JOBS:-2}"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
build_one "${want[0]}"
declare -A name_of=()
failed=()
reap() { # waits for one background build (errexit applies inside it: it fails as the build does)
  local pid status=0
  wait -n -p pid || status=$?
  grep -h '^\[build-images\]' "$logs/${name_of[$pid]}.log" >&2 || true
  if [ "$status" != 0 ]; then
    tail -40 "$logs/${name_of[$pid]}.log" >&2
    failed+=("${name_of[$pid]}")
  fi
  unset "name_of[$pid]"
}
for name in "${want[@]:1}"; do
  while [ ${#name_of[@]} -ge "$JOBS" ]; do reap; done
  build_one "$name" > "$logs/$name.log" 2>&1 &
  name_of[$!]="$name"
done
while [ ${#name_of[@]} -gt 0 ]; do reap; done
[ ${#failed[@]} -eq 0 ] || die "failed to build: ${failed[*]}"
built=()
for name in "${want[@]}"; do built+=("$REPO/$name:$TAG"); done
log "images (${ENGINE}): ${built[*]}"
