#!/usr/bin/env bash
# deploy.sh deploy|undeploy|check
#
# The one entry point of SpawnIt's self-deployment (go -C tools tool task deploy / undeploy):
#
#   deploy    tofu init + apply -auto-approve in stacks/volumes, network, instances,
#             configs, in that order. Readiness between steps is part of the stacks
#             (modules/readiness), so a step ends when what it started answers.
#   undeploy  tofu destroy in the reverse order: no container, network or volume of the
#             deployment is left (images are kept). Data in the volumes is deleted.
#   check     tofu plan -detailed-exitcode in every stack: exits 0 when the deployment
#             matches the configuration, 2 when some stack would change.
#
# Each stack keeps its state in its own folder (terraform.tfstate, local backend).
# Values come from each stack's *.auto.tfvars.json; with SPAWNIT_DEPLOY_VARS=<dir>, the
# file <dir>/<stack>.tfvars.json overrides them when it exists (production values,
# secrets kept outside the repository).
#
# Environment:
#   SPAWNIT_TOFU             tofu binary (default: <repo>/.tools/bin/tofu, else tofu on PATH)
#   SPAWNIT_PROVIDER_MIRROR  provider filesystem mirror (default: <repo>/.tools/providers
#                            when it exists; without one, providers come from the registry)
#   SPAWNIT_DEPLOY_VARS      folder of <stack>.tfvars.json overrides
#   SPAWNIT_DOCKER_SOCKET    Docker socket mounted into SpawnIt (default /var/run/docker.sock)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
stacks=(volumes network instances configs)

die() { echo "deploy.sh: $*" >&2; exit 1; }
log() { printf '\n==> %s\n' "$*"; }

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit "${1:-2}"
}

# ---------------------------------------------------------------------------------------
# Tools and environment, shared by every tofu run.

tofu=${SPAWNIT_TOFU:-}
if [ -z "$tofu" ]; then
  if [ -x "$repo/.tools/bin/tofu" ]; then
    tofu=$repo/.tools/bin/tofu
  else
    tofu=$(command -v tofu) || die "tofu not found: run 'go -C tools tool task tools' or set SPAWNIT_TOFU"
  fi
fi
[ -x "$tofu" ] || die "tofu not executable: $tofu"
command -v curl >/dev/null || die "curl is needed (readiness checks run it)"

socket=${SPAWNIT_DOCKER_SOCKET:-/var/run/docker.sock}
[ -S "$socket" ] || die "no Docker socket at $socket (start the engine: bash .ci/docker-up.sh)"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

mirror=${SPAWNIT_PROVIDER_MIRROR:-}
if [ -z "$mirror" ] && [ -d "$repo/.tools/providers" ]; then
  mirror=$repo/.tools/providers
fi
if [ -n "$mirror" ]; then
  [ -d "$mirror" ] || die "provider mirror not found: $mirror"
  mirror=$(cd "$mirror" && pwd)
  # Offline: every provider comes from the mirror, none from a registry.
  cat >"$scratch/tofurc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.opentofu.org/*/*"]
  }
}
EOF
  export TF_CLI_CONFIG_FILE=$scratch/tofurc
fi

export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
# The instances stack mounts the socket into SpawnIt's container and adds its group to
# SpawnIt's process. Environment variables rank below *.auto.tfvars.json: the stacks'
# files leave these two out.
export TF_VAR_docker_socket_path=$socket
TF_VAR_docker_socket_gid=$(stat -c %g "$socket")
export TF_VAR_docker_socket_gid

vars_dir=${SPAWNIT_DEPLOY_VARS:-}
[ -z "$vars_dir" ] || [ -d "$vars_dir" ] || die "SPAWNIT_DEPLOY_VARS is not a folder: $vars_dir"

# var_args STACK: the -var-file option of the stack's override, if there is one.
var_args() {
  if [ -n "$vars_dir" ] && [ -f "$vars_dir/$1.tfvars.json" ]; then
    printf '%s\n' "-var-file=$(cd "$vars_dir" && pwd)/$1.tfvars.json"
  fi
}

tf() { # tf STACK ARGS...: tofu in the stack's folder
  local stack=$1
  shift
  "$tofu" -chdir="$here/stacks/$stack" "$@"
}

init() {
  tf "$1" init -input=false -no-color >"$scratch/init-$1.log" 2>&1 || {
    cat "$scratch/init-$1.log" >&2
    die "tofu init failed in stacks/$1"
  }
}

has_state() { # has_state STACK: the stack manages something
  [ -s "$here/stacks/$1/terraform.tfstate" ] &&
    [ -n "$(tf "$1" state list 2>/dev/null)" ]
}

# ---------------------------------------------------------------------------------------

deploy() {
  local s
  for s in "${stacks[@]}"; do
    log "stack $s: apply"
    init "$s"
    # shellcheck disable=SC2046 # one line per option, none with spaces
    tf "$s" apply -auto-approve -input=false -no-color $(var_args "$s")
  done
  log "deployed: $(tf configs output -raw spawnit_url 2>/dev/null || echo '?')"
}

undeploy() {
  local i s services
  # Services SpawnIt deployed are not part of these stacks: their OpenTofu states live in
  # the bucket, which goes with the s3_data volume. Say so when some are still running.
  services=$(docker ps -a --filter label=spawnit.service --format '{{.Names}}' 2>/dev/null | tr '\n' ' ' || true)
  if [ -n "$services" ]; then
    echo "deploy.sh: warning: containers of SpawnIt services exist on this engine: $services" >&2
    echo "deploy.sh: if this deployment made them, destroy them in SpawnIt first: undeploy deletes their states" >&2
  fi
  for ((i = ${#stacks[@]} - 1; i >= 0; i--)); do
    s=${stacks[i]}
    if ! has_state "$s"; then
      log "stack $s: nothing deployed"
      continue
    fi
    log "stack $s: destroy"
    init "$s"
    # shellcheck disable=SC2046
    tf "$s" destroy -auto-approve -input=false -no-color $(var_args "$s")
  done
  log "undeployed"
}

check() {
  local s rc changed=()
  for s in "${stacks[@]}"; do
    init "$s"
    rc=0
    # shellcheck disable=SC2046
    tf "$s" plan -detailed-exitcode -input=false -no-color -lock=false $(var_args "$s") >"$scratch/plan-$s.log" 2>&1 || rc=$?
    case $rc in
    0) echo "stack $s: up to date" ;;
    2)
      echo "stack $s: would change:"
      sed -n '/will be\|must be\|Plan:/p' "$scratch/plan-$s.log"
      changed+=("$s")
      ;;
    *)
      cat "$scratch/plan-$s.log" >&2
      die "tofu plan failed in stacks/$s"
      ;;
    esac
  done
  if [ ${#changed[@]} -gt 0 ]; then
    echo "not up to date: ${changed[*]}"
    exit 2
  fi
  echo "every stack is up to date"
}

case ${1:-} in
deploy) deploy ;;
undeploy) undeploy ;;
check) check ;;
-h | --help | help) usage 0 ;;
*) usage 2 ;;
esac
