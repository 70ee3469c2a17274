#!/usr/bin/env bash
# Rotates a platform admin API key through the API: creates a new admin key, checks it works, writes it where
# the operator says, then revokes the old one. The old key stays valid until the new one is stored.
#   VOXGATE_API_URL=https://api.example VOXGATE_ADMIN_API_KEY=vxg_... VOXGATE_NEW_KEY_FILE=/secure/new.key \
#     scripts/ops/rotate-admin-key.sh
# VOXGATE_NEW_KEY_FILE (created mode 600, must not exist) receives the new token; with VOXGATE_SECRET_ID set
# instead, it goes to AWS Secrets Manager (the store the ExternalSecret of deploy/kubernetes reads).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/ops/lib.sh
. "$here/lib.sh"
need curl 'Debian package curl'
need node 'Node.js, for reading JSON'
api="${VOXGATE_API_URL:?set VOXGATE_API_URL to the voxgate API (https://host[:port])}"
old="${VOXGATE_ADMIN_API_KEY:?set VOXGATE_ADMIN_API_KEY to the admin key being rotated}"
[ -n "${VOXGATE_NEW_KEY_FILE:-}${VOXGATE_SECRET_ID:-}" ] ||
  die 'set VOXGATE_NEW_KEY_FILE or VOXGATE_SECRET_ID: the new key must be stored before the old one is revoked'
[ -z "${VOXGATE_NEW_KEY_FILE:-}" ] || [ ! -e "$VOXGATE_NEW_KEY_FILE" ] ||
  die "$VOXGATE_NEW_KEY_FILE exists; refusing to overwrite a key"

json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(v==null)process.exit(3);process.stdout.write(String(v))})' "$1"; }
call() { curl -sS -f --max-time 10 -H "authorization: Bearer $1" "${@:2}"; }

me="$(call "$old" "$api/v1/whoami")" || die 'the current key is not accepted by the API'
[ "$(json role <<<"$me")" = admin ] || die 'the current key is not an admin key'
tenant="$(json tenantId <<<"$me" || true)"
[ -z "$tenant" ] || die 'the current key is tenant-scoped; this script rotates platform admin keys'
old_id="$(json keyId <<<"$me")"

log "creating a new platform admin key (replacing $old_id)"
created="$(call "$old" -H 'content-type: application/json' \
  -d "{\"name\":\"admin (rotated $(date -u +%Y-%m-%dT%H:%M:%SZ))\",\"role\":\"admin\"}" "$api/v1/api-keys")" ||
  die 'the API refused to create a key'
new="$(json key <<<"$created")"
new_id="$(json id <<<"$created")"
[ "$(json keyId <<<"$(call "$new" "$api/v1/whoami")")" = "$new_id" ] || die "the new key $new_id does not work"

if [ -n "${VOXGATE_NEW_KEY_FILE:-}" ]; then
  (umask 077 && printf '%s\n' "$new" >"$VOXGATE_NEW_KEY_FILE")
  log "new key $new_id written to $VOXGATE_NEW_KEY_FILE"
else
  need aws 'the AWS CLI'
  aws secretsmanager put-secret-value --secret-id "$VOXGATE_SECRET_ID" --secret-string "$new" >/dev/null
  log "new key $new_id stored in $VOXGATE_SECRET_ID"
fi

call "$new" -X DELETE "$api/v1/api-keys/$old_id" >/dev/null || die "could not revoke $old_id (the new key $new_id works)"
log "old key $old_id revoked"
