#!/usr/bin/env bash
# Installs the infrastructure binaries Kairos needs into a cache outside the checkout, so a fresh
# clone on the same machine finds them (architecture brief §7). Skips whatever is already present.
#   nats-server (JetStream, >= 2.12), FerretDB v1 (SQLite backend, patched so `_id` lookups use the
#   `_id` index; see docs/operations.md) unless mongod exists, helm and kubeconform (chart checks),
#   kube-schemas (kubeconform's schemas, from the Kubernetes OpenAPI document).
# Usage: scripts/install-tools.sh [nats-server|ferretdb|natscli|helm|kubeconform|kube-schemas ...]   (default: all)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN_DIR="${KAIROS_BIN_DIR:-$HOME/.cache/kairos/bin}"
MOD_DIR="${KAIROS_TOOLS_MODULE_DIR:-$HOME/.cache/kairos/tools-module}"
mkdir -p "$BIN_DIR"

# 2.12.1 lost acknowledged writes in Jepsen's analysis under its default lazy fsync; see
# docs/operations.md ("Durability") for the sync_interval and replica settings production needs.
NATS_SERVER_VERSION="v2.15.3"
FERRETDB_VERSION="v1.24.2"
# natscli: `nats bench` measures the server's own ceiling beside the Node client (pnpm bench ceiling).
NATSCLI_VERSION="v0.5.1"
HELM_VERSION="v3.19.0"
KUBECONFORM_VERSION="v0.7.0"
# The Kubernetes release whose OpenAPI document validates rendered charts (kube-schemas), and whose
# components scripts/kube-up.sh builds.
KUBERNETES_VERSION="v1.37.2"
SCHEMA_DIR="${KAIROS_KUBE_SCHEMA_DIR:-$HOME/.cache/kairos/k8s/schemas/$KUBERNETES_VERSION}"

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

# nats-server is rebuilt when the cached binary reports another version than the one pinned here.
install_nats_server() {
  local bin="$BIN_DIR/nats-server" have_version=""
  [ -x "$bin" ] && have_version="$("$bin" --version 2>/dev/null | sed -n 's/^nats-server: //p')"
  if [ "$have_version" = "$NATS_SERVER_VERSION" ]; then log "nats-server: present ($have_version)"; return; fi
  need_go nats-server
  log "nats-server: building $NATS_SERVER_VERSION${have_version:+ (replacing $have_version)}"
  local tmp
  tmp="$(mktemp -d)"
  # Built aside and renamed, so servers running the old binary are not disturbed.
  GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
  mv -f "$tmp/nats-server" "$bin"
  rmdir "$tmp"
  log "nats-server: installed in $BIN_DIR"
}

# FerretDB v1.24.2's SQLite backend filters `_id` with `_ferretdb_sjson->'$._id'` but indexes
# `_ferretdb_sjson->"_id"`; SQLite only uses an expression index for the identical expression, so every
# find/update/delete by `_id` scanned the whole table (200 ms per findOne at 100k docs). Writing the
# filter as `->'_id'` (same JSON path) lets SQLite use the unique `_id` index. Second, the `_id`
# equality was pushed down only when it was the whole filter, so `{_id, version}` (optimistic
# concurrency) or `{_id, state}` scanned everything again; it is now pushed down whenever present (the
# handler re-applies the whole filter to the rows returned, so the result is unchanged). Third, an
# `update` command with several statements kept every statement's query open (`defer` inside the
# loop) until the command ended, each holding one of the 100 pooled SQLite connections: a bulk write
# of ~100 updates (or a few smaller ones at once) exhausted the pool and deadlocked the server. Each
# statement's query is now closed as soon as it is applied. Fourth, SQLite has one writer per
# database file, and FerretDB let every connection begin its write at once: the losers slept in
# SQLite's busy handler (1 ms growing to 100 ms per retry, seen in goroutine dumps), so under the
# mesh's mixed writes a profile update took 11-19 ms instead of 1-2 ms with the server half idle.
# Writes to one database now queue on a Go mutex and never sleep. Fifth, every insert and update
# command "creates" its collection first, under the registry's one exclusive lock (all databases):
# each write waited for every query in flight and stalled every query behind it, a lock convoy
# (24 commands queued on it in one dump). An existing collection is now found under the read lock.
# Sixth, FerretDB tracks the lifetime of every iterator, cursor and connection for leak reports: a
# pprof profile entry with a captured stack and a finalizer per object, 15% of its CPU per findOne
# (the stack walk alone). Tracking is now off (Track/Untrack return at once).
# Bump FERRETDB_BUILD when the patch changes so existing binaries are rebuilt.
FERRETDB_BUILD="$FERRETDB_VERSION+kairos.6 (sqlite _id index, _id pushdown in compound filters, update releases connections, writers queue, no global lock per write, no leak tracking)"

