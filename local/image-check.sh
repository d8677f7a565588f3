#!/usr/bin/env bash
# Runs a built function image's binary (from the image's own filesystem,
# chroot isolation) against a throw-away PostgreSQL migrated by the built
# migrate image, and expects 200 from /health.
set -euo pipefail
function_image=$1 migrate_image=$2
bah() { buildah --storage-driver vfs "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
data=$(mktemp -d /tmp/image-check-XXXXXX)
chmod 755 "$data"
pg_port=$(free_port)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$data"
as_pg "$bin/initdb" -D "$data/pg" -U postgres --auth=trust >/dev/null
as_pg "$bin/pg_ctl" -D "$data/pg" -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=" -l "$data/pg.log" -w start >/dev/null
fn=""
cleanup() {
  # buildah does not pass signals on to the process it runs: end the group.
  [ -n "$fn" ] && kill -TERM -- "-$fn" 2>/dev/null || true
  [ -n "$fn" ] && wait "$fn" 2>/dev/null || true
  for c in $(bah containers --format '{{.ContainerID}}' --filter "name=image-check"); do bah rm "$c" >/dev/null; done
  as_pg "$bin/pg_ctl" -D "$data/pg" -m immediate stop >/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
"$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres tasks
url="postgres://postgres@127.0.0.1:$pg_port/tasks"

run() { # image env... -- runs the image's entrypoint
  local image=$1; shift
  local ctr
  ctr=$(bah from --name "image-check-$RANDOM" "$image")
  bah run --isolation chroot --network host "$@" "$ctr" -- /function
}
run "$migrate_image" --env DATABASE_URL="$url"
port=$(free_port)
export -f run bah
# buildah's own complaints about the stop at the end go to a file, shown on failure.
setsid bash -c 'run "$@"' _ "$function_image" --env DATABASE_URL="$url" --env PORT="$port" \
  --env BIND_ADDRESS=127.0.0.1 2> "$data/run.log" &
fn=$!
for _ in $(seq 1 300); do
  if answer=$(curl -sf "http://127.0.0.1:$port/health"); then
    echo "    /health answered: $answer"
    exit 0
  fi
  sleep 0.1
done
echo "no answer from /health of $function_image:" >&2
cat "$data/run.log" >&2
exit 1
