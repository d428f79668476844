#!/usr/bin/env bash
# A bounded soak: builds the release binaries, then runs a mixed load (reads, lists, keyed
# creates, renames over 100 schools) against one server on a fresh PostgreSQL for SECONDS
# (default 150), printing throughput, table growth and server memory every 15 s, and the last
# window over the first. For throughput drift; not a test, not part of the benchmark targets.
#   scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p wizreg -p wizreg-bench
exec target/release/wizreg-bench --soak "${1:-150}"
