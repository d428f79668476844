# Sourced by the scripts that test a live `wizreg serve` (scripts/contract-test.sh,
# scripts/openapi-check.sh): builds the debug binary, starts it with an embedded PostgreSQL in a
# throwaway directory on a free loopback port, waits until it answers, and stops it (and removes
# the directory) when the calling script exits.
#
# Sets: $work (the throwaway directory), $base (http://127.0.0.1:<port>), $admin_token.
# Extra `serve` environment may be passed as arguments: live_server_start WIZREG_X=1 …

live_server_start() {
  cargo build --quiet --locked -p wizreg --bin wizreg
  local target bin port
  target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  bin="$target/debug/wizreg"
  work="$(mktemp -d /tmp/wizreg-live-XXXXXX)"
  chmod 0711 "$work" # the embedded server may run as the postgres OS user
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  base="http://127.0.0.1:$port"
  env -u DATABASE_URL -u WIZREG_ADMIN_DATABASE_URL -u WIZREG_AUTH WIZREG_DATA_DIR="$work/data" "$@" \
    "$bin" serve --bind "127.0.0.1:$port" 2>"$work/server.log" &
  live_server_pid=$!
  trap live_server_stop EXIT
  for _ in $(seq 1 600); do
    curl --silent --fail "$base/healthz" >/dev/null && break
    kill -0 "$live_server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
    sleep 0.2
  done
  admin_token="$(cat "$work/data/admin-token")"
}

live_server_stop() {
  kill -TERM "$live_server_pid" 2>/dev/null && wait "$live_server_pid" || true
  rm -rf "$work"
}

# Fails the calling script (status 1) when the server logged an error.
live_server_check_log() {
  if grep -q 'ERROR' "$work/server.log"; then
    echo "$1: the server logged errors:"
    grep 'ERROR' "$work/server.log" | head -20
    return 1
  fi
}
