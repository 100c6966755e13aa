#!/usr/bin/env bash
# Builds one test tool from its module under hack/tools/ into a per-version
# cache outside the checkout, and prints the folder that contains the binary.
# A binary already in the cache is reused, so only the first run pays.
#
# Usage: hack/tools/install.sh kube-apiserver|etcd|helm|promtool
set -euo pipefail

tool=${1:?usage: install.sh kube-apiserver|etcd|helm|promtool}
here=$(cd "$(dirname "$0")" && pwd)
cache=${MESHCERT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshcert}

case $tool in
kube-apiserver) module=k8s.io/kubernetes pkg=k8s.io/kubernetes/cmd/kube-apiserver ;;
etcd) module=go.etcd.io/etcd/server/v3 pkg=. ;;
helm) module=helm.sh/helm/v4 pkg=helm.sh/helm/v4/cmd/helm ;;
promtool) module=github.com/prometheus/prometheus pkg=github.com/prometheus/prometheus/cmd/promtool ;;
*)
	echo "install.sh: unknown tool \"$tool\"; expected kube-apiserver, etcd, helm or promtool" >&2
	exit 2
	;;
esac

cd "$here/$tool"
version=$(go list -m -f '{{.Version}}' "$module")
dir=$cache/tools/$tool/$version
if [[ -x $dir/$tool ]]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$dir"
echo "Building $tool $version into $dir (first run only)" >&2
start=$SECONDS
tmp=$(mktemp "$dir/.$tool.XXXXXX")
# CGO_ENABLED=0 gives static binaries that do not depend on the host's libc.
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp" "$pkg"
mv "$tmp" "$dir/$tool"
echo "Built $tool $version in $((SECONDS - start)) s" >&2
echo "$dir"
