#!/usr/bin/env bash
# deploy stage: SIPp end to end against a deployed environment: OPTIONS at a low rate must all get 200.
# Calls (INVITE) join this when the B2BUA lands.
#   VOXGATE_SIP_TARGET=sip.staging.example:5060 scripts/ci/e2e-sipp.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
need sipp 'Debian package sip-tester'
target="${VOXGATE_SIP_TARGET:?set VOXGATE_SIP_TARGET to host:port of the SIP entry}"
calls="${VOXGATE_E2E_CALLS:-200}"
log "sipp $target -sf bench/fixtures/options-uac.xml -m $calls -r 20"
sipp "$target" -sf bench/fixtures/options-uac.xml -m "$calls" -r 20 -timeout 60s -timeout_error -nostdin -trace_err
