#!/usr/bin/env bash
# The whole test suite (README's test command): bootstrap, build (type-check), lint, unit,
# integration, e2e. Each level fails if it finds no test to run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
pnpm build
pnpm lint
pnpm test:unit
pnpm test:integration
pnpm test:e2e
