#!/usr/bin/env bash
# README's run command: bootstrap, build, then the local mesh (tools/local-runner). Extra arguments go
# to the runner (--services, --rate, --duration, --no-simulate).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
pnpm build
exec node tools/local-runner/dist/src/main.js "$@"
