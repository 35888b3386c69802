#!/usr/bin/env bash
# A single-node Kubernetes cluster on this machine, from binaries cached outside the checkout
# (~/.cache/kairos/k8s/bin), built from the Go module proxy the first time (no container registry,
# no release downloads). See docs/deploy.md and the notes it cites.
#
# Usage: scripts/kube-up.sh build    build whatever binary is missing (etcd, kube-apiserver,
#                                    kube-controller-manager, kube-scheduler, kubelet, kube-proxy,
#                                    kubectl, coredns); about 25 min of CPU the first time, at nice 19
#        scripts/kube-up.sh          build what is missing, then start the cluster (not written yet:
#                                    the next phase adds certificates, etcd, the control plane,
#                                    containerd and the kubelet)
set -euo pipefail
cd "$(dirname "$0")/.."

K8S_VERSION="${KAIROS_KUBERNETES_VERSION:-v1.37.2}"
ETCD_VERSION="v3.7.3"
COREDNS_VERSION="v1.13.1"
CACHE="${KAIROS_CACHE_DIR:-$HOME/.cache/kairos}"
K8S_BIN="$CACHE/k8s/bin"
WORK="$CACHE/k8s/src"
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

log() { printf '[kube-up] %s\n' "$*" >&2; }

command -v go >/dev/null 2>&1 || { log "Go is needed to build the cluster binaries (https://go.dev/dl)"; exit 1; }
mkdir -p "$K8S_BIN" "$WORK"

# Go builds share the machine: lowest priority, and the output is renamed into place only when done.
gobuild() { # output package-or-dir [extra ldflags] (run in the module directory)
  GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" nice -n 19 go build -trimpath -ldflags="-s -w ${3:-}" -o "$1.new" "$2"
  mv -f "$1.new" "$1"
}

# What hack/lib/version.sh stamps into a release build; without it every component reports
# v0.0.0-master and version checks (kubectl's skew warning, charts' kubeVersion) misfire.
k8s_version_ldflags() {
  local minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  local flags="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

build_etcd() {
  [ -x "$K8S_BIN/etcd" ] && return
  # etcd's server module has replace directives, so `go install ...@version` refuses it; a scratch
  # module that requires it builds (its package main is the server).
  log "etcd $ETCD_VERSION: building"
  local dir="$WORK/etcd"
  mkdir -p "$dir"
  (
    cd "$dir"
    [ -f go.mod ] || go mod init kairos.local/etcd >/dev/null 2>&1
    GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
    gobuild "$K8S_BIN/etcd" go.etcd.io/etcd/server/v3
  )
}

# k8s.io/kubernetes's module zip has no staging/ and its go.mod replaces the staging modules with
# paths into it: build from a writable copy without vendor/ and go.work, the replace block dropped,
# and each k8s.io staging module required at v0.<minor>.<patch> (pseudo-versions left alone).
prepare_kubernetes() {
  local dir="$WORK/kubernetes-$K8S_VERSION"
  if [ ! -f "$dir/.prepared" ]; then
    log "kubernetes $K8S_VERSION: preparing the module source"
    local src
    src="$(cd "$WORK" && { [ -f go.mod ] || go mod init kairos.local/k8s >/dev/null 2>&1; } &&
      go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -n "$src" ] || { log "go mod download k8s.io/kubernetes@$K8S_VERSION reported no directory"; exit 1; }
    rm -rf "$dir"
    cp -r "$src" "$dir"
    chmod -R u+w "$dir"
    rm -rf "$dir/vendor" "$dir/go.work" "$dir/go.work.sum"
    local staging="v0.${K8S_VERSION#v1.}"
    # Drop the replace block, then pin every staging module that is required at v0.0.0.
    sed -i '/^replace (/,/^)/d' "$dir/go.mod"
    sed -i -E "s#^(\s*k8s\.io/[a-z0-9-]+) v0\.0\.0(\s|$)#\1 $staging\2#" "$dir/go.mod"
    touch "$dir/.prepared"
  fi
  KUBERNETES_DIR="$dir"
}

build_kubernetes() {
  local missing=()
  for c in "${COMPONENTS[@]}"; do
    # Also rebuilds a binary made before versions were stamped.
    "$K8S_BIN/$c" --version 2>/dev/null | grep -q "$K8S_VERSION" ||
      "$K8S_BIN/$c" version --client 2>/dev/null | grep -q "$K8S_VERSION" || missing+=("$c")
  done
  [ ${#missing[@]} -eq 0 ] && return
  prepare_kubernetes
  for c in "${missing[@]}"; do
    log "$c $K8S_VERSION: building (the first, cold build of kube-apiserver takes about 15 minutes)"
    (cd "$KUBERNETES_DIR" && gobuild "$K8S_BIN/$c" "./cmd/$c" "$(k8s_version_ldflags)")
  done
}

build_coredns() {
  [ -x "$K8S_BIN/coredns" ] && return
  log "coredns $COREDNS_VERSION: building"
  GOBIN="$K8S_BIN" GOFLAGS="-buildvcs=false" nice -n 19 go install "github.com/coredns/coredns@$COREDNS_VERSION"
}

build_all() {
  build_etcd
  build_kubernetes
  build_coredns || log "coredns: build failed; cluster DNS will be missing (see the log above)"
  log "binaries in $K8S_BIN: $(ls "$K8S_BIN" | tr '\n' ' ')"
}

case "${1:-up}" in
  build) build_all ;;
  up)
    build_all
    log "starting the cluster is not implemented yet (next phase); binaries are ready in $K8S_BIN"
    exit 1
    ;;
  *) log "usage: scripts/kube-up.sh [build|up]"; exit 2 ;;
esac
