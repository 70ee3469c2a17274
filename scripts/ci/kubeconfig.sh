#!/usr/bin/env bash
# Writes the cluster credentials of a deploy or ops job (KUBECONFIG_DATA, from the environment's secret) to
# ~/.kube/config.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/ci/lib.sh
. scripts/ci/lib.sh
[ -n "${KUBECONFIG_DATA:-}" ] || die 'KUBECONFIG_DATA is empty (the environment secret KUBECONFIG)'
mkdir -p ~/.kube
printf '%s' "$KUBECONFIG_DATA" >~/.kube/config
chmod 600 ~/.kube/config
