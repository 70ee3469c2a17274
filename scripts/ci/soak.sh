#!/usr/bin/env bash
# build stage (.ci/run): a short memory soak on the all-in-one (bench/soak.ts) — 2 minutes of the mixed load
# at 10 calls/s with 200 phones re-registering every 50 s, then the 40 s rest; about 3.5 minutes with the start.
# It checks what a short run can tell: at most 0.1% of calls with another outcome than their class's, no live
# call left after the rest, RSS within the `all` budget of config/memory-budgets.yml. It does not check the
# slopes or the heap's return after the load (--no-slopes): V8 keeps growing its heap for several minutes
# before it settles (docs/performance.md, Memory), so a slope over a minute or two is noise, not a leak; the
# deploy stage's 30-minute soak (scripts/ci/stress-memory.sh) checks them. Artifacts: VOXGATE_SOAK_OUT (soak-ci/).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
need sipp 'Debian package sip-tester'
need_npm_script soak 'the memory soak'
args=(--minutes "${VOXGATE_SOAK_MINUTES:-2}" --cps 10 --users 200 --warmup-minutes 1 --no-slopes --out "${VOXGATE_SOAK_OUT:-soak-ci}")
log "npm run soak -- ${args[*]}"
timeout 900 npm run soak -- "${args[@]}"
