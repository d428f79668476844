#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing (PostgreSQL 15 server
# binaries, PgBouncer for the transaction-pooler proof, Chromium and chromedriver for the
# console's browser tests, Citus for the distributed proof), then runs every test. The tests start
# their own PostgreSQL and PgBouncer; nothing else needs to be running.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql-15)
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
# The web console's browser tests: Chromium driven through chromedriver, axe-core from npm.
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test: missing ${missing[*]}: install them (sudo apt-get install -y ${missing[*]}) and rerun" >&2
    exit 1
  fi
  echo "test: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Citus 13 for PostgreSQL 15, for the tests on a distributed cluster: from the Citus build kept
# beside the checkout (../shared/citus) when it is not installed yet. Without it those tests
# fail, each saying how to install it.
citus=../shared/citus/install.sh
if [ -f "$citus" ] && ! bash "$citus" --check; then
  if [ "$(id -u)" -eq 0 ]; then
    bash "$citus" >/dev/null
  else
    echo "test: Citus is not installed: run 'sudo $citus' (or install Citus 13 for PostgreSQL 15 from the Citus packages)" >&2
  fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked "$@" 2>&1 | tee "$log"
# One closing line for the whole run: cargo prints one summary per test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "all tests: %d passed, %d failed\n", p, f }' "$log"
