# shellcheck shell=bash
# Shared by the scripts that build and run images without a registry (sourced, not run): picks a docker client
# that can drive the engine's BuildKit and checks that the engine answers.
#
# Two clients may be installed: a newer CLI (>= 23) without the buildx plugin has only the legacy builder,
# which refuses `RUN --mount`; Debian's docker.io client (20.10) drives the engine's built-in BuildKit with
# DOCKER_BUILDKIT=1. DOCKER (an array) is the client chosen; VOXGATE_DOCKER overrides it.
docker_local_init() {
  DOCKER=()
  if [ -n "${VOXGATE_DOCKER:-}" ]; then
    DOCKER=("$VOXGATE_DOCKER")
  else
    local candidate major
    for candidate in "$(command -v docker || true)" /usr/bin/docker /usr/local/bin/docker; do
      [ -x "$candidate" ] || continue
      if "$candidate" buildx version >/dev/null 2>&1; then DOCKER=("$candidate"); break; fi
      major=$("$candidate" version -f '{{.Client.Version}}' 2>/dev/null | cut -d. -f1 || true)
      if [ -n "$major" ] && [ "$major" -lt 23 ] 2>/dev/null; then DOCKER=("$candidate"); break; fi
    done
  fi
  [ "${#DOCKER[@]}" -gt 0 ] ||
    die 'no docker client that can use BuildKit (Debian docker.io, or a CLI with the buildx plugin)'
  "${DOCKER[@]}" info >/dev/null 2>&1 ||
    die "the Docker engine does not answer (${DOCKER[*]} info); start it as root: dockerd >/tmp/dockerd.log 2>&1 &"
}
