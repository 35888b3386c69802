#!/usr/bin/env bash
# Checks every object the charts render (k8s/: the dev, minimal and production profiles) against a
# real kube-apiserver: a dry run with strict field validation, so an unknown or misplaced field fails
# (Helm would store it silently). Starts etcd and kube-apiserver from the binaries
# `scripts/kube-up.sh build` caches, on free loopback ports with throw-away certificates, and stops
# them again. Needs no kubelet, containerd or network.
# Usage: scripts/kube-validate.sh [file.yaml ...]   (default: k8s/*/kairos.yaml)
set -euo pipefail
cd "$(dirname "$0")/.."
K8S_BIN="${KAIROS_CACHE_DIR:-$HOME/.cache/kairos}/k8s/bin"
for b in etcd kube-apiserver; do
  [ -x "$K8S_BIN/$b" ] || { echo "[kube-validate] $K8S_BIN/$b missing: run scripts/kube-up.sh build" >&2; exit 2; }
done
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  bash scripts/render-k8s.sh --check
  files=(k8s/*/kairos.yaml)
fi
[ -f tools/deploy/dist/src/dry-run.js ] || node scripts/build.mjs

dir="$(mktemp -d)"
pids=()
cleanup() { # the API server first, so it does not outlive etcd retrying it
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

# Certificates as envtest makes them: a CA, a serving certificate for 127.0.0.1, an admin client in
# system:masters, and a service-account key pair.
(
  cd "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=kairos-validate-ca
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=kube-apiserver
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile san.ext
  openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj /O=system:masters/CN=admin
  openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out admin.crt -days 1
  openssl genrsa -out sa.key 2048
  openssl rsa -in sa.key -pubout -out sa.pub
) >/dev/null 2>&1

etcd_client="$(free_port)"
etcd_peer="$(free_port)"
api="$(free_port)"
"$K8S_BIN/etcd" --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$etcd_client" \
  --advertise-client-urls "http://127.0.0.1:$etcd_client" --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" --initial-cluster "default=http://127.0.0.1:$etcd_peer" \
  > "$dir/etcd.log" 2>&1 &
pids+=($!)
# --endpoint-reconciler-type=none: a loopback advertise address is refused otherwise.
"$K8S_BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$etcd_client" --bind-address=127.0.0.1 \
  --secure-port="$api" --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
  --client-ca-file="$dir/ca.crt" --tls-cert-file="$dir/server.crt" --tls-private-key-file="$dir/server.key" \
  --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$dir/sa.pub" \
  --service-account-signing-key-file="$dir/sa.key" --authorization-mode=RBAC \
  --service-cluster-ip-range=10.96.0.0/16 --cert-dir="$dir/certs" > "$dir/apiserver.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 120); do
  if curl -sf --cacert "$dir/ca.crt" --cert "$dir/admin.crt" --key "$dir/admin.key" \
    "https://127.0.0.1:$api/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "${pids[1]}" 2>/dev/null || { tail -20 "$dir/apiserver.log" >&2; exit 1; }
  sleep 0.5
done
node tools/deploy/dist/src/dry-run.js "https://127.0.0.1:$api" "$dir" kairos "${files[@]}"