patched_or_exit() { # file grep-pattern what: stops the build when a patch did not apply
  grep -q -- "$2" "$1" || { log "ferretdb: could not apply the $3 patch to $1 (source changed?)"; exit 1; }
}

patch_ferretdb_source() { # dir
  local file="$1/internal/backends/sqlite/metadata/metadata.go"
  sed -i "s|IDColumn = DefaultColumn + \"->'\\\$._id'\"|IDColumn = DefaultColumn + \"->'_id'\"|" "$file"
  patched_or_exit "$file" "IDColumn = DefaultColumn + \"->'_id'\"" "_id index"
  local query="$1/internal/backends/sqlite/collection.go"
  sed -i 's|^\tif params.Filter.Len() == 1 {$|\tif params.Filter.Len() >= 1 {|' "$query"
  patched_or_exit "$query" '^	if params.Filter.Len() >= 1 {$' "_id pushdown"
  local update="$1/internal/handler/msg_update.go"
  sed -i 's|^\t\tresult, err := common.UpdateDocument(ctx, c, "update", iter, \&u)$|&\n\t\tcloser.Close() // kairos: release the connection now, not at the end of the command|' "$update"
  patched_or_exit "$update" 'closer.Close() // kairos' "update connection"
  local fsql="$1/internal/util/fsql/db.go"
  sed -i -e 's|^\t"log/slog"$|&\n\t"sync"|' \
    -e 's|^\tBatchSize int$|&\n\twriteMu   sync.Mutex // kairos: one writer at a time, queued here instead of in the busy handler|' \
    -e 's|^func (db \*DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {$|&\n\tdb.writeMu.Lock() // kairos: exec\n\tdefer db.writeMu.Unlock()|' \
    -e 's|^func (db \*DB) InTransaction(ctx context.Context, f func(\*Tx) error) (err error) {$|&\n\tdb.writeMu.Lock() // kairos: transaction\n\tdefer db.writeMu.Unlock()|' \
    "$fsql"
  patched_or_exit "$fsql" 'writeMu   sync.Mutex' "writer queue"
  patched_or_exit "$fsql" 'db.writeMu.Lock() // kairos: exec' "writer queue (exec)"
  patched_or_exit "$fsql" 'db.writeMu.Lock() // kairos: transaction' "writer queue (transaction)"
  local registry="$1/internal/backends/sqlite/metadata/registry.go"
  sed -i 's|^func (r \*Registry) CollectionCreate(ctx context.Context, params \*CollectionCreateParams) (bool, error) {$|&\n\tr.rw.RLock() // kairos: an existing collection needs no exclusive lock\n\texists := r.colls[params.DBName][params.Name] != nil\n\tr.rw.RUnlock()\n\tif exists {\n\t\treturn false, nil\n\t}|' "$registry"
  patched_or_exit "$registry" 'kairos: an existing collection needs no exclusive lock' "collection lock"
  local resource="$1/internal/util/resource/resource.go"
  sed -i -e 's|^func Track(obj any, token \*Token) {$|&\n\treturn // kairos: no leak tracking (a stack walk per object)|' \
    -e 's|^func Untrack(obj any, token \*Token) {$|&\n\treturn // kairos: see Track|' "$resource"
  patched_or_exit "$resource" 'kairos: no leak tracking' "leak tracking"
  patched_or_exit "$resource" 'kairos: see Track' "leak tracking (untrack)"
}

