#!/usr/bin/env bash
# Renders charts/meshcert with its default values, release "meshcert" in
# namespace "meshcert-system", into one manifest for kubectl apply,
# preceded by the namespace. 'make manifests' writes it to deploy/meshcert.yaml.
#
# Usage: MESHCERT_HELM=/path/to/helm hack/render-manifest.sh
set -euo pipefail
helm=${MESHCERT_HELM:?MESHCERT_HELM is not set; run eval "\$(hack/tools/env.sh)" first}
root=$(cd "$(dirname "$0")/.." && pwd)

cat <<'HEADER'
# meshcert install manifest for kubectl apply, rendered by 'make manifests'
# from charts/meshcert with its default values. Do not edit: change the
# chart and run 'make manifests'. For other settings use the chart.
---
apiVersion: v1
kind: Namespace
metadata:
  name: meshcert-system
  labels:
    app.kubernetes.io/part-of: meshcert
    pod-security.kubernetes.io/enforce: restricted
HEADER
# --kube-version is the oldest version the chart supports, so the output
# does not depend on the helm binary's default.
"$helm" template meshcert "$root/charts/meshcert" --namespace meshcert-system --kube-version 1.30.0
