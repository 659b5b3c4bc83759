#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine: installs Debian's docker.io when
# dockerd is missing, starts dockerd in the background when nothing answers, then waits.
set -euo pipefail
if docker info >/dev/null 2>&1; then
  echo "docker engine already answering"; exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing docker.io from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi
log=${DOCKERD_LOG:-/var/log/spawnit-dockerd.log}
echo "starting dockerd (log: $log)"
nohup dockerd >"$log" 2>&1 &
for i in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then echo "docker engine ready after ${i}s"; exit 0; fi
  sleep 1
done
echo "dockerd did not answer within 60s; last log lines:" >&2
tail -20 "$log" >&2
exit 1
