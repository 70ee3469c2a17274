#!/usr/bin/env bash
# deploy stage: the long memory soak (bench/soak.ts, `npm run soak`): the mixed load of issue #22 — phones
# re-registering with digest, calls answered with G.711 through the relay, 486, CANCEL while ringing, 404, the
# API read once a second — for VOXGATE_STRESS_MINUTES (default 30) at VOXGATE_STRESS_CPS calls/s (30) with
# VOXGATE_STRESS_USERS phones (1000). Every criterion applies: heap slope < 0.5 and RSS slope < 1 MiB/min after
# warm-up, RSS within config/memory-budgets.yml, heap back within 20% after the load, no live call left, at most
# 0.1% of calls with another outcome.
#
# The target: VOXGATE_STRESS_URL (its HTTP base, e.g. staging's API), VOXGATE_STRESS_SIP (host:port, UDP) and
# VOXGATE_STRESS_ADMIN_KEY (a platform admin key: the soak provisions a tenant of its own and deletes it at the
# end). /metrics is read from VOXGATE_STRESS_METRICS (default VOXGATE_STRESS_URL/metrics) and compared with the
# budget of VOXGATE_STRESS_BUDGET_TARGET (default all; sip-gateway when the metrics are a gateway replica's).
# The target must grant registrations longer than the run (VOXGATE_SIP_REGISTER_MAX_EXPIRES, 3600 s by default:
# runs up to ~58 minutes). Without VOXGATE_STRESS_URL the soak starts the all-in-one here.
# Artifacts (soak.csv, soak.png, summary.md/json, SIPp error logs): VOXGATE_STRESS_OUT (default soak/).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
need sipp 'Debian package sip-tester'
need_npm_script soak 'the memory soak'
args=(
  --minutes "${VOXGATE_STRESS_MINUTES:-30}"
  --cps "${VOXGATE_STRESS_CPS:-30}"
  --users "${VOXGATE_STRESS_USERS:-1000}"
  --budget-target "${VOXGATE_STRESS_BUDGET_TARGET:-all}"
  --out "${VOXGATE_STRESS_OUT:-soak}"
)
if [ -n "${VOXGATE_STRESS_URL:-}" ]; then
  [ -n "${VOXGATE_STRESS_SIP:-}" ] || die 'VOXGATE_STRESS_SIP (host:port) is required with VOXGATE_STRESS_URL'
  [ -n "${VOXGATE_STRESS_ADMIN_KEY:-}" ] || die 'VOXGATE_STRESS_ADMIN_KEY is required with VOXGATE_STRESS_URL'
  args+=(--url "$VOXGATE_STRESS_URL" --sip "$VOXGATE_STRESS_SIP")
  [ -z "${VOXGATE_STRESS_METRICS:-}" ] || args+=(--metrics "$VOXGATE_STRESS_METRICS")
  # The key goes through the environment, not the command line (visible in ps and the log).
  export VOXGATE_ADMIN_API_KEY="$VOXGATE_STRESS_ADMIN_KEY"
  log "npm run soak -- ${args[*]} (target $VOXGATE_STRESS_URL)"
else
  log "npm run soak -- ${args[*]} (the all-in-one, started here)"
fi
npm run soak -- "${args[@]}"
