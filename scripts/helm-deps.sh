#!/usr/bin/env bash
# Links the Kairos charts together: copies the library chart into each service chart and the service
# charts into the umbrella (`helm dependency update`, local file:// dependencies only, no network).
# Needed once after a clone and after any chart change, before helm lint/template/install.
set -euo pipefail
cd "$(dirname "$0")/.."
HELM="$(command -v helm || echo "${KAIROS_BIN_DIR:-$HOME/.cache/kairos/bin}/helm")"
[ -x "$HELM" ] || bash scripts/install-tools.sh helm
for chart in ingest enrichment pattern-detection orchestration delivery kairos; do
  "$HELM" dependency update --skip-refresh "deploy/helm/$chart" >/dev/null
done
