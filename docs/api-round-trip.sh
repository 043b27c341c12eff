#!/usr/bin/env bash
# A full round trip through the API with curl: a personal token, evidence uploaded for one of a
# body's obligations, the body's status read back, and its audit report downloaded.
#
# With `make run` serving the demo area on http://127.0.0.1:8000:
#
#   TOKEN=$(.venv/bin/compliance token create --email officer.cornwall@demo.example.org)
#   TOKEN=$TOKEN bash docs/api-round-trip.sh
#
# Settings: TOKEN (required), BASE_URL (default http://127.0.0.1:8000), BODY (a body code,
# default E06000052, Cornwall Council), OUT (where the report is written, default .).
# Needs curl and jq. The tests run this script against a real server (tests/test_round_trip.py).
set -euo pipefail

BASE_URL=${BASE_URL:-http://127.0.0.1:8000}
BODY=${BODY:-E06000052}
OUT=${OUT:-.}
: "${TOKEN:?Set TOKEN to an API token: compliance token create --email you@example.org}"

# Every call sends the token. On an error the API answers a problem document (RFC 9457) saying
# what was wrong; it is printed and the script stops.
api() {
  local body
  if ! body=$(curl --silent --show-error --fail-with-body \
    -H "Authorization: Bearer $TOKEN" "$@"); then
    echo "$body" >&2
    return 1
  fi
  if [ -n "$body" ]; then printf '%s\n' "$body"; fi
}

echo "1. The token belongs to:"
api "$BASE_URL/api/v1/me" | jq -r '"   \(.name) <\(.email)>, \(.role)"'

echo "2. $BODY's first obligation with a period still to evidence:"
obligations=$(api "$BASE_URL/api/v1/obligations?body=$BODY&status=assurance_gap&limit=1")
obligation=$(jq -r '.items[0].id' <<<"$obligations")
period=$(jq -r '.items[0].periods | map(select(.status != "met")) | .[0]' <<<"$obligations")
occurrence=$(jq -r '.occurrence_id' <<<"$period")
jq -r '.items[0] | "   #\(.id) \(.item) (\(.source)), \(.status)"' <<<"$obligations"

echo "3. Upload the evidence for the period ending $(jq -r .period_end_date <<<"$period"):"
minutes="$(mktemp --suffix=.pdf)"
trap 'rm -f "$minutes"' EXIT
printf '%%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%%%EOF\n' >"$minutes"
evidence=$(api -X POST "$BASE_URL/api/v1/obligations/$obligation/evidence" \
  -F kind=document \
  -F "title=Board minutes approving the annual report" \
  -F "effective_date=$(date +%F)" \
  -F "occurrence_ids=$occurrence" \
  -F "file=@$minutes;type=application/pdf")
jq -r '"   Evidence recorded: #\(.id), SHA-256 \(.sha256)"' <<<"$evidence"

echo "4. $BODY's status now:"
api "$BASE_URL/api/v1/bodies/$BODY/status" |
  jq -r '"   \(.obligations) obligations, \(.fully_met) fully met",
         "   Process: \(.process | to_entries | map("\(.key) \(.value)") | join(", "))",
         "   Outcome: \(.outcome | to_entries | map("\(.key) \(.value)") | join(", "))"'

echo "5. The audit report:"
report="$OUT/audit-report-$BODY.pdf"
api --dump-header "$OUT/.headers" -o "$report" "$BASE_URL/api/v1/bodies/$BODY/report.pdf"
fingerprint=$(grep -i '^x-report-fingerprint:' "$OUT/.headers" | tr -d '\r' | cut -d' ' -f2)
rm -f "$OUT/.headers"
echo "   $report ($(wc -c <"$report") bytes, data fingerprint $fingerprint)"
