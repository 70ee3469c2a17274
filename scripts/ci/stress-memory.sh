#!/usr/bin/env bash
# deploy stage: long-run memory stress (default 60 minutes) of a target, same harness as memory-sanity.sh.
# It runs voxgate locally under SIPp load; a long run against the staging cluster is not written yet.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
need sipp 'Debian package sip-tester'
need_npm_script stress:memory 'the memory stress harness'
log "npm run stress:memory -- --minutes=${VOXGATE_STRESS_MINUTES:-60} --target=${VOXGATE_STRESS_TARGET:-all}"
npm run stress:memory -- --minutes="${VOXGATE_STRESS_MINUTES:-60}" --target="${VOXGATE_STRESS_TARGET:-all}"
