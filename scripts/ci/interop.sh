#!/usr/bin/env bash
# interop stage: real softphones from Debian (baresip, Linphone, Twinkle, SIPp, SIPVicious, and Chromium as a
# WebRTC softphone) against voxgate on its defaults and against Kamailio + RTPengine, in a network namespace of
# their own (npm run test:interop, scripts/interop.mjs). Writes docs/interop.md from the run. Needs root or
# unprivileged user namespaces.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
for tool in unshare ip baresip linphonec twinkle-console sipp svcrack kamailio rtpengine chromium; do
  need "$tool" "the interop suite's Debian packages (.ci/run installs them)"
done
log 'npm run test:interop (real softphones vs voxgate and the reference)'
npm run test:interop
