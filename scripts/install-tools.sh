#!/usr/bin/env bash
# Installs the infrastructure binaries Kairos needs into a cache outside the checkout, so a fresh
# clone on the same machine finds them (architecture brief §7). Skips whatever is already present.
#   nats-server (JetStream, >= 2.12), FerretDB v1 (SQLite backend) unless mongod exists,
#   helm and kubeconform (chart checks).
# Usage: scripts/install-tools.sh [nats-server|ferretdb|helm|kubeconform ...]   (default: all)
set -euo pipefail

BIN_DIR="${KAIROS_BIN_DIR:-$HOME/.cache/kairos/bin}"
MOD_DIR="${KAIROS_TOOLS_MODULE_DIR:-$HOME/.cache/kairos/tools-module}"
mkdir -p "$BIN_DIR"

NATS_SERVER_VERSION="v2.12.1"
FERRETDB_VERSION="v1.24.2"
HELM_VERSION="v3.19.0"
KUBECONFORM_VERSION="v0.7.0"

log() { printf '[install-tools] %s\n' "$*" >&2; }

have() { [ -x "$BIN_DIR/$1" ] || command -v "$1" >/dev/null 2>&1; }

need_go() {
  if ! command -v go >/dev/null 2>&1; then
    log "Go is not installed, so $1 cannot be built here."
    log "Install Go (https://go.dev/dl) or put a '$1' binary on PATH or in $BIN_DIR, then re-run."
    exit 1
  fi
}

go_install() { # name package@version
  local name="$1" pkg="$2"
  if have "$name"; then log "$name: present"; return; fi
  need_go "$name"
  log "$name: building $pkg (first time only; takes a few minutes)"
  GOBIN="$BIN_DIR" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "$pkg"
  log "$name: installed in $BIN_DIR"
}

install_ferretdb() {
  if have mongod; then log "mongod present: FerretDB not needed"; return; fi
  if have ferretdb; then log "ferretdb: present"; return; fi
  need_go ferretdb
  # FerretDB's go.mod carries replace directives, so `go install pkg@version` refuses it; build it
  # as a tool dependency of a scratch module instead.
  log "ferretdb: building FerretDB $FERRETDB_VERSION (first time only; takes a few minutes)"
  mkdir -p "$MOD_DIR"
  (
    cd "$MOD_DIR"
    [ -f go.mod ] || go mod init kairos.local/tools >/dev/null 2>&1
    go get -tool "github.com/FerretDB/FerretDB/cmd/ferretdb@$FERRETDB_VERSION"
    GOBIN="$BIN_DIR" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install -tags ferretdb_no_postgresql github.com/FerretDB/FerretDB/cmd/ferretdb 2>/dev/null \
      || GOBIN="$BIN_DIR" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install github.com/FerretDB/FerretDB/cmd/ferretdb
  )
  log "ferretdb: installed in $BIN_DIR"
}

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(nats-server ferretdb helm kubeconform)
for tool in "${want[@]}"; do
  case "$tool" in
    nats-server) go_install nats-server "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION" ;;
    ferretdb) install_ferretdb ;;
    helm) go_install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ;;
    kubeconform) go_install kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" ;;
    *) log "unknown tool '$tool' (expected nats-server, ferretdb, helm or kubeconform)"; exit 2 ;;
  esac
done
