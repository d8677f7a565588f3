#!/usr/bin/env bash
# Checks every workflow file against the GitHub Actions schema (action-validator, from npm).
set -euo pipefail
cd "$(dirname "$0")"
for f in ../workflows/*.yml; do
  npx --no action-validator "$f"
  echo "    valid: ${f#../}"
done
