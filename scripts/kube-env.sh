# Shared by scripts/kube-up.sh and scripts/kube-down.sh (sourced): where the single-node cluster keeps
# its files, which addresses it uses, and how its processes are found again.
#
# Everything the cluster owns is named here, so kube-down removes exactly that:
#   - data (certificates, etcd, containerd's images, kubelet's root, logs) under $K8S_DATA;
#   - run-time state (pid files, sockets, containerd state, network namespace mounts) under $K8S_RUN;
#   - the bridge $K8S_BRIDGE with the node address $K8S_NODE_IP: the pods' network, and the one
#     non-loopback address of the node's components (kubelet, kube-proxy, CoreDNS, controller
#     manager, scheduler), so they never take a port another process on 127.0.0.1 uses and the API
#     server can reach the kubelet for logs, exec and port-forward;
#   - iptables chains named KUBE-* (kube-proxy's and the kubelet's).
# etcd and the API server listen on loopback, on fixed ports below the ephemeral range (a process
# that asks for any free port never gets them).

K8S_VERSION="${KAIROS_KUBERNETES_VERSION:-v1.37.2}"
K8S_CACHE="${KAIROS_CACHE_DIR:-$HOME/.cache/kairos}"
K8S_BIN="$K8S_CACHE/k8s/bin"
K8S_DATA="${KAIROS_K8S_DATA:-/var/lib/kairos-k8s}"
K8S_RUN="${KAIROS_K8S_RUN:-/run/kairos-k8s}"
K8S_PKI="$K8S_DATA/pki"
K8S_LOGS="$K8S_DATA/logs"
K8S_KUBECONFIG="$K8S_DATA/kubeconfig"
K8S_BRIDGE="${KAIROS_K8S_BRIDGE:-kairos0}"
K8S_NODE_IP="${KAIROS_K8S_NODE_IP:-10.244.0.1}"
K8S_POD_CIDR="${KAIROS_K8S_POD_CIDR:-10.244.0.0/24}"
K8S_SERVICE_CIDR="${KAIROS_K8S_SERVICE_CIDR:-10.96.0.0/16}"
K8S_NODE_NAME="kairos-node"
K8S_ETCD_PORT="${KAIROS_K8S_ETCD_PORT:-12379}"
K8S_ETCD_PEER_PORT="${KAIROS_K8S_ETCD_PEER_PORT:-12380}"
K8S_API_PORT="${KAIROS_K8S_API_PORT:-16443}"
K8S_CONTAINERD_SOCK="$K8S_RUN/containerd/containerd.sock"
K8S_PAUSE_IMAGE="localhost/kairos/pause:3.10"
# Start order; kube-down stops them in reverse.
K8S_DAEMONS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy coredns)

k8s_log() { printf '[%s] %s\n' "${K8S_SCRIPT:-kube}" "$*" >&2; }
k8s_die() { k8s_log "$*"; exit 1; }

# The pid of a daemon the scripts started, if it still runs that binary (a stale pid file whose
# number was reused by another process does not count).
k8s_pid() { # name
  local f="$K8S_RUN/pids/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$1" || return 1
  echo "$pid"
}

k8s_ctr() { ctr --address "$K8S_CONTAINERD_SOCK" --namespace k8s.io "$@"; }
k8s_kubectl() { "$K8S_BIN/kubectl" --kubeconfig "$K8S_KUBECONFIG" "$@"; }
