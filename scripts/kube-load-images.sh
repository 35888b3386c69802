#!/usr/bin/env bash
# Loads images from the local Podman/Buildah store into the cluster's containerd (scripts/kube-up.sh),
# so pods find them without any registry (the charts' default imagePullPolicy, IfNotPresent, then
# never pulls). An image already loaded from the same local image id is skipped (containerd keeps
# that id as a label on the image), and one loaded under another tag is only tagged.
#
# Usage: scripts/kube-load-images.sh [--tag TAG] [name ...]
#   name: a service with a chart (deploy/helm/charts.mjs), provision, nats, ferretdb (default: all),
#         loaded as localhost/kairos/<name>:TAG
#   --tag   default: the services' version (the charts' appVersion)
set -euo pipefail
cd "$(dirname "$0")/.."
K8S_SCRIPT=kube-load-images
. scripts/kube-env.sh

TAG="$(node -p "require('./services/ingest/package.json').version")"
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG="${2:?--tag needs a value}"; shift 2 ;;
    -*) k8s_die "unknown option $1" ;;
    *) names+=("$1"); shift ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then # every service with a chart, the hook Job's image, the dev servers
  read -r -a names <<< "$(node --input-type=module -e "const m = await import('./deploy/helm/charts.mjs'); console.log(Object.keys(m.SERVICES).join(' '))") provision nats ferretdb"
fi
if command -v podman >/dev/null 2>&1; then ENGINE=podman; else ENGINE=buildah; fi
k8s_ctr version >/dev/null 2>&1 || k8s_die "the cluster's containerd is not running (bash scripts/kube-up.sh)"

# Images to load go into one archive, so the layers they share (the base image) are written and
# imported once.
load=()
ids=()
for name in "${names[@]}"; do
  ref="localhost/kairos/$name:$TAG"
  id="$("$ENGINE" inspect --format '{{.Id}}' "$ref" 2>/dev/null)" ||
    k8s_die "$ref is not in the local image store (bash scripts/build-images.sh --tag $TAG $name)"
  loaded="$(k8s_ctr images ls "name==$ref" 2>/dev/null | awk 'NR > 1 { print $NF }' | tr ',' '\n' | sed -n 's/^io.kairos.local-id=//p')"
  if [ "$loaded" = "$id" ]; then
    k8s_log "$ref: loaded already"
    continue
  fi
  # The same image under another tag (a test's roll-out tag) only needs a new name.
  # awk reads the whole listing: leaving early would end ctr with SIGPIPE, and pipefail would stop
  # the script without a word once the listing outgrows the pipe's buffer.
  same="$(k8s_ctr images ls 2>/dev/null | awk -v label="io.kairos.local-id=$id" 'NR > 1 && !found && index($NF, label) { print $1; found = 1 }')"
  if [ -n "$same" ]; then
    k8s_log "$ref: tagging $same"
    k8s_ctr images tag --force "$same" "$ref" >/dev/null
    k8s_ctr images label "$ref" "io.kairos.local-id=$id" >/dev/null
    continue
  fi
  load+=("$ref")
  ids+=("$id")
done
[ ${#load[@]} -gt 0 ] || exit 0

archive="$(mktemp --suffix=.tar)"
trap 'rm -f "$archive"' EXIT
k8s_log "loading ${load[*]}"
if [ "$ENGINE" = podman ]; then
  podman save -q --multi-image-archive --format docker-archive -o "$archive" "${load[@]}"
  k8s_ctr images import "$archive" >/dev/null
else # Buildah writes one image per archive
  for ref in "${load[@]}"; do
    rm -f "$archive"
    buildah push -q "$ref" "oci-archive:$archive:$ref" >/dev/null
    k8s_ctr images import "$archive" >/dev/null
  done
fi
for i in "${!load[@]}"; do
  k8s_ctr images label "${load[i]}" "io.kairos.local-id=${ids[i]}" >/dev/null
done
