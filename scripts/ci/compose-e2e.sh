#!/usr/bin/env bash
# The dev compose stack, up for real and carrying a call (issue #18): sip-gateway, media-relay, api and worker as
# separate containers of the voxgate image, PostgreSQL and Redis (config/docker/dev.compose.yml; with
# VOXGATE_LOCAL_BASE=1, the default here, plus config/docker/local.compose.yml: every image built locally from
# Debian, no registry). Then: the admin key printed by the api, a tenant and two users through the API, SIPp
# REGISTER with digest and a call whose G.711 audio is anchored on the media-relay container (its own
# metrics count the packets), the CDR written by the worker, and `docker-compose down -v` leaving no
# container, network or volume of the project. Published host ports are free ones chosen here, the RTP range
# 20 ports, so that the stack does not collide with services of this machine. Bounded by VOXGATE_E2E_TIMEOUT
# seconds (default 420) on top of the image build.
#   scripts/ci/compose-e2e.sh            (as root or a member of the docker group, with an engine running)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
need docker-compose 'Debian package docker-compose'
need sipp 'Debian package sip-tester'
need curl 'Debian package curl'
# shellcheck source=scripts/ci/docker-local.sh
. scripts/ci/docker-local.sh
docker_local_init

export VOXGATE_LOCAL_BASE="${VOXGATE_LOCAL_BASE:-1}"
project="voxgate-e2e-$$"
files=(-f config/docker/dev.compose.yml)
[ "$VOXGATE_LOCAL_BASE" = 1 ] && files+=(-f config/docker/local.compose.yml)
compose() { docker-compose -p "$project" "${files[@]}" "$@"; }
services=(postgres redis sip-gateway media-relay api worker)
work="$(mktemp -d)"
down=0

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
export VOXGATE_DEV_SIP_PORT VOXGATE_DEV_SIP_TLS_PORT VOXGATE_DEV_API_PORT VOXGATE_DEV_POSTGRES_PORT \
  VOXGATE_DEV_REDIS_PORT VOXGATE_DEV_RTP_MIN VOXGATE_DEV_RTP_MAX
VOXGATE_DEV_SIP_PORT=$(free_port)
VOXGATE_DEV_SIP_TLS_PORT=$(free_port)
VOXGATE_DEV_API_PORT=$(free_port)
VOXGATE_DEV_POSTGRES_PORT=$(free_port)
VOXGATE_DEV_REDIS_PORT=$(free_port)
VOXGATE_DEV_RTP_MIN=$((44000 + 20 * (RANDOM % 200)))
VOXGATE_DEV_RTP_MAX=$((VOXGATE_DEV_RTP_MIN + 19))

cleanup() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    log "failed: the last logs of the stack"
    compose logs --no-color --tail=40 >&2 || true
  fi
  if [ "$down" = 0 ]; then
    log "docker-compose down -v"
    compose down -v --remove-orphans --timeout 20 >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

if [ "$VOXGATE_LOCAL_BASE" = 1 ]; then
  scripts/ci/build-image.sh
  log "images of PostgreSQL and Redis from Debian packages (config/docker/local.compose.yml)"
  compose build -q postgres redis
fi
deadline=$(($(date +%s) + ${VOXGATE_E2E_TIMEOUT:-420}))
left() { [ "$(date +%s)" -lt "$deadline" ] || die "over the time budget (VOXGATE_E2E_TIMEOUT) while $1"; }

log "docker-compose -p $project up -d ${services[*]}"
started=$(date +%s)
compose up -d --no-build "${services[@]}"
for service in sip-gateway media-relay api worker; do
  id=$(compose ps -q "$service")
  while :; do
    health=$("${DOCKER[@]}" inspect -f '{{.State.Health.Status}}' "$id")
    [ "$health" = healthy ] && break
    [ "$health" = unhealthy ] && die "$service is unhealthy"
    left "waiting for $service to be healthy"
    sleep 1
  done
done
log "every voxgate container healthy $(($(date +%s) - started)) s after up"

