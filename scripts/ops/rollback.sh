#!/usr/bin/env bash
# Rolls every Deployment of a namespace back to its previous revision and waits for the rollouts.
#   scripts/ops/rollback.sh <namespace> [<namespace> ...]      e.g. rollback.sh voxgate voxgate-media
# Gateways drain calls on the way down: a rollout can take up to terminationGracePeriodSeconds per pod.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/ops/lib.sh
. "$here/lib.sh"
need kubectl 'kubectl with access to the cluster'
[ "$#" -gt 0 ] || die 'usage: rollback.sh <namespace> [<namespace> ...]'
timeout="${VOXGATE_ROLLOUT_TIMEOUT:-75m}"

for ns in "$@"; do
  deployments="$(kubectl -n "$ns" get deployments -l app.kubernetes.io/part-of=voxgate -o name)"
  [ -n "$deployments" ] || die "no voxgate Deployment in namespace $ns"
  for d in $deployments; do
    log "kubectl -n $ns rollout undo $d"
    kubectl -n "$ns" rollout undo "$d"
  done
  for d in $deployments; do
    log "kubectl -n $ns rollout status $d --timeout=$timeout"
    kubectl -n "$ns" rollout status "$d" --timeout="$timeout"
  done
done
log 'rollback done: run scripts/ops/verify.sh against the environment'
