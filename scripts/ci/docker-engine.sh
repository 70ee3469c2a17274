#!/usr/bin/env bash
# Makes sure a Docker engine answers, for the tests and scripts that build and run the image here
# (test/deploy/image.test.ts, scripts/ci/compose-e2e.sh): starts Debian's dockerd as root when it is installed
# and not running (log in /tmp/dockerd.log). Does nothing when an engine already answers; fails when none can.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
engine_up() { docker info >/dev/null 2>&1 || /usr/bin/docker info >/dev/null 2>&1; }
if engine_up; then
  log 'Docker engine: already answering'
  exit 0
fi
need dockerd 'Debian package docker.io'
[ "$(id -u)" = 0 ] || die 'dockerd is not running and starting it needs root'
log 'Docker engine: starting dockerd (log /tmp/dockerd.log)'
nohup dockerd >/tmp/dockerd.log 2>&1 &
for _ in $(seq 1 60); do engine_up && exit 0; sleep 1; done
tail -n 20 /tmp/dockerd.log >&2
die 'dockerd did not answer within 60 s'
