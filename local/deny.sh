#!/usr/bin/env bash
# The dependencies against deny.toml: licences, sources and bans always; the
# RustSec advisories wherever their database (hosted on GitHub) can be
# fetched. On a machine that cannot reach GitHub that part is skipped, and
# says so: CI on GitHub runs it.
set -uo pipefail
cd "$(dirname "$0")/.."
cargo deny --log-level error check bans licenses sources || exit 1
output=$(cargo deny --log-level error check advisories 2>&1)
status=$?
if [ $status -eq 0 ]; then
  echo "    advisories ok"
elif grep -q "failed to fetch advisory database" <<<"$output"; then
  echo "    advisories: skipped, the RustSec database cannot be fetched from here (CI on GitHub checks them)"
else
  echo "$output"
  exit $status
fi
