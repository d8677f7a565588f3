#!/usr/bin/env bash
# Builds the OCI images without a Docker daemon (buildah, vfs storage, chroot
# isolation): one per function and one for the migrations, each FROM scratch
# with a static (musl) binary run as a non-root user; and the edge router:
# Debian's nginx with the web app, also from scratch. Then checks one image by
# running its binary and asking /health, and prints every image's size.
#
#   IMAGE_PREFIX  image name prefix      (default kind.local/task-app)
#   IMAGE_TAG     tag                    (default dev)
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=${IMAGE_PREFIX:-kind.local/task-app}
tag=${IMAGE_TAG:-dev}
target=x86_64-unknown-linux-musl
bah() { buildah --storage-driver vfs "$@"; }
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

images=$(target/debug/stack images)
functions=$(echo "$images" | grep -v -x -e edge-router -e migrate)

say "building static release binaries ($target)"
packages=$(for f in $functions; do printf -- '-p %s ' "$f"; done)
# shellcheck disable=SC2086
cargo build --release --locked --target "$target" --bins $packages -p task-core

# A from-scratch image holding one binary, run as uid 65532.
binary_image() { # name binary
  local name=$1 binary=$2 ctr
  ctr=$(bah from scratch)
  bah copy --chmod 0755 "$ctr" "$binary" /function >/dev/null
  bah config --entrypoint '["/function"]' --cmd '' --user 65532:65532 --port 8080 \
    --env PORT=8080 --label org.opencontainers.image.title="task-app $name" "$ctr"
  bah commit --quiet --rm "$ctr" "$prefix/$name:$tag" >/dev/null
}

for name in $functions migrate; do
  say "image $prefix/$name:$tag"
  binary_image "$name" "target/$target/release/$name"
done

say "image $prefix/edge-router:$tag (Debian's nginx + the web app)"
[ -f web/dist/index.html ] || { echo "web/dist is missing: run \`task web\`" >&2; exit 1; }
rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs/usr/sbin" "$rootfs/tmp" "$rootfs/etc/task-app" "$rootfs/usr/share/task-app"
cp /usr/sbin/nginx "$rootfs/usr/sbin/nginx"
# nginx and the shared libraries it links, at the paths it expects.
for lib in $(ldd /usr/sbin/nginx | grep -o '/[^ ]*'); do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
cp -r web/dist "$rootfs/usr/share/task-app/web"
printf 'nginx:x:65532:65532::/nonexistent:/sbin/nologin\n' > "$rootfs/etc/passwd"
printf 'nginx:x:65532:\n' > "$rootfs/etc/group"
ctr=$(bah from scratch)
bah copy "$ctr" "$rootfs" / >/dev/null
bah config --entrypoint '["/usr/sbin/nginx", "-e", "stderr"]' --cmd '["-c", "/etc/task-app/nginx.conf"]' \
  --user 65532:65532 --port 8080 --label org.opencontainers.image.title="task-app edge-router" "$ctr"
bah commit --quiet --rm "$ctr" "$prefix/edge-router:$tag" >/dev/null

say "checking $prefix/health:$tag: run its binary, ask /health"
bash local/image-check.sh "$prefix/health:$tag" "$prefix/migrate:$tag"
say "checking $prefix/edge-router:$tag: its nginx loads its libraries"
ctr=$(bah from "$prefix/edge-router:$tag")
bah run --isolation chroot "$ctr" -- /usr/sbin/nginx -v
bah rm "$ctr" >/dev/null

say "image sizes"
bah images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep -F "$prefix/" | sort | column -t
