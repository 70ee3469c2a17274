# shellcheck shell=bash
# Shared helpers of scripts/ci/*.sh (sourced, not run).
log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 is required ($2)"; }
# Fails loudly when a package.json script the pipeline relies on does not exist yet.
need_npm_script() {
  node -e 'process.exit(require("./package.json").scripts?.[process.argv[1]] ? 0 : 1)' "$1" ||
    die "npm run $1 does not exist yet: $2"
}
