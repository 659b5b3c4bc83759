#!/usr/bin/env bash
# Starts the local registry (images/registry.yml, 127.0.0.1:5000) in the background unless
# one already answers there, then waits until it answers. Its log goes to
# /var/lib/docker-registry/spawnit-registry.log.
set -euo pipefail
cd "$(dirname "$0")"
ADDR=${SPAWNIT_REGISTRY:-127.0.0.1:5000}
answers() { curl -fsS -o /dev/null --max-time 2 "http://$ADDR/v2/" 2>/dev/null; }
answers && { echo "registry: http://$ADDR/ already answers"; exit 0; }
[[ $ADDR == 127.0.0.1:5000 ]] || { echo "registry: nothing answers at $ADDR (only 127.0.0.1:5000 is started here)" >&2; exit 1; }
mkdir -p /var/lib/docker-registry
log=/var/lib/docker-registry/spawnit-registry.log
setsid nohup docker-registry serve "$PWD/registry.yml" >>"$log" 2>&1 </dev/null &
pid=$!
for _ in $(seq 1 100); do
	answers && { echo "registry: started (pid $pid) at http://$ADDR/"; exit 0; }
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
echo "registry: did not start; last lines of $log:" >&2
tail -n 20 "$log" >&2
exit 1
