#!/bin/sh
# wait-http.sh: polls $READY_URL with GET until it answers 2xx, for at most
# $READY_TIMEOUT seconds, pausing $READY_INTERVAL seconds between polls. With
# $READY_AWS_SIGV4 (e.g. aws:amz:us-east-1:s3) the request is signed with the
# credentials in $READY_USER (ACCESS:SECRET), which reach curl through its standard
# input, not its command line. Run by the readiness module's local-exec provisioner.
set -u

name=${READY_NAME:-$READY_URL}
timeout=${READY_TIMEOUT:-120}
interval=${READY_INTERVAL:-1}
start=$(date +%s)
deadline=$((start + timeout))
tries=0
body=$(mktemp)
trap 'rm -f "$body"' EXIT

poll() {
  if [ -n "${READY_AWS_SIGV4:-}" ]; then
    # S3 wants the payload hash header on every signed request; a GET has no payload.
    printf 'user = "%s"\n' "$READY_USER" |
      curl -sS -o "$body" -w '%{http_code}' --max-time 5 -K - --aws-sigv4 "$READY_AWS_SIGV4" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$READY_URL" 2>/dev/null
  else
    curl -sS -o "$body" -w '%{http_code}' --max-time 5 "$READY_URL" 2>/dev/null
  fi
}

command -v curl >/dev/null 2>&1 || { echo "readiness: curl is needed on the machine running tofu" >&2; exit 1; }

while :; do
  tries=$((tries + 1))
  : >"$body"
  code=$(poll) || true
  case $code in
  2??)
    echo "readiness: $name ready after $(($(date +%s) - start))s ($tries polls)"
    exit 0
    ;;
  esac
  now=$(date +%s)
  if [ "$now" -ge "$deadline" ]; then
    echo "readiness: $name not ready after ${timeout}s ($tries polls); last answer: HTTP ${code:-none} from $READY_URL" >&2
    if [ -s "$body" ]; then
      printf '%s\n' "$(head -c 400 "$body")" >&2
    fi
    exit 1
  fi
  sleep "$interval"
done
