#!/usr/bin/env bash
# Backs the store up now: pg_dump (custom format) to a file, and to S3 when the destination is s3://.
#   DATABASE_URL=postgres://... scripts/ops/backup.sh /backups/voxgate-$(date -u +%Y%m%dT%H%M%SZ).dump
#   DATABASE_URL=postgres://... scripts/ops/backup.sh s3://voxgate-prod-backups/postgres/
# The managed database also keeps its own automated snapshots (deploy/terraform); this is the portable copy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/ops/lib.sh
. "$here/lib.sh"
need pg_dump 'Debian package postgresql-client'
url="${DATABASE_URL:?set DATABASE_URL to the PostgreSQL to back up}"
dest="${1:?usage: backup.sh <file | s3://bucket/prefix/>}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"

case "$dest" in
  s3://*)
    need aws 'the AWS CLI'
    file="$(mktemp -d)/voxgate-$stamp.dump"
    ;;
  *) file="$dest" ;;
esac
log "pg_dump --format=custom to $file"
pg_dump --format=custom --no-owner --no-privileges --file="$file" "$url"
[ -s "$file" ] || die "pg_dump wrote nothing to $file"
log "$(wc -c <"$file") bytes, sha256 $(sha256sum "$file" | cut -d' ' -f1)"
if [[ "$dest" == s3://* ]]; then
  log "aws s3 cp $file ${dest%/}/$(basename "$file")"
  aws s3 cp --only-show-errors --sse aws:kms "$file" "${dest%/}/$(basename "$file")"
  rm -f "$file"
fi
log 'backup done'
