#!/usr/bin/env bash
# Installs Debian packages for a CI step: `scripts/ci/apt-packages.sh sip-tester postgresql-client`.
# Daemons must not be started by their install scripts (they would take the SIP/ng ports the tests use):
# policy-rc.d refuses every service start while the packages install. Waits for a dpkg lock held by another
# apt run instead of failing at once. Uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
[ "$#" -gt 0 ] || die 'usage: scripts/ci/apt-packages.sh <package>...'
need apt-get 'a Debian or Ubuntu runner'
as_root=()
[ "$(id -u)" = 0 ] || as_root=(sudo)
log "installing Debian packages: $*"
printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee /usr/sbin/policy-rc.d >/dev/null
"${as_root[@]}" chmod +x /usr/sbin/policy-rc.d
trap '"${as_root[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
apt_get() { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
apt_get update -qq
apt_get install -y -qq --no-install-recommends "$@" >/dev/null
