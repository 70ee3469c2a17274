#!/usr/bin/env bash
# Makes sure the services the contract tests use are running: PostgreSQL on 127.0.0.1:5432 and Redis on
# 127.0.0.1:6379 (Debian's packages, started here when they do not answer).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh

log 'PostgreSQL on 127.0.0.1:5432'
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  clusters=(/etc/postgresql/*)
  pg_ctlcluster --skip-systemctl-redirect "$(basename "${clusters[0]}")" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432

log 'Redis on 127.0.0.1:6379'
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping
