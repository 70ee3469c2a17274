#!/usr/bin/env bash
# build stage, memory sanity: a short stress:memory run (RSS within config/memory-budgets.yml, no growth after
# warm-up). Needs sipp (Debian sip-tester). VOXGATE_STRESS_MINUTES sets the length (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
need sipp 'Debian package sip-tester'
need_npm_script stress:memory 'the memory stress harness'
log "npm run stress:memory -- --minutes=${VOXGATE_STRESS_MINUTES:-3} --target=${VOXGATE_STRESS_TARGET:-all}"
npm run stress:memory -- --minutes="${VOXGATE_STRESS_MINUTES:-3}" --target="${VOXGATE_STRESS_TARGET:-all}"
