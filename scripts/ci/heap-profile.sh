#!/usr/bin/env bash
# build stage: heap profile of the critical scenarios (bench/heap-profile.ts): phones registering with digest
# and calls with G.711 through the media relay on the all-in-one, a warm-up, then the load; a heap snapshot
# (after V8's full GC) at rest after each. Fails when the retained JS heap grew more than the budget between
# the two rests (VOXGATE_HEAP_BUDGET_PERCENT, default 10: docs/performance.md, Memory), when the RSS went over
# the target's budget in config/memory-budgets.yml (sampled every second), or when calls failed.
# The snapshots, /metrics at each rest and the summary are written to VOXGATE_HEAP_PROFILE_DIR (default
# heap-profile/), the job's artifact. Needs sipp (Debian sip-tester).
# Also `npm run bench:heap [-- --option=value …]`: options given there come after (and win over) the defaults.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
need sipp 'Debian package sip-tester'
out="${VOXGATE_HEAP_PROFILE_DIR:-heap-profile}"
args=(
  --out="$out"
  --warmup-seconds="${VOXGATE_HEAP_WARMUP_SECONDS:-45}"
  --load-seconds="${VOXGATE_HEAP_LOAD_SECONDS:-120}"
  --users="${VOXGATE_HEAP_USERS:-300}"
  --cps="${VOXGATE_HEAP_CPS:-10}"
  --budget-percent="${VOXGATE_HEAP_BUDGET_PERCENT:-10}"
)
log 'npm run build'
npm run build
log "node --import tsx bench/heap-profile.ts ${args[*]} $*"
node --import tsx bench/heap-profile.ts "${args[@]}" "$@"
log "heap profile written to $out/ (summary.md, before/after.heapsnapshot, before/after.metrics.txt)"
