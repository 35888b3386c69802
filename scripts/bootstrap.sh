#!/usr/bin/env bash
# Shared first step of the README commands: makes sure pnpm and the workspace's packages are installed
# and the infrastructure binaries are in the cache. Re-runs are fast.
# `bootstrap.sh kube` (scripts/test.sh) also installs what the single-node cluster of `pnpm test:k8s`
# needs: Debian's packages (containerd, runc, CNI plugins, Podman...) and the Kubernetes binaries,
# built into ~/.cache/kairos/k8s/bin when missing (about 25 minutes of CPU once).
set -euo pipefail
cd "$(dirname "$0")/.."
PNPM_VERSION="$(node -p "require('./package.json').packageManager.split('@')[1]")"
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm -v 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "[bootstrap] installing pnpm $PNPM_VERSION with npm" >&2
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null
fi
if [ -n "${CI:-}" ]; then pnpm install --frozen-lockfile; else pnpm install --prefer-offline; fi
bash scripts/install-tools.sh nats-server ferretdb helm kubeconform kube-schemas
# The analytics dashboard's browser test drives Debian's chromium with playwright-core.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "[bootstrap] installing chromium with apt-get (the dashboard's browser test)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "[bootstrap] chromium is missing: install it (apt-get install chromium) for the dashboard's browser test" >&2
  fi
fi
if [ "${1:-}" = kube ]; then
  bash scripts/kube-up.sh deps
  bash scripts/kube-up.sh build
fi