install_ferretdb() {
  if have mongod; then log "mongod present: FerretDB not needed"; return; fi
  local on_path stamp="$BIN_DIR/ferretdb.build"
  on_path="$(command -v ferretdb 2>/dev/null || true)"
  if [ -n "$on_path" ] && [ "$on_path" != "$BIN_DIR/ferretdb" ]; then
    log "ferretdb: using $on_path from PATH (not built here: its SQLite _id lookups may scan whole tables)"
    return
  fi
  if [ -x "$BIN_DIR/ferretdb" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$FERRETDB_BUILD" ] &&
    "$BIN_DIR/ferretdb" --version >/dev/null 2>&1; then
    log "ferretdb: present ($FERRETDB_BUILD)"
    return
  fi
  need_go ferretdb
  # FerretDB's go.mod carries replace directives, so `go install pkg@version` refuses it, and a build
  # outside its own repository panics at start-up because build/version/version.txt (normally
  # generated by its task runner) is missing. Build it from a writable copy of the module source with
  # that file written (and the patch above applied).
  log "ferretdb: building FerretDB $FERRETDB_BUILD (first time only; takes a few minutes)"
  mkdir -p "$MOD_DIR"
  (
    cd "$MOD_DIR"
    [ -f go.mod ] || go mod init kairos.local/tools >/dev/null 2>&1
    local src
    src="$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -n "$src" ] || { log "ferretdb: go mod download did not report a source dir"; exit 1; }
    rm -rf "$MOD_DIR/ferretdb-src"
    cp -r "$src" "$MOD_DIR/ferretdb-src"
    chmod -R u+w "$MOD_DIR/ferretdb-src"
    cd "$MOD_DIR/ferretdb-src"
    echo "$FERRETDB_VERSION" > build/version/version.txt
    patch_ferretdb_source "$MOD_DIR/ferretdb-src"
    # Build next to the target and rename, so servers running the old binary are not disturbed.
    GOFLAGS="${GOFLAGS:-} -buildvcs=false" go build -o "$BIN_DIR/ferretdb.new" ./cmd/ferretdb
    mv -f "$BIN_DIR/ferretdb.new" "$BIN_DIR/ferretdb"
  )
  echo "$FERRETDB_BUILD" > "$stamp"
  log "ferretdb: installed in $BIN_DIR"
}

# kubeconform's JSON schemas, made from the OpenAPI document in the Kubernetes module source (the Go
# module proxy serves it; prebuilt schema sets are not reachable here).
install_kube_schemas() {
  if [ -s "$SCHEMA_DIR/deployment-apps-v1.json" ] && [ "$SCHEMA_DIR/.stamp" -nt "$ROOT/scripts/kube-schemas.mjs" ]; then
    log "kube-schemas: present ($SCHEMA_DIR)"
    return
  fi
  need_go kube-schemas
  log "kube-schemas: downloading k8s.io/kubernetes@$KUBERNETES_VERSION source (first time only)"
  mkdir -p "$MOD_DIR"
  local src
  src="$(cd "$MOD_DIR" && { [ -f go.mod ] || go mod init kairos.local/tools >/dev/null 2>&1; } &&
    go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$src" ] || { log "kube-schemas: go mod download did not report a source dir"; exit 1; }
  node "$ROOT/scripts/kube-schemas.mjs" "$src/api/openapi-spec/swagger.json" "$SCHEMA_DIR"
  touch "$SCHEMA_DIR/.stamp"
}

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(nats-server ferretdb natscli helm kubeconform kube-schemas)
for tool in "${want[@]}"; do
  case "$tool" in
    nats-server) install_nats_server ;;
    natscli) go_install nats "github.com/nats-io/natscli/nats@$NATSCLI_VERSION" ;;
    ferretdb) install_ferretdb ;;
    helm) go_install helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ;;
    kubeconform) go_install kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" ;;
    kube-schemas) install_kube_schemas ;;
    *) log "unknown tool '$tool' (expected nats-server, ferretdb, natscli, helm, kubeconform or kube-schemas)"; exit 2 ;;
  esac
done
