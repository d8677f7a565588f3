#!/usr/bin/env bash
# Creates a task through the edge router and waits for its audit record:
# the whole Knative path (Serving, SinkBinding, Kafka broker, Trigger).
set -euo pipefail
host=${1:?the edge router host, e.g. edge-router.task-app.127.0.0.1.sslip.io}
base=http://127.0.0.1:8088
call() { curl -sf -H "Host: $host" "$@"; }
task=$(call -X POST "$base/api/tasks" -H 'content-type: application/json' -d '{"title":"kind smoke test"}')
id=$(echo "$task" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo "created task $id"
for _ in $(seq 1 60); do
  if call "$base/api/tasks/$id/history" | grep -q task.created; then
    echo "its audit record arrived: the Knative path works"
    exit 0
  fi
  sleep 2
done
echo "no audit record for task $id within 120 s" >&2
exit 1
