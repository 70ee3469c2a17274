#!/usr/bin/env bash
# build stage: known vulnerabilities in the production dependencies (high and critical fail).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
log 'npm audit --omit=dev --audit-level=high'
npm audit --omit=dev --audit-level=high
