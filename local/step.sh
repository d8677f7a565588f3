#!/usr/bin/env bash
# One step of `task test` (and the other long tasks): says what runs, how long
# it took, and, when it fails, which step failed and where to look.
#   local/step.sh NAME [--look WHERE] -- COMMAND...
set -uo pipefail
name=$1; shift
look=""
if [ "${1:-}" = --look ]; then look=$2; shift 2; fi
[ "${1:-}" = -- ] && shift
printf '\033[1m==> %s\033[0m\n' "$name"
started=$SECONDS
"$@"
status=$?
if [ $status -ne 0 ]; then
  printf '\n\033[1;31m✘ step failed: %s (exit %d, after %d s)\033[0m\n' "$name" "$status" $((SECONDS - started))
  printf '  command: %s\n' "$*"
  [ -n "$look" ] && printf '  look at: %s\n' "$look"
  exit $status
fi
printf '    done in %d s: %s\n' $((SECONDS - started)) "$name"
