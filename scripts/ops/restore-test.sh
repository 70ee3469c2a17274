#!/usr/bin/env bash
# Restore test (monthly, and after every backup change): restores a dump into a scratch database, checks
# that it holds voxgate's schema (schema_migrations = every migrations/*.sql) and prints each table's row
# count, then drops the scratch database.
#   ADMIN_DATABASE_URL=postgres://postgres@db:5432/postgres scripts/ops/restore-test.sh voxgate.dump
#   ADMIN_DATABASE_URL=... scripts/ops/restore-test.sh s3://voxgate-prod-backups/postgres/voxgate-...dump
# Set VOXGATE_RESTORE_MIN_ROWS="tenants=1 api_keys=1" to require at least that many rows.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/ops/lib.sh
. "$here/lib.sh"
need pg_restore 'Debian package postgresql-client'
need psql 'Debian package postgresql-client'
admin="${ADMIN_DATABASE_URL:?set ADMIN_DATABASE_URL to a PostgreSQL URL allowed to CREATE DATABASE}"
src="${1:?usage: restore-test.sh <dump file | s3://...>}"
scratch="voxgate_restore_$(date -u +%Y%m%d%H%M%S)_$$"
work="$(mktemp -d)"

drop() {
  log "dropping scratch database $scratch"
  psql -q -v ON_ERROR_STOP=1 "$admin" -c "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" || true
  rm -rf "$work"
}
trap drop EXIT

if [[ "$src" == s3://* ]]; then
  need aws 'the AWS CLI'
  log "aws s3 cp $src"
  aws s3 cp --only-show-errors "$src" "$work/restore.dump"
  src="$work/restore.dump"
fi
[ -s "$src" ] || die "dump $src is missing or empty"

log "creating scratch database $scratch"
psql -q -v ON_ERROR_STOP=1 "$admin" -c "CREATE DATABASE $scratch"
# The scratch database's URL: the admin URL with its database name replaced.
url="$(node -e 'const u=new URL(process.argv[1]);u.pathname="/"+process.argv[2];console.log(u.toString())' "$admin" "$scratch")"

log "pg_restore $src into $scratch"
pg_restore --exit-on-error --no-owner --no-privileges --dbname="$url" "$src"

expected="$(find "$here/../../migrations" -name '[0-9]*.sql' | wc -l)"
applied="$(psql -tA -v ON_ERROR_STOP=1 "$url" -c 'SELECT count(*) FROM schema_migrations')" ||
  die 'the restored database has no schema_migrations table'
log "schema_migrations: $applied applied, $expected migration files in this checkout"
[ "$applied" -ge 1 ] || die 'schema_migrations is empty'
[ "$applied" -le "$expected" ] || log "note: the dump is newer than this checkout ($applied > $expected)"

log 'row counts:'
psql -tA -F ' ' -v ON_ERROR_STOP=1 "$url" -c "
  SELECT c.relname, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY c.relname" | tee "$work/counts" >&2
for want in ${VOXGATE_RESTORE_MIN_ROWS:-}; do
  table="${want%%=*}" min="${want##*=}"
  got="$(awk -v t="$table" '$1 == t { print $2 }' "$work/counts")"
  [ -n "$got" ] || die "table $table missing from the restored database"
  [ "$got" -ge "$min" ] || die "table $table has $got rows, expected at least $min"
done
log 'restore test passed'
