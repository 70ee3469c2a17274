#!/usr/bin/env bash
# build stage: Trivy scan of the image (OS packages and node_modules); HIGH and CRITICAL with a fix fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
need trivy 'Trivy (aquasecurity/trivy-action in GitHub Actions)'
image="${VOXGATE_IMAGE:?set VOXGATE_IMAGE to the image to scan}"
log "trivy image --severity HIGH,CRITICAL --ignore-unfixed --exit-code 1 $image"
trivy image --severity HIGH,CRITICAL --ignore-unfixed --exit-code 1 "$image"
