#!/usr/bin/env bash
# Asks the daemon's /health and turns the answer into an exit code for monitors, cron and
# load balancers: 0 when it answers 200 (healthy), 1 otherwise, with the reason on stderr
# (the HTTP status and the unhealthy components, or why nothing answered).
#
#   scripts/health_check.sh [-u URL] [-t TIMEOUT_SECONDS] [-q]
#
# URL defaults to HEALTH_URL, else http://127.0.0.1:${ADMIN_PORT:-8901}/health. -q prints
# nothing when healthy.
set -uo pipefail

URL="${HEALTH_URL:-http://127.0.0.1:${ADMIN_PORT:-8901}/health}"
TIMEOUT="${HEALTH_TIMEOUT:-5}"
QUIET=0

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while getopts "u:t:qh" opt; do
  case "$opt" in
    u) URL="$OPTARG" ;;
    t) TIMEOUT="$OPTARG" ;;
    q) QUIET=1 ;;
    *) usage ;;
  esac
done
[[ "$TIMEOUT" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "health_check: TIMEOUT must be a number of seconds, got $TIMEOUT" >&2; exit 2; }
command -v curl >/dev/null || { echo "health_check: curl is not installed" >&2; exit 1; }

body="$(mktemp)"
trap 'rm -f "$body"' EXIT
# No --fail: a 503 still has a body that says which component is unhealthy.
status="$(curl -sS -o "$body" -w '%{http_code}' --max-time "$TIMEOUT" "$URL" 2>"$body.err")"
rc=$?
if (( rc != 0 )); then
  reason="$(tr -d '\n' <"$body.err")"
  rm -f "$body.err"
  echo "health_check: UNHEALTHY: no answer from $URL (curl exit $rc: ${reason#curl: })" >&2
  exit 1
fi
rm -f "$body.err"

# The components that are not healthy, from {"components":{"name":{"status":"..."}}}, without jq.
unhealthy="$(grep -o '"[a-z_]*":{"status":"\(unhealthy\|degraded\)"' "$body" | sed 's/"\([a-z_]*\)":{"status":"\([a-z]*\)"/\1=\2/' | paste -sd, -)"

if [[ "$status" == "200" ]]; then
  (( QUIET )) || echo "health_check: OK: $URL answered 200${unhealthy:+ (degraded: $unhealthy)}"
  exit 0
fi
detail="$(head -c 300 "$body" | tr -d '\n')"
echo "health_check: UNHEALTHY: $URL answered HTTP $status${unhealthy:+; components: $unhealthy}${detail:+; body: $detail}" >&2
exit 1