ip_of() { "${DOCKER[@]}" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(compose ps -q "$1")"; }
gateway_ip=$(ip_of sip-gateway)
relay_ip=$(ip_of media-relay)
# SIPp binds to this machine's address on the stack's network: the gateway reaches the phones there directly.
host_ip=$("${DOCKER[@]}" network inspect -f '{{(index .IPAM.Config 0).Gateway}}' "${project}_default")
api="http://127.0.0.1:$VOXGATE_DEV_API_PORT/v1"
log "gateway $gateway_ip, relay $relay_ip, phones on $host_ip, API $api"

key=""
while [ -z "$key" ]; do
  key=$(compose logs --no-color api | sed -n 's/.*"apiKey":"\([^"]*\)".*/\1/p' | head -n1)
  [ -n "$key" ] || { left 'waiting for the admin key in the api logs'; sleep 1; }
done
post() { curl -fsS -H "authorization: Bearer $key" -H 'content-type: application/json' -d "$2" "$api$1"; }
tenant=$(post /tenants '{"name":"Acme","sipDomain":"acme.example"}' | node -p 'JSON.parse(require("fs").readFileSync(0)).id')
post "/tenants/$tenant/users" '{"username":"alice","password":"alice-pass"}' >/dev/null
post "/tenants/$tenant/users" '{"username":"bob","password":"bob-pass"}' >/dev/null
log "tenant $tenant with alice and bob, provisioned through the API"

sipp_run() { # scenario, then SIPp arguments; its logs in $work
  local scenario=$1
  shift
  (cd "$work" && timeout 60 sipp -sf "$OLDPWD/test/fixtures/sipp/$scenario" "$gateway_ip:5060" -i "$host_ip" \
    -nostdin -trace_err -key domain acme.example -timeout 30s -timeout_error "$@")
}
bob_port=$((21000 + RANDOM % 4000))
sipp_run register-digest.xml -p "$bob_port" -m 1 -s bob -au bob -ap bob-pass >/dev/null ||
  die "bob did not register: $(cat "$work"/*errors.log 2>/dev/null | tail -n 20)"
log 'bob registered with digest (SIPp)'
sipp_run uas-answer.xml -p "$bob_port" -m 1 -mi "$host_ip" -mp $((26000 + 2 * (RANDOM % 1000))) -rtp_echo \
  >/dev/null &
uas=$!
sleep 0.5
sipp_run uac-call.xml -p $((21000 + RANDOM % 4000 + 4000)) -m 1 -s bob -au alice -ap alice-pass \
  -key caller alice -mi "$host_ip" -mp $((28000 + 2 * (RANDOM % 1000))) >/dev/null ||
  die "the call failed: $(cat "$work"/*errors.log 2>/dev/null | tail -n 20)"
wait "$uas" || die "the callee failed: $(cat "$work"/*errors.log 2>/dev/null | tail -n 20)"
log 'alice called bob: answered, held, resumed, hung up (SIPp)'

relayed=0
while [ "$relayed" -le 40 ]; do
  relayed=$(curl -fsS "http://$relay_ip:8080/metrics" |
    awk '/^voxgate_media_packets_relayed_total/ { n += $NF } END { print n + 0 }')
  [ "$relayed" -gt 40 ] || { left 'waiting for the relay to count the call'"'"'s RTP'; sleep 1; }
done
log "the media-relay container relayed $relayed RTP packets of the call"

cdrs=0
while [ "$cdrs" -lt 1 ]; do
  cdrs=$(curl -fsS -H "authorization: Bearer $key" "$api/tenants/$tenant/calls" |
    node -p 'JSON.parse(require("fs").readFileSync(0)).items.filter((c) => c.disposition === "answered").length')
  [ "$cdrs" -ge 1 ] || { left 'waiting for the CDR written by the worker'; sleep 1; }
done
log 'the worker wrote the CDR of the answered call'

log "docker-compose down -v"
compose down -v --remove-orphans --timeout 20
down=1
left_over=$("${DOCKER[@]}" ps -aq --filter "label=com.docker.compose.project=$project")
networks=$("${DOCKER[@]}" network ls -q --filter "label=com.docker.compose.project=$project")
volumes=$("${DOCKER[@]}" volume ls -q --filter "label=com.docker.compose.project=$project")
[ -z "$left_over$networks$volumes" ] || die "left after down: containers [$left_over] networks [$networks] volumes [$volumes]"
log "compose e2e passed: nothing of $project is left ($(($(date +%s) - started)) s from up to down)"
