#!/usr/bin/env bash
# Renders the Kubernetes manifests of one environment, offline: kustomize overlay + the PrometheusRule built
# from observability/prometheus/rules/voxgate.rules.yml + the image to deploy.
#
#   scripts/ci/render-manifests.sh staging|production [output-file]
#   VOXGATE_IMAGE=registry.example/voxgate@sha256:... scripts/ci/render-manifests.sh production out.yaml
set -euo pipefail
cd "$(dirname "$0")/../.."

env="${1:?usage: render-manifests.sh staging|production [output-file]}"
out="${2:-}"
overlay="deploy/kubernetes/overlays/$env"
rules="observability/prometheus/rules/voxgate.rules.yml"
[ -d "$overlay" ] || { echo "render-manifests: no overlay $overlay" >&2; exit 2; }
command -v kubectl >/dev/null || { echo "render-manifests: kubectl is required (kubectl kustomize)" >&2; exit 2; }
case "$env" in
  staging) rule_namespace=voxgate-staging ;;
  production) rule_namespace=voxgate ;;
  *) echo "render-manifests: unknown environment $env" >&2; exit 2 ;;
esac

echo "render-manifests: kubectl kustomize $overlay${VOXGATE_IMAGE:+ with image $VOXGATE_IMAGE}" >&2
tmp="$(mktemp)"
trap 'rm -f "$tmp" "$tmp.all"' EXIT
# kustomize's deprecation warnings go to stderr; the manifests are stdout only.
kubectl kustomize "$overlay" >"$tmp"
if [ -n "${VOXGATE_IMAGE:-}" ]; then
  sed -i "s#image: registry.voxgate.example/voxgate/voxgate:latest#image: ${VOXGATE_IMAGE}#" "$tmp"
fi
{
  cat "$tmp"
  if [ -f "$rules" ]; then
    printf -- '---\napiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n'
    printf '  name: voxgate\n  namespace: %s\n  labels:\n    app.kubernetes.io/part-of: voxgate\nspec:\n' "$rule_namespace"
    # The rules file is `groups: ...`, exactly a PrometheusRule's spec: indent it under spec.
    grep -v '^#' "$rules" | sed -e '/^$/d' -e 's/^/  /'
  else
    echo "render-manifests: $rules not found, no PrometheusRule rendered" >&2
  fi
} >"$tmp.all"
if [ -n "$out" ]; then mv "$tmp.all" "$out"; else cat "$tmp.all" && rm -f "$tmp.all"; fi
