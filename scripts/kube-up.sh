#!/usr/bin/env bash
# A single-node Kubernetes cluster on this machine, from binaries cached outside the checkout
# (~/.cache/kairos/k8s/bin), built from the Go module proxy the first time (no container registry,
# no release downloads). See docs/deploy.md ("A cluster on this machine").
#
# Usage: scripts/kube-up.sh deps     install the Debian packages the node needs when missing (root)
#        scripts/kube-up.sh build    build whatever binary is missing (etcd, kube-apiserver,
#                                    kube-controller-manager, kube-scheduler, kubelet, kube-proxy,
#                                    kubectl, coredns); about 25 min of CPU the first time, at nice 19
#        scripts/kube-up.sh [up]     build what is missing, then start (or keep) the cluster and wait
#                                    until the node is Ready, Services route and DNS answers; prints
#                                    the kubeconfig's path. Idempotent: a running cluster is reused.
# Needs root and Debian's containerd, runc, CNI plugins, iptables, gcc and buildah (`deps` installs
# them; `up` does too). scripts/kube-down.sh stops it all again.
set -euo pipefail
cd "$(dirname "$0")/.."
K8S_SCRIPT=kube-up
. scripts/kube-env.sh
WORK="$K8S_CACHE/k8s/src"
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
log() { k8s_log "$@"; }
ETCD_VERSION="v3.7.3"
COREDNS_VERSION="v1.13.1"

need_go() { command -v go >/dev/null 2>&1 || k8s_die "Go is needed to build the cluster binaries (https://go.dev/dl)"; }
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
  need_go
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
  need_go
  prepare_kubernetes
  for c in "${missing[@]}"; do
    log "$c $K8S_VERSION: building (the first, cold build of kube-apiserver takes about 15 minutes)"
    (cd "$KUBERNETES_DIR" && gobuild "$K8S_BIN/$c" "./cmd/$c" "$(k8s_version_ldflags)")
  done
}

build_coredns() {
  [ -x "$K8S_BIN/coredns" ] && return
  need_go
  log "coredns $COREDNS_VERSION: building"
  GOBIN="$K8S_BIN" GOFLAGS="-buildvcs=false" nice -n 19 go install "github.com/coredns/coredns@$COREDNS_VERSION"
}

build_all() {
  build_etcd
  build_kubernetes
  build_coredns || log "coredns: build failed; cluster DNS will be missing (see the log above)"
  log "binaries in $K8S_BIN: $(ls "$K8S_BIN" | tr '\n' ' ')"
}


# --- the node's pieces -----------------------------------------------------------------------------

# The sandbox ("pause") image: build/pause/linux/pause.c from the Kubernetes module, linked
# statically, as the only file of an image (no registry to pull registry.k8s.io/pause from).
build_pause() {
  local bin="$K8S_BIN/pause"
  if [ ! -x "$bin" ]; then
    prepare_kubernetes
    log "pause: compiling build/pause/linux/pause.c"
    gcc -Os -static -o "$bin.new" "$KUBERNETES_DIR/build/pause/linux/pause.c"
    mv -f "$bin.new" "$bin"
  fi
  PAUSE_ARCHIVE="$K8S_CACHE/k8s/pause-oci.tar"
  [ -s "$PAUSE_ARCHIVE" ] && [ "$PAUSE_ARCHIVE" -nt "$bin" ] && return
  command -v buildah >/dev/null 2>&1 || k8s_die "buildah is needed to make the pause image (apt-get install buildah)"
  local c
  c="$(buildah from scratch)"
  buildah copy "$c" "$bin" /pause >/dev/null
  buildah config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  buildah commit -q "$c" "$K8S_PAUSE_IMAGE" >/dev/null
  buildah rm "$c" >/dev/null
  buildah push -q "$K8S_PAUSE_IMAGE" "oci-archive:$PAUSE_ARCHIVE.new:$K8S_PAUSE_IMAGE" >/dev/null
  mv -f "$PAUSE_ARCHIVE.new" "$PAUSE_ARCHIVE"
}

