#!/usr/bin/env bash
# Prints the size of the built web app's wasm and JS, raw and gzip-compressed.
set -euo pipefail
dist=${1:-web/dist}
for file in "$dist"/*.wasm "$dist"/*.js; do
  raw=$(stat -c %s "$file")
  gz=$(gzip -9c "$file" | wc -c)
  awk -v name="$(basename "$file")" -v raw="$raw" -v gz="$gz" \
    'BEGIN { printf "    %-40s %7.1f KiB raw  %7.1f KiB gzip\n", name, raw / 1024, gz / 1024 }'
done
