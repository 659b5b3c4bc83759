#!/usr/bin/env bash
# build-module.sh MODULE VERSION PACKAGE OUTPUT
# Builds PACKAGE of a Go module that `go install` refuses (replace directives, or a go.mod
# that names another path): download it through the module proxy, copy it to a writable
# scratch folder where it is the main module, and build there.
set -euo pipefail
module=$1 version=$2 pkg=$3 out=$4
dir=$(GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "could not download $module@$version" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'chmod -R u+w "$scratch"; rm -rf "$scratch"' EXIT
cp -r "$dir/." "$scratch/"
chmod -R u+w "$scratch"
mkdir -p "$(dirname "$out")"
cd "$scratch"
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out.tmp" "$pkg"
mv "$out.tmp" "$out"
echo "built $out"
