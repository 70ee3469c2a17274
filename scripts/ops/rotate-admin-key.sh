#!/usr/bin/env bash
# Rotates the platform admin API key through the API: creates a new admin key, stores it in the secret
# store, revokes the old one.
#   VOXGATE_API_URL=https://api.example VOXGATE_ADMIN_API_KEY=vxg_... scripts/ops/rotate-admin-key.sh
#
# NOT AVAILABLE YET: voxgate's API has no key-management endpoint (docs/architecture.md: "Not yet: ... API key
# management"). This script stops with an error instead of pretending; it is to be completed when
# POST /v1/api-keys and DELETE /v1/api-keys/{id} exist.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/ops/lib.sh
. "$here/lib.sh"
die 'rotate-admin-key: the API has no API-key management endpoint yet (POST /v1/api-keys); nothing was changed'
