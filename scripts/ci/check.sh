#!/usr/bin/env bash
# build stage: format, lint, typecheck, build and tests (= npm test; .ci/run adds the Debian packages).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
log 'npm test (prettier, eslint, tsc, build, node --test)'
npm test
