#!/usr/bin/env bash
# deploy stage: render the environment's manifests with the image, apply them, wait for every rollout.
#   VOXGATE_IMAGE=registry/voxgate@sha256:... scripts/ci/deploy.sh staging|production
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
need kubectl 'kubectl with access to the cluster'
env="${1:?usage: deploy.sh staging|production}"
: "${VOXGATE_IMAGE:?set VOXGATE_IMAGE to the image to deploy (a digest, not a moving tag)}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
scripts/ci/render-manifests.sh "$env" "$out"
log "kubectl apply --server-side ($env)"
kubectl apply --server-side --field-manager=voxgate-deploy -f "$out"
for ns in $(kubectl get -f "$out" -o jsonpath='{range .items[?(@.kind=="Deployment")]}{.metadata.namespace}{"\n"}{end}' | sort -u); do
  for d in $(kubectl -n "$ns" get deployments -l app.kubernetes.io/part-of=voxgate -o name); do
    log "kubectl -n $ns rollout status $d"
    kubectl -n "$ns" rollout status "$d" --timeout="${VOXGATE_ROLLOUT_TIMEOUT:-75m}"
  done
done