# Debian's packages the node needs; installed with apt-get (as root) when missing.
DEB_PACKAGES=(containerd runc containernetworking-plugins iptables iproute2 openssl curl gcc libc6-dev buildah)
install_deps() {
  local missing=() p
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 || k8s_die "missing Debian packages: ${missing[*]} (install them as root)"
  log "installing ${missing[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

require_host() {
  [ "$(id -u)" = 0 ] || k8s_die "must run as root (containerd, kubelet and kube-proxy manage namespaces, cgroups and iptables)"
  local missing=()
  for cmd in containerd containerd-shim-runc-v2 ctr runc iptables ip openssl curl gcc; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ] || missing+=("CNI plugins in /usr/lib/cni")
  [ ${#missing[@]} -eq 0 ] || k8s_die "missing: ${missing[*]} (bash scripts/kube-up.sh deps installs them)"
}

# Certificates as kubeadm lays them out, made with openssl: a CA; the API server's serving
# certificate (loopback, the node address and the in-cluster names); one client certificate in
# system:masters used by every component and by the tests (a throw-away single-user cluster); the
# service-account signing key pair.
make_pki() {
  [ -s "$K8S_PKI/admin.crt" ] && return
  log "certificates: making a CA, serving and client certificates in $K8S_PKI"
  mkdir -p "$K8S_PKI"
  (
    cd "$K8S_PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=kairos-k8s-ca
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver
    printf 'subjectAltName=IP:127.0.0.1,IP:%s,IP:%s,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n' \
      "$K8S_NODE_IP" "$(service_ip 1)" > apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 -extfile apiserver.ext
    openssl req -newkey rsa:2048 -nodes -keyout admin.key.new -out admin.csr -subj /O=system:masters/CN=kairos-admin
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt.new -days 3650
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
    rm -f ./*.csr ./*.ext
    mv admin.key.new admin.key
    mv admin.crt.new admin.crt # last: its presence means the set is complete
  ) >/dev/null 2>&1
}

service_ip() { # n -> the n-th address of the service range
  local base="${K8S_SERVICE_CIDR%/*}"
  echo "${base%.*}.$1"
}

write_kubeconfig() {
  cat > "$K8S_KUBECONFIG.new" <<KCFG
apiVersion: v1
kind: Config
clusters:
  - name: kairos
    cluster: { server: "https://127.0.0.1:$K8S_API_PORT", certificate-authority: "$K8S_PKI/ca.crt" }
users:
  - name: kairos-admin
    user: { client-certificate: "$K8S_PKI/admin.crt", client-key: "$K8S_PKI/admin.key" }
contexts:
  - name: kairos
    context: { cluster: kairos, user: kairos-admin }
current-context: kairos
KCFG
  mv -f "$K8S_KUBECONFIG.new" "$K8S_KUBECONFIG"
}

# The pods' bridge carries the node address; the CNI bridge plugin finds it and attaches pods to
# it. Service addresses are routed to it too, so the host reaches ClusterIPs from the node address.
ensure_network() {
  if ! ip link show "$K8S_BRIDGE" >/dev/null 2>&1; then
    log "network: bridge $K8S_BRIDGE with $K8S_NODE_IP (pods $K8S_POD_CIDR, services $K8S_SERVICE_CIDR)"
    ip link add "$K8S_BRIDGE" type bridge
  fi
  ip addr show dev "$K8S_BRIDGE" | grep -q "inet $K8S_NODE_IP/" ||
    ip addr add "$K8S_NODE_IP/${K8S_POD_CIDR#*/}" dev "$K8S_BRIDGE"
  ip link set "$K8S_BRIDGE" up
  ip route replace "$K8S_SERVICE_CIDR" dev "$K8S_BRIDGE" src "$K8S_NODE_IP"
  # Pod to Service traffic is routed (DNAT back onto the bridge), and bridged traffic must pass
  # kube-proxy's rules. Both are usually on already (Podman sets them); they are left on at the end.
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || { log "network: enabling net.ipv4.ip_forward"; echo 1 > /proc/sys/net/ipv4/ip_forward; }
  if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
    [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" = 1 ] || echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables
  else
    log "network: br_netfilter is not loaded; kube-proxy masquerades all Service traffic instead"
    MASQUERADE_ALL=true
  fi
  mkdir -p "$K8S_DATA/cni/net.d" "$K8S_DATA/cni/ipam"
  cat > "$K8S_DATA/cni/net.d/10-kairos.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "kairos",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$K8S_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$K8S_DATA/cni/ipam",
        "ranges": [[{ "subnet": "$K8S_POD_CIDR", "gateway": "$K8S_NODE_IP" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    }
  ]
}
CNI
}

write_configs() {
  mkdir -p "$K8S_DATA/etc" "$K8S_DATA/containerd" "$K8S_RUN/containerd" "$K8S_DATA/kubelet"
  # containerd: own root, state and socket (nothing shared with another containerd); runc's state
  # under ours too; network namespaces under the state dir, so kube-down finds every one.
  cat > "$K8S_DATA/etc/containerd.toml" <<TOML
version = 2
root = "$K8S_DATA/containerd"
state = "$K8S_RUN/containerd"
[grpc]
  address = "$K8S_CONTAINERD_SOCK"
[plugins."io.containerd.internal.v1.opt"]
  path = "$K8S_DATA/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$K8S_PAUSE_IMAGE"
  # Root here cannot lower oom_score_adj: without this runc fails with "can't get final child's PID".
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$K8S_RUN/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$K8S_DATA/cni/net.d"
TOML
  # kubelet: cgroupfs (no systemd here), cgroup v1 tolerated, no swap check; served on the node
  # address only. Eviction thresholds are low: the disk is shared with everything else here.
  cat > "$K8S_DATA/etc/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $K8S_NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: $K8S_NODE_IP
healthzPort: 10248
containerRuntimeEndpoint: unix://$K8S_CONTAINERD_SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDNS: [$K8S_NODE_IP]
clusterDomain: cluster.local
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: false }
  x509: { clientCAFile: $K8S_PKI/ca.crt }
authorization: { mode: AlwaysAllow }
evictionHard: { memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2% }
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
maxPods: 60
YAML
  # kube-proxy: iptables; sysctls left alone (conntrack sizes), NodePorts only on the node address.
  cat > "$K8S_DATA/etc/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $K8S_KUBECONFIG }
mode: iptables
hostnameOverride: $K8S_NODE_NAME
clusterCIDR: $K8S_POD_CIDR
bindAddress: $K8S_NODE_IP
healthzBindAddress: $K8S_NODE_IP:10256
metricsBindAddress: $K8S_NODE_IP:10249
nodePortAddresses: [$K8S_NODE_IP/32]
iptables: { localhostNodePorts: false, masqueradeAll: ${MASQUERADE_ALL:-false} }
conntrack: { maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
YAML
  # CoreDNS on the host, bound to the node address: the cluster's DNS (the kubelet's clusterDNS).
  cat > "$K8S_DATA/etc/Corefile" <<COREFILE
.:53 {
    bind $K8S_NODE_IP
    errors
    health $K8S_NODE_IP:8080
    ready $K8S_NODE_IP:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $K8S_KUBECONFIG
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    forward . /etc/resolv.conf
    cache 30
    loop
}
COREFILE
}

# --- processes ---------------------------------------------------------------------------------

start() { # name command...  (detached: a new session, so the caller's job control does not reach it)
  local name="$1"
  shift
  if k8s_pid "$name" >/dev/null; then return; fi
  log "$name: starting"
  mkdir -p "$K8S_RUN/pids" "$K8S_LOGS"
  setsid "$@" >> "$K8S_LOGS/$name.log" 2>&1 < /dev/null &
  echo $! > "$K8S_RUN/pids/$name.pid"
}

# Polls a real condition (no fixed sleeps): fails naming the daemon and showing its log's tail.
wait_for() { # name seconds description command...
  local name="$1" seconds="$2" what="$3" deadline
  shift 3
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ -n "$name" ] && ! k8s_pid "$name" >/dev/null; then
      tail -25 "$K8S_LOGS/$name.log" >&2 || true
      k8s_die "$name exited before $what (log: $K8S_LOGS/$name.log)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      [ -z "$name" ] || tail -25 "$K8S_LOGS/$name.log" >&2 || true
      k8s_die "timed out after ${seconds}s waiting for $what"
    fi
    sleep 0.3
  done
}

https_ok() { curl -sf --max-time 2 --cacert "$K8S_PKI/ca.crt" --cert "$K8S_PKI/admin.crt" --key "$K8S_PKI/admin.key" "$1"; }
insecure_ok() { curl -skf --max-time 2 "$1"; }
node_ready() {
  [ "$(k8s_kubectl get node "$K8S_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
default_sa() { k8s_kubectl -n default get serviceaccount default; }
dns_answers() { # the API server's Service name resolves through CoreDNS
  local addr
  addr="$(service_ip 1)"
  getent_dns kubernetes.default.svc.cluster.local | grep -q "$addr"
}
getent_dns() { # name -> A record, asked of the cluster DNS directly
  node -e '
    const dns = require("node:dns");
    const r = new dns.Resolver({ timeout: 1000, tries: 1 });
    r.setServers([process.argv[2]]);
    r.resolve4(process.argv[1], (err, a) => { if (err) process.exit(1); console.log(a.join(" ")); });
  ' "$1" "$K8S_NODE_IP"
}

start_cluster() {
  local t0=$SECONDS
  require_host
  build_all
  build_pause
  mkdir -p "$K8S_DATA" "$K8S_RUN" "$K8S_LOGS"
  make_pki
  write_kubeconfig
  ensure_network
  write_configs

  start etcd "$K8S_BIN/etcd" --name kairos --data-dir "$K8S_DATA/etcd" \
    --listen-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
    --initial-cluster "kairos=http://127.0.0.1:$K8S_ETCD_PEER_PORT" --listen-metrics-urls "" --log-level warn
  wait_for etcd 60 "etcd's /health" curl -sf --max-time 2 "http://127.0.0.1:$K8S_ETCD_PORT/health"

  # --endpoint-reconciler-type=none: a loopback advertise address is refused otherwise.
  start kube-apiserver "$K8S_BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$K8S_ETCD_PORT" \
    --bind-address=127.0.0.1 --secure-port="$K8S_API_PORT" --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none --authorization-mode=Node,RBAC \
    --client-ca-file="$K8S_PKI/ca.crt" --tls-cert-file="$K8S_PKI/apiserver.crt" --tls-private-key-file="$K8S_PKI/apiserver.key" \
    --kubelet-client-certificate="$K8S_PKI/admin.crt" --kubelet-client-key="$K8S_PKI/admin.key" \
    --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$K8S_PKI/sa.pub" \
    --service-account-signing-key-file="$K8S_PKI/sa.key" --service-cluster-ip-range="$K8S_SERVICE_CIDR" \
    --cert-dir="$K8S_DATA/apiserver-certs" --profiling=false
  wait_for kube-apiserver 120 "the API server's /readyz" https_ok "https://127.0.0.1:$K8S_API_PORT/readyz"

  start kube-controller-manager "$K8S_BIN/kube-controller-manager" --kubeconfig="$K8S_KUBECONFIG" \
    --bind-address="$K8S_NODE_IP" --secure-port=10257 --leader-elect=false \
    --service-account-private-key-file="$K8S_PKI/sa.key" --root-ca-file="$K8S_PKI/ca.crt" \
    --use-service-account-credentials=false --cluster-cidr="$K8S_POD_CIDR" --service-cluster-ip-range="$K8S_SERVICE_CIDR" \
    --cert-dir="$K8S_DATA/controller-manager-certs" --profiling=false
  start kube-scheduler "$K8S_BIN/kube-scheduler" --kubeconfig="$K8S_KUBECONFIG" \
    --bind-address="$K8S_NODE_IP" --secure-port=10259 --leader-elect=false \
    --cert-dir="$K8S_DATA/scheduler-certs" --profiling=false
  start containerd containerd --config "$K8S_DATA/etc/containerd.toml"
  wait_for containerd 60 "containerd's socket" k8s_ctr version
  if ! k8s_ctr images ls -q | grep -qx "$K8S_PAUSE_IMAGE"; then
    log "containerd: importing the pause image"
    k8s_ctr images import --no-unpack "$PAUSE_ARCHIVE" >/dev/null
  fi
  wait_for kube-controller-manager 60 "the controller manager's /healthz" insecure_ok "https://$K8S_NODE_IP:10257/healthz"
  wait_for kube-scheduler 60 "the scheduler's /healthz" insecure_ok "https://$K8S_NODE_IP:10259/healthz"

  start kubelet "$K8S_BIN/kubelet" --config="$K8S_DATA/etc/kubelet.yaml" --kubeconfig="$K8S_KUBECONFIG" \
    --root-dir="$K8S_DATA/kubelet" --node-ip="$K8S_NODE_IP" --hostname-override="$K8S_NODE_NAME" \
    --cert-dir="$K8S_DATA/kubelet-certs"
  start kube-proxy "$K8S_BIN/kube-proxy" --config="$K8S_DATA/etc/kube-proxy.yaml"
  start coredns "$K8S_BIN/coredns" -conf "$K8S_DATA/etc/Corefile"
  wait_for kubelet 120 "node $K8S_NODE_NAME Ready" node_ready
  wait_for kube-proxy 60 "kube-proxy's /healthz" curl -sf --max-time 2 "http://$K8S_NODE_IP:10256/healthz"
  wait_for coredns 60 "CoreDNS ready" curl -sf --max-time 2 "http://$K8S_NODE_IP:8181/ready"
  wait_for coredns 30 "kubernetes.default.svc to resolve through CoreDNS" dns_answers
  wait_for kube-controller-manager 60 "the default ServiceAccount" default_sa
  log "cluster ready in $((SECONDS - t0))s: export KUBECONFIG=$K8S_KUBECONFIG"
  echo "$K8S_KUBECONFIG"
}

case "${1:-up}" in
  deps) install_deps ;;
  build) build_all ;;
  up) install_deps && start_cluster ;;
  *) log "usage: scripts/kube-up.sh [deps|build|up]"; exit 2 ;;
esac
