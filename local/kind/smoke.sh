#!/usr/bin/env bash
# Signs in through Keycloak as the web app does (local/kind/sign-in.py),
# creates a task as alice and waits for its audit record: the whole Knative
# path (Serving, SinkBinding, Kafka broker, Trigger) and sign-in (tokens of
# the kind realm accepted by the functions; no token, 401; the admin's route
# for carol only).
set -euo pipefail
host=${1:?the edge router host, e.g. edge-router.task-app.127.0.0.1.sslip.io}
origin=http://$host:8088
base=http://127.0.0.1:8088
here=$(dirname "$0")
# The Host header with the port, as a browser sends it: Keycloak builds the
# issuer from it (through the edge router's X-Forwarded-Host).
call() { curl -sf -H "Host: $host:8088" "$@"; }
password() { kubectl -n task-app get secret oidc-demo-accounts -o jsonpath="{.data.$1}" | base64 -d; }
token() { python3 "$here/sign-in.py" "$origin" "$1" "$(password "$1")"; }

status=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host:8088" -X POST "$base/api/tasks" \
  -H 'content-type: application/json' -d '{"title":"kind smoke test"}')
[ "$status" = 401 ] || { echo "a create without a token answered $status, not 401" >&2; exit 1; }
echo "without a token: 401"

alice=$(token alice)
carol=$(token carol)
echo "signed in as alice and carol through Keycloak"
task=$(call -X POST "$base/api/tasks" -H "authorization: Bearer $alice" \
  -H 'content-type: application/json' -d '{"title":"kind smoke test"}')
id=$(echo "$task" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "alice created task $id"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host:8088" -H "authorization: Bearer $alice" "$base/api/task-owners")
[ "$status" = 403 ] || { echo "alice (no admin) got $status from /api/task-owners, not 403" >&2; exit 1; }
call -o /dev/null -H "authorization: Bearer $carol" "$base/api/task-owners"
echo "the admin's route: 403 for alice, 200 for carol"
for _ in $(seq 1 60); do
  if call -H "authorization: Bearer $alice" "$base/api/tasks/$id/history" | grep -q task.created; then
    echo "its audit record arrived: the Knative path works, signed in"
    exit 0
  fi
  sleep 2
done
echo "no audit record for task $id within 120 s" >&2
exit 1
