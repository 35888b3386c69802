#!/usr/bin/env bash
# Links the Kairos charts together: copies the library chart into each service chart and the service
# charts into the umbrella (`helm dependency update`, local file:// dependencies only, no network).
# Needed once after a clone and after any chart change, before helm lint/template/install.
set -euo pipefail
cd "$(dirname "$0")/.."
HELM="$(command -v helm || echo "${KAIROS_BIN_DIR:-$HOME/.cache/kairos/bin}/helm")"
[ -x "$HELM" ] || bash scripts/install-tools.sh helm
# The service charts are the ones deploy/helm/charts.mjs describes; the umbrella comes last.
SERVICES="$(node --input-type=module -e "const m = await import('./deploy/helm/charts.mjs'); console.log(Object.keys(m.SERVICES).join(' '))")"
for chart in $SERVICES kairos; do
  "$HELM" dependency update --skip-refresh "deploy/helm/$chart" >/dev/null
done
