#!/usr/bin/env bash
# build stage: heap profile of the critical call scenarios (register storm, call setup/teardown, media).
# NOT AVAILABLE YET: there is no `npm run bench:heap` (the call scenarios need the B2BUA); this fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
need_npm_script bench:heap 'heap profiling of the critical call scenarios is not written (needs the B2BUA); see docs/deployment.md'
log 'npm run bench:heap'
npm run bench:heap
