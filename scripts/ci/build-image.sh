#!/usr/bin/env bash
# build stage: the multi-arch image with buildx. Pushes when VOXGATE_PUSH=1.
#   VOXGATE_IMAGE=ghcr.io/org/voxgate:sha-abc123 [VOXGATE_PLATFORMS=linux/amd64,linux/arm64] [VOXGATE_PUSH=1]
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
need docker 'Docker with the buildx plugin and a running engine'
docker buildx version >/dev/null 2>&1 || die 'docker buildx is required'
image="${VOXGATE_IMAGE:?set VOXGATE_IMAGE to the image reference to build}"
platforms="${VOXGATE_PLATFORMS:-linux/amd64,linux/arm64}"
output=(--load)
[ "${VOXGATE_PUSH:-0}" = 1 ] && output=(--push)
# --load takes one platform only; without push, build the host's to scan it.
[ "${VOXGATE_PUSH:-0}" = 1 ] || platforms="linux/$(docker version -f '{{.Server.Arch}}')"
log "docker buildx build --platform $platforms -t $image ${output[*]}"
docker buildx build --platform "$platforms" -t "$image" \
  --build-arg VERSION="$(node -p 'require("./package.json").version')" \
  --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --provenance=true --sbom=true "${output[@]}" .
