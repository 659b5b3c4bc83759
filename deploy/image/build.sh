#!/usr/bin/env bash
# build.sh [server|lb|versitygw|oidc-op|all]...
#
# Builds the images of SpawnIt's self-deployment on the local Docker engine, each FROM
# scratch from static binaries (no registry is needed, none is used):
#
#   spawnit/server:TAG     spawnit (built here, CGO_ENABLED=0), tofu and the provider mirror
#   spawnit/lb:TAG         the round-robin proxy in front of several replicas (deploy/loadbalancer)
#   spawnit/versitygw:TAG  the versitygw S3 server (tests and local runs)
#   spawnit/oidc-op:TAG    the zitadel/oidc example OpenID Provider (tests and local runs)
#
# TAG is $SPAWNIT_IMAGE_TAG, default "dev". Every image runs as the unprivileged user
# 10001 (spawnit). The tools come from .tools/ (`go -C tools tool task tools`); the environment
# can point elsewhere: SPAWNIT_TOOLS (the .tools folder), SPAWNIT_TOFU,
# SPAWNIT_PROVIDER_MIRROR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tools=${SPAWNIT_TOOLS:-$repo/.tools}
tofu=${SPAWNIT_TOFU:-$tools/bin/tofu}
mirror=${SPAWNIT_PROVIDER_MIRROR:-$tools/providers}
tag=${SPAWNIT_IMAGE_TAG:-dev}
versitygw_version=${VERSITYGW_VERSION:-v1.8.0}
uid=10001

die() { echo "build.sh: $*" >&2; exit 1; }

# is_static FILE: an executable that needs no dynamic loader (ldd refuses it; file, when
# installed, says "statically linked").
is_static() {
  if command -v file >/dev/null 2>&1; then
    file -L "$1" | grep -q 'statically linked' || return 1
  fi
  ! ldd "$1" >/dev/null 2>&1
}

# context NAME: a fresh build context holding the files every image shares: a minimal
# /etc/passwd and /etc/group naming the unprivileged user, an empty folder that COPY
# --chown turns into directories owned by that user, and the Dockerfile.
context() {
  local dir=$scratch/$1
  mkdir -p "$dir/etc" "$dir/empty"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nspawnit:x:%d:%d:SpawnIt:/home/spawnit:/sbin/nologin\n' "$uid" "$uid" >"$dir/etc/passwd"
  printf 'root:x:0:\nspawnit:x:%d:\n' "$uid" >"$dir/etc/group"
  chmod 0644 "$dir/etc/passwd" "$dir/etc/group"
  chmod 0755 "$dir/empty"
  # CA certificates, for an S3 endpoint or an issuer reached over HTTPS in production.
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$dir/ca-certificates.crt"
  else
    : >"$dir/ca-certificates.crt"
  fi
  cp "$here/$1.Dockerfile" "$dir/Dockerfile"
  echo "$dir"
}

docker_build() { # docker_build IMAGE DIR
  echo "building $1"
  # -q keeps the log short; the legacy builder prints the image id.
  docker build -q --label "org.opencontainers.image.version=$tag" -t "$1" "$2" >/dev/null
  echo "built $1 ($(docker image inspect -f '{{.Id}}' "$1"))"
}

build_server() {
  [ -x "$tofu" ] || die "tofu not found at $tofu (run: go -C tools tool task tools)"
  is_static "$tofu" || die "$tofu is not a static binary; the image has no C library"
  [ -d "$mirror/registry.opentofu.org" ] || die "provider mirror not found at $mirror (run: go -C tools tool task tools)"
  local dir
  dir=$(context server)
  echo "compiling spawnit (CGO_ENABLED=0)"
  local version
  version=$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo dev)
  (cd "$repo" && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$dir/spawnit" ./cmd/spawnit)
  cp "$tofu" "$dir/tofu"
  mkdir -p "$dir/providers"
  cp -RL "$mirror/." "$dir/providers/"
  local p
  while IFS= read -r -d '' p; do
    is_static "$p" || die "provider $p is not a static binary"
  done < <(find "$dir/providers" -type f -name 'terraform-provider-*' -print0)
  docker_build "spawnit/server:$tag" "$dir"
}

build_lb() {
  local dir
  dir=$(context lb)
  echo "compiling the load balancer (CGO_ENABLED=0)"
  (cd "$repo" && CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o "$dir/spawnit-lb" ./deploy/loadbalancer)
  is_static "$dir/spawnit-lb" || die "the load balancer is not static"
  docker_build "spawnit/lb:$tag" "$dir"
}

build_versitygw() {
  local dir bin=$tools/bin/versitygw
  dir=$(context versitygw)
  if [ -x "$bin" ] && is_static "$bin"; then
    cp "$bin" "$dir/versitygw"
  else
    # `go install` builds it with cgo when a C compiler is around; the image needs a
    # static one. The Go build cache makes this quick after the first time.
    echo "compiling versitygw $versitygw_version (CGO_ENABLED=0)"
    CGO_ENABLED=0 GOOS=linux GOBIN="$dir/gobin" go install -trimpath -ldflags "-s -w" \
      "github.com/versity/versitygw/cmd/versitygw@$versitygw_version"
    mv "$dir/gobin/versitygw" "$dir/versitygw"
    rmdir "$dir/gobin"
  fi
  is_static "$dir/versitygw" || die "versitygw is not static"
  docker_build "spawnit/versitygw:$tag" "$dir"
}

build_oidc_op() {
  local dir bin=$tools/bin/oidc-op
  [ -x "$bin" ] || die "oidc-op not found at $bin (run: go -C tools tool task tools)"
  is_static "$bin" || die "$bin is not a static binary (build it with CGO_ENABLED=0)"
  dir=$(context oidc-op)
  cp "$bin" "$dir/oidc-op"
  docker_build "spawnit/oidc-op:$tag" "$dir"
}

command -v docker >/dev/null || die "docker client not found"
docker info >/dev/null 2>&1 || die "no Docker engine answers (run: bash .ci/docker-up.sh)"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

[ $# -gt 0 ] || set -- all
for what in "$@"; do
  case $what in
  server) build_server ;;
  lb) build_lb ;;
  versitygw) build_versitygw ;;
  oidc-op) build_oidc_op ;;
  all) build_server; build_lb; build_versitygw; build_oidc_op ;;
  *) die "unknown image $what (want server, lb, versitygw, oidc-op or all)" ;;
  esac
done
