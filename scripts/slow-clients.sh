#!/usr/bin/env bash
# Slow-client figures: starts a release `wizreg serve` (embedded PostgreSQL in a throwaway data
# directory, default edge settings) and runs the `slow_clients` example against it: the
# latency of requests from two schools alone, then while thousands of sockets trickle half a
# request and hundreds sit idle, and how long the server takes to close those.
#
#   scripts/slow-clients.sh [TRICKLING=3000] [IDLE=300] [REQUESTS=1000]
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${SLOW_CLIENTS_PROFILE:-release}"
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build --quiet --locked "${flag[@]}" -p wizreg --bin wizreg --example slow_clients
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/$profile"

work="$(mktemp -d /tmp/wizreg-slow-XXXXXX)"
chmod 0711 "$work" # the embedded server may run as the postgres OS user
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
env -u DATABASE_URL -u WIZREG_ADMIN_DATABASE_URL -u WIZREG_AUTH WIZREG_DATA_DIR="$work/data" \
  "$target/wizreg" serve --bind "127.0.0.1:$port" 2>"$work/server.log" &
server=$!
stop() {
  kill -TERM "$server" 2>/dev/null && wait "$server" || true
  rm -rf "$work"
}
trap stop EXIT
for _ in $(seq 1 600); do
  curl --silent --fail "http://127.0.0.1:$port/healthz" >/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.2
done
curl --silent --fail --header 'Content-Type: application/json' --header 'X-Tenant: hogwarts' \
  --data '{"name": "Harry Potter"}' "http://127.0.0.1:$port/students" >/dev/null
curl --silent --fail --header 'Content-Type: application/json' --header 'X-Tenant: castelobruxo' \
  --data '{"name": "Alanza Alves"}' "http://127.0.0.1:$port/students" >/dev/null

limit="$(grep 'open-file limit' "$work/server.log" | sed 's/\x1b\[[0-9;]*m//g' | head -1 | cut -d' ' -f4-)"
echo "wizreg $profile build, $(nproc) cores; server: $limit"
"$target/examples/slow_clients" "$port" "${1:-3000}" "${2:-300}" "${3:-1000}"
