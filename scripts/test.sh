#!/usr/bin/env bash
# The whole test suite (README's test command): bootstrap, build (type-check), lint, unit,
# integration, e2e, the short chaos run (the mesh under load and faults; `pnpm test:chaos` alone runs
# the long one), and the mesh on a real single-node Kubernetes cluster (k8s: started, used and torn
# down again). Each level fails if it finds no test to run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh kube
pnpm build
pnpm lint
pnpm test:unit
pnpm test:integration
pnpm test:e2e
KAIROS_CHAOS_PROFILE=short pnpm test:chaos
pnpm test:k8s
