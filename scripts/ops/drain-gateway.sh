#!/usr/bin/env bash
# Drains one node's SIP gateways without dropping a call: cordons the node, waits until each gateway pod on
# it reports no active call on /metrics, then deletes the pod (its replacement starts on another node).
#   scripts/ops/drain-gateway.sh <node> [namespace]          namespace defaults to voxgate
# VOXGATE_ACTIVE_CALLS_METRIC names the gauge (default voxgate_calls_active); VOXGATE_DRAIN_TIMEOUT (s,
# default 3600) bounds the wait. A pod that exports no such gauge stops the script with an error rather than
# be deleted without proof that it is idle.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/ops/lib.sh
. "$here/lib.sh"
need kubectl 'kubectl with access to the cluster'
need curl 'Debian package curl'
node="${1:?usage: drain-gateway.sh <node> [namespace]}"
ns="${2:-voxgate}"
metric="${VOXGATE_ACTIVE_CALLS_METRIC:-voxgate_calls_active}"
timeout="${VOXGATE_DRAIN_TIMEOUT:-3600}"

log "kubectl cordon $node"
kubectl cordon "$node"
pods="$(kubectl -n "$ns" get pods -l app.kubernetes.io/component=sip-gateway \
  --field-selector "spec.nodeName=$node" -o name)"
[ -n "$pods" ] || { log "no sip-gateway pod on $node"; exit 0; }

for pod in $pods; do
  log "waiting for $metric of $pod to reach 0 (at most ${timeout}s)"
  kubectl -n "$ns" port-forward "$pod" 18080:8080 >/dev/null 2>&1 &
  pf=$!
  trap 'kill "$pf" 2>/dev/null || true' EXIT
  sleep 2
  deadline=$((SECONDS + timeout))
  while :; do
    body="$(curl -sS -f --max-time 5 http://127.0.0.1:18080/metrics)" || die "cannot scrape $pod"
    value="$(awk -v m="$metric" '$1 == m || index($1, m "{") == 1 { s += $2; f = 1 } END { if (f) print s }' <<<"$body")"
    [ -n "$value" ] || die "$pod exports no $metric: cannot tell whether calls are active (not deleting it)"
    log "$pod: $metric = $value"
    [ "${value%.*}" -eq 0 ] && break
    [ "$SECONDS" -lt "$deadline" ] || die "$pod still has $value active calls after ${timeout}s"
    sleep 10
  done
  kill "$pf" 2>/dev/null || true
  log "kubectl -n $ns delete $pod"
  kubectl -n "$ns" delete "$pod" --wait=true
done
log "node $node drained of gateways; uncordon it with: kubectl uncordon $node"
