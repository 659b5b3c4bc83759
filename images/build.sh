#!/usr/bin/env bash
# Builds the service images under images/ from Debian packages and pushes them to the local
# registry, skipping every image that is already built from the same files.
#
#   images/build.sh [name...]      (no name: every images/<name>/ with a packages file)
#
# For each name: the packages listed in images/<name>/packages (one a line, # comments) are
# installed by mmdebstrap (--variant=minbase, Debian bookworm) into a root file system that
# `docker import` turns into spawnit-rootfs/<name>:<hash of packages>; images/<name>/Dockerfile
# is built on it (build argument BASE) into spawnit-images/<name>:<hash of the folder>,
# labelled io.spawnit.images.hash=<hash of the folder>; it is then pushed as
# $SPAWNIT_REGISTRY/debian/<name>:<tag> (tag: images/<name>/tag, one line). An image whose
# label holds the current hash is not built again, and a push is skipped when the registry
# already holds that image under that tag. The cache is Docker's own image store, so a fresh
# clone on the same machine reuses it.
set -euo pipefail
cd "$(dirname "$0")"

REGISTRY=${SPAWNIT_REGISTRY:-127.0.0.1:5000}
SUITE=bookworm
# Part of every hash: change it to rebuild everything (a new suite, a new way of building).
RECIPE="v1 $SUITE minbase"

say() { printf 'images: %s\n' "$*" >&2; }

hash_of() { # files... -> sha256 of their names, modes and contents, with RECIPE
	{
		echo "$RECIPE"
		tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - "$@"
	} | sha256sum | cut -c1-64
}

registry_image() { # repo tag -> the image id (config digest) the registry holds under that tag, or nothing
	curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://$REGISTRY/v2/$1/manifests/$2" 2>/dev/null |
		grep -o '"digest": *"sha256:[0-9a-f]*"' | head -n1 | grep -o 'sha256:[0-9a-f]*' || true
}

build_one() {
	local name=$1
	[[ $name =~ ^[a-z0-9][a-z0-9-]*$ ]] || { say "bad image name '$name'"; return 1; }
	[[ -f $name/packages && -f $name/Dockerfile ]] || { say "$name: needs images/$name/packages and images/$name/Dockerfile"; return 1; }
	local tag=bookworm
	[[ -f $name/tag ]] && tag=$(tr -d ' \t\r\n' <"$name/tag")
	local hash pkghash
	hash=$(hash_of "$name")
	pkghash=$(hash_of "$name/packages")
	local rootfs=spawnit-rootfs/$name:${pkghash:0:16}
	local image=spawnit-images/$name:${hash:0:16}
	local repo=debian/$name
	local ref=$REGISTRY/$repo:$tag
	local start=$SECONDS

	local id
	id=$(docker image ls -q --no-trunc --filter "label=io.spawnit.images.hash=$hash" --filter "reference=spawnit-images/$name" | head -n1)
	if [[ -z $id ]]; then
		if ! docker image inspect "$rootfs" >/dev/null 2>&1; then
			local pkgs
			pkgs=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$name/packages" | grep -v '^$' | paste -sd, -)
			say "$name: mmdebstrap $SUITE with $pkgs"
			mmdebstrap --quiet --variant=minbase --include="$pkgs" \
				--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
				--dpkgopt='path-exclude=/usr/share/locale/*' \
				"$SUITE" - | docker import - "$rootfs" >/dev/null
		fi
		say "$name: docker build"
		docker build --quiet --build-arg "BASE=$rootfs" --label "io.spawnit.images.hash=$hash" \
			--label "io.spawnit.images.packages=$(sed -e 's/#.*//' "$name/packages" | xargs)" \
			-t "$image" "$name" >/dev/null
		id=$(docker image inspect -f '{{.Id}}' "$image")
	else
		docker tag "$id" "$image"
	fi

	if [[ $(registry_image "$repo" "$tag") == "$id" ]]; then
		say "$name: $ref is up to date ($((SECONDS - start))s)"
		return 0
	fi
	docker tag "$id" "$ref"
	docker push --quiet "$ref" >/dev/null
	# Only the registry keeps the name: a deployment pulls it from there.
	docker image rm "$ref" >/dev/null
	say "$name: pushed $ref ($((SECONDS - start))s)"
}

curl -fsS -o /dev/null "http://$REGISTRY/v2/" || { say "no registry answers at http://$REGISTRY/v2/ (go tool task registry)"; exit 1; }

names=("$@")
if ((${#names[@]} == 0)); then
	for d in */packages; do names+=("${d%/packages}"); done
fi
for n in "${names[@]}"; do build_one "$n"; done
