# Redis from Debian's package on the local Debian base, for the dev compose stack where no registry is
# reachable (config/docker/local.compose.yml). The stack passes its own command (redis-server ...).
ARG BASE_IMAGE=local/debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools \
 && rm -rf /var/lib/apt/lists/*
USER redis
EXPOSE 6379
# Debian's redis-server keeps protected mode on (refuses other hosts without a password); the upstream image
# turns it off, so the entry point does too for the stack's own network.
ENTRYPOINT ["/bin/sh", "-c", "if [ \"$1\" = redis-server ]; then shift; exec redis-server --protected-mode no \"$@\"; fi; exec \"$@\"", "--"]
CMD ["redis-server"]
