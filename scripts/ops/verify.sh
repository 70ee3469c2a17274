#!/usr/bin/env bash
# Post-deploy verification of one voxgate deployment. Fails (exit 1) at the first check that does not pass.
#
#   VOXGATE_HTTP_URL=http://api.internal:8080   readiness and metrics of a voxgate HTTP endpoint (required)
#   VOXGATE_SIP_TARGET=sip.example:5060         SIP OPTIONS over UDP must get 200 (optional)
#   VOXGATE_METRICS_URLS="url1 url2"            more /metrics endpoints to scrape (optional, e.g. each target)
#   ALERTMANAGER_URL=http://alertmanager:9093   no active, unsilenced alert of VOXGATE_ENV may fire (optional)
#   VOXGATE_ENV=production                      the env label the alerts carry (optional)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/ops/lib.sh
. "$here/lib.sh"
need curl 'Debian package curl'

http="${VOXGATE_HTTP_URL:?set VOXGATE_HTTP_URL to a voxgate HTTP endpoint, e.g. http://127.0.0.1:8080}"
http="${http%/}"

log "readiness: GET $http/readyz"
code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$http/readyz")" || die "$http/readyz unreachable"
[ "$code" = 200 ] || die "$http/readyz answered $code, expected 200"

for url in "$http/metrics" ${VOXGATE_METRICS_URLS:-}; do
  log "metrics: GET $url"
  body="$(curl -sS -f --max-time 5 "$url")" || die "$url unreachable or not 2xx"
  grep -q '^voxgate_build_info' <<<"$body" || die "$url has no voxgate_build_info"
  if grep -E '^voxgate_module_up(\{[^}]*\})? 0$' <<<"$body"; then die "$url reports a module down"; fi
done

if [ -n "${VOXGATE_SIP_TARGET:-}" ]; then
  log "SIP: OPTIONS to $VOXGATE_SIP_TARGET over UDP"
  node "$here/sip-options.mjs" "$VOXGATE_SIP_TARGET" || die "SIP OPTIONS to $VOXGATE_SIP_TARGET did not get 200"
fi

if [ -n "${ALERTMANAGER_URL:-}" ]; then
  am="${ALERTMANAGER_URL%/}/api/v2/alerts?active=true&silenced=false&inhibited=false"
  [ -n "${VOXGATE_ENV:-}" ] && am="$am&filter=env%3D%22${VOXGATE_ENV}%22"
  log "alerts: GET $am"
  alerts="$(curl -sS -f --max-time 5 "$am")" || die "Alertmanager API unreachable at $ALERTMANAGER_URL"
  firing="$(node -e 'const a=JSON.parse(require("fs").readFileSync(0,"utf8"));for(const x of a)console.log(x.labels.alertname+" "+JSON.stringify(x.labels));' <<<"$alerts")"
  [ -z "$firing" ] || die "alerts firing:
$firing"
fi
log "verification passed"
