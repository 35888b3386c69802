#!/usr/bin/env bash
# Stops the single-node cluster scripts/kube-up.sh started and removes what it added to the host:
# its processes (and every container process of its pods), mounts under its directories, network
# namespaces, the bridge, the iptables chains named KUBE-* and the pods' cgroups. Leaves other
# processes, iptables rules and network settings alone. Safe to run when nothing is running.
#
# Usage: scripts/kube-down.sh [--purge]
#   --purge  also delete the cluster's data (etcd, images loaded into containerd, certificates, logs);
#            without it the next kube-up.sh starts from the same state, with the images still loaded.
set -uo pipefail
cd "$(dirname "$0")/.."
K8S_SCRIPT=kube-down
. scripts/kube-env.sh
log() { k8s_log "$@"; }
PURGE=false
[ "${1:-}" != --purge ] || PURGE=true

stop() { # name...: SIGTERM to all of them at once, SIGKILL to any still running 15 s later
  local name pid pids=() i
  for name in "$@"; do
    if pid="$(k8s_pid "$name")"; then
      log "$name: stopping (pid $pid)"
      kill -TERM "$pid" 2>/dev/null
      pids+=("$pid")
    fi
    rm -f "$K8S_RUN/pids/$name.pid"
  done
  for ((i = 0; i < 150; i++)); do
    alive=()
    for pid in "${pids[@]}"; do [ ! -d "/proc/$pid" ] || alive+=("$pid"); done
    [ ${#alive[@]} -gt 0 ] || return 0
    sleep 0.1
  done
  kill -KILL "${alive[@]}" 2>/dev/null
}

# Every process in the pods' cgroups (the kubelet puts them under kubepods in each hierarchy), then
# the cgroups themselves, deepest first.
kill_pod_processes() {
  local dirs d pids round
  mapfile -t dirs < <(find /sys/fs/cgroup -type d -name kubepods 2>/dev/null)
  [ ${#dirs[@]} -gt 0 ] || return 0
  for round in 1 2 3 4 5 6 7 8 9 10; do
    pids="$(for d in "${dirs[@]}"; do find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null; done | sort -u)"
    [ -n "$pids" ] || break
    [ "$round" -gt 1 ] || log "pods: killing $(echo "$pids" | wc -l) container processes"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    sleep 0.2
  done
  for d in "${dirs[@]}"; do
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
}

# containerd's shims outlive containerd by design. While containerd runs, deleting each task lets
# its shim shut down (removing its socket); any shim left (started with our socket) is killed, with
# the socket files it listened on.
end_tasks() {
  local id
  k8s_ctr version >/dev/null 2>&1 || return 0
  for id in $(k8s_ctr tasks ls -q 2>/dev/null); do
    k8s_ctr tasks delete --force "$id" >/dev/null 2>&1
  done
}
kill_shims() {
  local p cmd inodes sockets
  for p in /proc/[0-9]*; do
    cmd="$(tr '\0' ' ' 2>/dev/null < "$p/cmdline")" || continue
    case "$cmd" in
      *containerd-shim*"$K8S_CONTAINERD_SOCK"*)
        inodes="$(find "$p/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | sed 's/socket:\[\(.*\)\]/\1/')"
        sockets="$(awk -v ids=" $(echo $inodes) " 'index(ids, " " $7 " ") && $8 ~ /^\/run\/containerd\/s\// { print $8 }' /proc/net/unix)"
        kill -KILL "${p#/proc/}" 2>/dev/null
        # shellcheck disable=SC2086
        [ -z "$sockets" ] || rm -f $sockets
        ;;
    esac
  done
}

unmount_all() { # every mount point under our directories, deepest first
  local dir m
  for dir in "$K8S_RUN" "$K8S_DATA"; do
    awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
    done
  done
}

remove_iptables_chains() { # KUBE-* chains (kube-proxy's, the kubelet's) and the rules jumping to them
  local cmd table rule chain
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null 2>&1 || continue
    for table in filter nat mangle; do
      "$cmd" -t "$table" -S 2>/dev/null | grep -E '^-A [^ ]+ .*-j KUBE-' | grep -vE '^-A KUBE-' | while read -r rule; do
        # shellcheck disable=SC2086
        eval "$cmd -t $table ${rule/-A /-D }" 2>/dev/null
      done
      for chain in $("$cmd" -t "$table" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p'); do
        "$cmd" -t "$table" -F "$chain" 2>/dev/null
      done
      for chain in $("$cmd" -t "$table" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p'); do
        "$cmd" -t "$table" -X "$chain" 2>/dev/null
      done
    done
  done
}

# The node first (its pods, then containerd), then the control plane, etcd last.
stop coredns kube-proxy kubelet
kill_pod_processes
end_tasks
stop containerd
kill_shims
stop kube-scheduler kube-controller-manager kube-apiserver
stop etcd
kill_pod_processes
kill_shims
unmount_all
[ -x "$K8S_BIN/kube-proxy" ] && "$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1
remove_iptables_chains
if ip link show "$K8S_BRIDGE" >/dev/null 2>&1; then
  log "network: deleting bridge $K8S_BRIDGE"
  ip link delete "$K8S_BRIDGE"
fi
rm -rf "$K8S_RUN"
if $PURGE; then
  log "deleting $K8S_DATA"
  unmount_all
  rm -rf "$K8S_DATA"
else
  rm -rf "$K8S_DATA/cni/ipam" # leases of pods that no longer exist
fi
# Our daemons are the ones whose arguments name our data directory (kube-validate.sh runs the same
# etcd and API server binaries with a temporary directory).
left="$({ pgrep -f "^($K8S_BIN/|containerd ).*$K8S_DATA/"; pgrep -f "containerd-shim.*$K8S_CONTAINERD_SOCK"; } | tr '\n' ' ')"
[ -z "${left// /}" ] || { log "still running: $left"; exit 1; }
log "stopped; nothing of the cluster is running"
