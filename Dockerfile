# syntax=docker/dockerfile:1.7
# voxgate: one image for every target (--target=all|sip-gateway|media-relay|api|worker).
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t voxgate:dev .
#   docker run --read-only --tmpfs /tmp -v voxgate-data:/var/lib/voxgate -p 8080:8080 -p 5060:5060/udp voxgate:dev
#
# The runtime stage runs as uid/gid 1000 (the image's `node` user, numeric so that Kubernetes can check
# runAsNonRoot), writes only to VOXGATE_DATA_DIR (a volume) and /tmp (tmpfs / emptyDir), and so works with a
# read-only root filesystem.
ARG NODE_IMAGE=node:20-bookworm-slim

# --- build: compile TypeScript once, on the builder's own platform (the output is platform-independent) ---
FROM --platform=$BUILDPLATFORM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# An optional build secret `npm_ca` (a PEM file) is trusted by npm for the registry: for builds behind a
# TLS-intercepting proxy (scripts/ci/build-image.sh passes it). It is never written into a layer.
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-pglite-template.mjs scripts/build-console.mjs scripts/build-native.mjs scripts/
COPY native/ native/
COPY src/ src/
COPY web/ web/
# The native addons are skipped here (no compiler in this stage); the `native` stage builds them for the target.
RUN npm run build

# --- production dependencies, installed on the target platform (correct if a native addon ever appears) ---
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi; \
    npm ci --omit=dev --no-audit --no-fund --ignore-scripts

# --- the native addons, compiled for the target platform ---
# udp-batch (recvmmsg/sendmmsg for the SIP port and the relay: N-API and libuv) and srtp-crypto (SRTP's cipher
# and tag on the OpenSSL inside Node.js), against the base image's Node.js headers (include/node); the compiler
# stays in this stage. Without them SIP and the relay would run on dgram sockets and SRTP in JavaScript:
# --required makes a failed build fail the image instead.
FROM ${NODE_IMAGE} AS native
WORKDIR /src
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ \
 && rm -rf /var/lib/apt/lists/*
COPY scripts/build-native.mjs scripts/
COPY native/ native/
RUN CXX=g++ node scripts/build-native.mjs --required

# --- runtime ---
FROM ${NODE_IMAGE} AS runtime
# SIP listens on every interface of the container (the binary's default is 127.0.0.1, for a laptop).
ENV NODE_ENV=production \
    VOXGATE_DATA_DIR=/var/lib/voxgate \
    VOXGATE_SIP_HOST=0.0.0.0 \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app
# pg_dump/pg_restore for the worker's backup and restore test: the client must be at least the server's major
# version (RDS runs 16, see deploy/terraform). PG_CLIENT_SOURCE=pgdg (default) takes it from PostgreSQL's own
# repository; PG_CLIENT_SOURCE=debian from the base's Debian archive, for builds that cannot reach
# apt.postgresql.org (bookworm ships 15: set PG_CLIENT_MAJOR=15, and use it against servers up to 15).
ARG PG_CLIENT_MAJOR=16
ARG PG_CLIENT_SOURCE=pgdg
RUN set -eu; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates; \
    case "$PG_CLIENT_SOURCE" in \
      pgdg) \
        apt-get install -y --no-install-recommends curl; \
        install -d /usr/share/postgresql-common/pgdg; \
        curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc; \
        echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
          > /etc/apt/sources.list.d/pgdg.list; \
        apt-get update; \
        apt-get purge -y curl ;; \
      debian) ;; \
      *) echo "PG_CLIENT_SOURCE must be pgdg or debian, not $PG_CLIENT_SOURCE" >&2; exit 1 ;; \
    esac; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_MAJOR}"; \
    apt-get autoremove -y; rm -rf /var/lib/apt/lists/*; \
    pg_dump --version
COPY --from=prod-deps --chown=0:0 /app/node_modules ./node_modules
COPY --chown=0:0 package.json ./
COPY --from=build --chown=0:0 /src/dist ./dist
COPY --from=native --chown=0:0 /src/dist/native ./dist/native
COPY --chown=0:0 migrations/ ./migrations/
COPY --chown=0:0 config/ ./config/
# Application files stay root-owned and read-only for the runtime user; only the data dir is its own.
RUN mkdir -p /var/lib/voxgate && chown 1000:1000 /var/lib/voxgate && chmod 0750 /var/lib/voxgate
VOLUME ["/var/lib/voxgate"]
USER 1000:1000
# SIP UDP+TCP, SIP TLS, HTTP (API, /healthz, /readyz, /metrics), media relay ng control; RTP 30000-40000/udp
# is published by the deployment (a range; see docs/deployment.md).
EXPOSE 5060/udp 5060/tcp 5061/tcp 8080/tcp 22222/udp
STOPSIGNAL SIGTERM
# The all-in-one's heap cap (config/memory-budgets.yml, `all`); each Kubernetes Deployment sets its target's.
ENV NODE_OPTIONS=--max-old-space-size=256
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.VOXGATE_API_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Last, so that a new revision does not invalidate the cached layers above.
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="voxgate" \
      org.opencontainers.image.description="Open-source VoIP platform: SIP gateway, media relay, provisioning API and jobs" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ENTRYPOINT ["node", "dist/src/bin/voxgate.js"]
CMD ["--target=all"]
