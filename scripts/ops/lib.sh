# shellcheck shell=bash
# Shared helpers of scripts/ops/*.sh (sourced, not run).
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 is required ($2)"; }
