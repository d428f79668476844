#!/usr/bin/env bash
# The benchmark, in one command: builds the release binaries, then runs wizreg-bench, which
# starts a fresh PostgreSQL, seeds it, measures pgbench baselines and the API under load, and
# writes docs/benchmarks.md (+ chart) and target/bench/results.json.
#   scripts/bench.sh            100 schools × 1,000 students (a few minutes)
#   scripts/bench.sh --large    10,000 schools × 100 students, compared with the default size
#   scripts/bench.sh --citus    one PostgreSQL beside a Citus coordinator with 2 workers
# Any other flag goes to wizreg-bench (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v pgbench >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/pgbench' >/dev/null || {
  echo "bench: pgbench is missing (Debian: apt-get install postgresql-15)" >&2
  exit 1
}
cargo build --release --locked -p wizreg -p wizreg-bench
exec target/release/wizreg-bench "$@"
