#!/usr/bin/env bash
# Installs what the local stack needs, once per machine: every step checks
# first and skips what is already there. Run by `task setup` (and so by
# `task up`). `--test` adds what only the tests need (`task test`); `--bench`,
# `--chaos` and `--images` what those commands need. Each install says what
# it installs, why, and about how long it takes on this machine.
set -euo pipefail
mode=${1:-up}
cores=$(nproc 2>/dev/null || echo 2)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
# About how long an install measured at `minutes` on 2 cores takes here.
about() { echo "about $(( ($1 * 2 + cores - 1) / cores )) min on $cores cores"; }
ok() { printf '    ok: %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "error: '$*' needs root; run it as root or install sudo" >&2; exit 1
  fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    say "refreshing the Debian package index"
    as_root apt-get update -qq
    apt_updated=yes
  fi
  say "installing $* (apt)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Debian packages: what provides each command we need.
missing=()
if [ "$mode" = --chaos ]; then
  # Only for `task chaos`: the fuzzer of the audit function's parsing.
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  if ! cargo fuzz --version 2>/dev/null | grep -F 0.13.1 >/dev/null; then
    say "installing cargo-fuzz 0.13.1 (the audit function's fuzzer; once per machine, $(about 5))"
    cargo install cargo-fuzz --version 0.13.1 --locked
  fi
  ok "$(cargo fuzz --version)"
  exit 0
fi
if [ "$mode" = --bench ]; then
  # Only for `task bench`: the HTTP load tool (pgbench comes with PostgreSQL).
  command -v wrk >/dev/null || apt_install wrk
  ok "$(wrk --version 2>&1 | head -1)"
  exit 0
fi
if [ "$mode" = --images ]; then
  # Only for `task images` and the kind recipe.
  command -v buildah >/dev/null || missing+=(buildah)
  command -v musl-gcc >/dev/null || missing+=(musl-tools)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  rustup target list --installed | grep -x x86_64-unknown-linux-musl >/dev/null || rustup target add x86_64-unknown-linux-musl
  ok "$(buildah --version), musl target"
  exit 0
fi
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v cmake >/dev/null || missing+=(cmake)   # librdkafka's build (the local broker)
command -v npm >/dev/null || missing+=(nodejs npm)
if [ "$mode" = --test ]; then
  [ -x /usr/bin/chromium ] || missing+=(chromium)   # the browser tests
  # kubectl renders the Knative manifests (kustomize); Debian's is old but
  # renders them. Machines of this project's kind ship a current one.
  command -v kubectl >/dev/null || missing+=(kubernetes-client)
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi
ok "PostgreSQL $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1 | cut -d/ -f5)"
ok "$( (command -v nginx >/dev/null && nginx -v || /usr/sbin/nginx -v) 2>&1 | sed 's/^nginx version: //'), node $(node --version)"

if ! rustup target list --installed | grep -x wasm32-unknown-unknown >/dev/null; then
  say "adding the wasm32-unknown-unknown target (the web app)"
  rustup target add wasm32-unknown-unknown
fi
ok "$(cargo --version), targets: $(rustup target list --installed | tr '\n' ' ')"

# Cargo-installed tools, each pinned and installed once per machine. Release
# builds without LTO: these are development tools, and it halves the build.
cargo_install() { # name version command-to-check minutes-on-2-cores why [cargo install args...]
  local name=$1 version=$2 check=$3 minutes=$4 why=$5; shift 5
  if "$check" --version 2>/dev/null | grep -F "$version" >/dev/null; then
    ok "$name $version"
    return
  fi
  say "installing $name $version with cargo: $why (once per machine, $(about "$minutes"); cargo shows each crate it compiles)"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install "$name" --version "$version" "$@"
  ok "$name $version"
}
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# The Kafka-protocol broker of the local stack and the tests: nisshi, with only
# its PostgreSQL storage (see local/broker/README.md). Its lockfile pins rama
# 0.4, which asks for Rust 1.96 but builds with 1.95: older toolchains are told
# to go ahead.
nisshi_args=(--locked --no-default-features --features postgres)
rust_minor=$(rustc --version | cut -d' ' -f2 | cut -d. -f2)
[ "$rust_minor" -ge 96 ] || nisshi_args+=(--ignore-rust-version)
cargo_install nisshi 0.8.1 nisshi 14 "the Kafka-protocol broker of the local stack" "${nisshi_args[@]}"
# The web app's build: Trunk, and the wasm-bindgen CLI of the version web/Cargo.lock
# pins (not --locked: its lockfile wants crates this registry lacks).
# Without its update check, which the offline build (web/Trunk.toml) never
# runs: its crates.io client is one thing less to compile.
cargo_install trunk 0.21.14 trunk 7 "builds the web app" --locked --no-default-features --features rustls
cargo_install wasm-bindgen-cli 0.2.130 wasm-bindgen 3 "the web app's JavaScript bindings"

# wasm-opt (binaryen, from npm: Debian's is too old) and Playwright, for web/.
# Playwright never downloads a browser here: the tests drive Debian's Chromium.
web=$(cd "$(dirname "$0")/../web" && pwd)
if [ ! -x "$web/node_modules/.bin/wasm-opt" ] || [ ! -d "$web/node_modules/@playwright/test" ] \
   || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  say "installing the web app's npm tools (binaryen's wasm-opt shrinks the web app; Playwright drives the browser tests; under a minute)"
  (cd "$web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
ok "$("$web/node_modules/.bin/wasm-opt" --version), playwright $(cd "$web" && node -p 'require("@playwright/test/package.json").version')"

# The local OpenID Provider (oidc-provider, pinned in local/oidc/package-lock.json).
root=$(cd "$(dirname "$0")/.." && pwd)
npm_tools() { # folder why
  if [ ! -d "$root/$1/node_modules" ] || [ "$root/$1/package-lock.json" -nt "$root/$1/node_modules/.package-lock.json" ]; then
    say "installing the npm packages of $1: $2 (under a minute)"
    (cd "$root/$1" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_tools local/oidc "the OpenID Provider people sign in with"
[ "$mode" = --test ] || exit 0

# What only the tests need.
if ! cargo clippy --version >/dev/null 2>&1 || ! cargo fmt --version >/dev/null 2>&1; then
  say "adding clippy and rustfmt to the Rust toolchain (the lints; under a minute)"
  rustup component add clippy rustfmt
fi
ok "$(/usr/bin/chromium --version 2>/dev/null)"
# The dependencies' advisories, licences and sources (deny.toml).
cargo_install cargo-deny 0.20.2 cargo-deny 3 "checks the dependencies against deny.toml" --locked
# The manifest and workflow checks: schemas from npm and PyPI.
npm_tools knative/check "the Knative manifests' schemas"
npm_tools .github/check "the GitHub Actions schema"
if [ "$(python3 -m pip show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p')" != 1.31.0 ]; then
  say "installing kubernetes-validate (PyPI): the manifests' Kubernetes schemas (under a minute)"
  python3 -m pip install --quiet kubernetes-validate==1.31.0
fi
# cargo-lambda's own release (the PyPI wheel ships its binary): the Lambda
# runtime emulator that local/stack/tests/lambda.rs serves functions through.
if ! cargo lambda --version 2>/dev/null | grep -F 1.9.2 >/dev/null; then
  say "installing cargo-lambda 1.9.2 (PyPI): the AWS Lambda runtime emulator of the Lambda test (under a minute)"
  python3 -m pip install --quiet cargo-lambda==1.9.2
fi
ok "$(cargo lambda --version)"
if [ "$(python3 -m pip show schemathesis 2>/dev/null | sed -n 's/^Version: //p')" != 4.32.5 ]; then
  say "installing schemathesis (PyPI): the API's generated-input tests (under a minute)"
  python3 -m pip install --quiet schemathesis==4.32.5
fi
ok "kubectl $(kubectl version --client 2>/dev/null | head -1 | sed 's/Client Version: //'), kubernetes-validate 1.31.0, schemathesis 4.32.5"
