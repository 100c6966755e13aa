#!/usr/bin/env bash
# Builds the test tools when missing (see install.sh) and prints the
# environment that points the tests at them, for use with eval:
#
#   eval "$(hack/tools/env.sh)" && go test ./...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

apiserver=$("$here/install.sh" kube-apiserver)
etcd=$("$here/install.sh" etcd)
helm=$("$here/install.sh" helm)
promtool=$("$here/install.sh" promtool)

cat <<VARS
export TEST_ASSET_KUBE_APISERVER='$apiserver/kube-apiserver'
export TEST_ASSET_ETCD='$etcd/etcd'
export MESHCERT_HELM='$helm/helm'
export MESHCERT_PROMTOOL='$promtool/promtool'
VARS
