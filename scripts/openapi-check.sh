#!/usr/bin/env bash
# OpenAPI check: the live /openapi.json of a `wizreg serve` (embedded PostgreSQL, throwaway data
# directory, WIZREG_AUTH=api-key) must
#   1. validate (openapi-spec-validator),
#   2. lint clean with Redocly's recommended rules, warnings included (redocly.yaml),
#   3. generate a Python client (openapi-python-client) with no warning that then runs the
#      walk-through and the admin lifecycle end to end (scripts/openapi/client_e2e.py),
#   4. generate TypeScript types (openapi-typescript) that, with openapi-fetch, compile under
#      `tsc --strict` and run the same journey in Node (scripts/openapi/client_e2e.mts).
# Any failure fails the script. Tools are installed when missing, under ~/.cache/wizreg (a
# Python virtualenv and an npm prefix; needs python3 with venv, node and npm).
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${WIZREG_OPENAPI_TOOLS:-$HOME/.cache/wizreg}"
venv="$cache/openapi-venv"
npm_prefix="$cache/openapi-npm"
if ! "$venv/bin/openapi-python-client" --version >/dev/null 2>&1 || ! "$venv/bin/openapi-spec-validator" --help >/dev/null 2>&1; then
  echo "openapi-check: installing openapi-spec-validator and openapi-python-client into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'openapi-spec-validator>=0.7,<0.8' 'openapi-python-client>=0.26,<0.27'
fi
npm_tools=('@redocly/cli@2' 'openapi-typescript@7' 'typescript@5' 'openapi-fetch@0.17' '@types/node@20')
if ! [ -x "$npm_prefix/node_modules/.bin/redocly" ] || ! [ -x "$npm_prefix/node_modules/.bin/openapi-typescript" ] \
  || ! [ -x "$npm_prefix/node_modules/.bin/tsc" ] || ! [ -d "$npm_prefix/node_modules/openapi-fetch" ] \
  || ! [ -d "$npm_prefix/node_modules/@types/node" ]; then
  echo "openapi-check: installing ${npm_tools[*]} into $npm_prefix"
  mkdir -p "$npm_prefix"
  npm install --silent --no-audit --no-fund --prefix "$npm_prefix" "${npm_tools[@]}"
fi
bin="$npm_prefix/node_modules/.bin"

# shellcheck source=scripts/lib/live-server.sh
. scripts/lib/live-server.sh
live_server_start WIZREG_AUTH=api-key
doc="$work/openapi.json"
curl --silent --fail "$base/openapi.json" >"$doc"

echo "openapi-check: openapi-spec-validator"
"$venv/bin/openapi-spec-validator" "$doc"

echo "openapi-check: redocly lint (recommended-strict)"
# Without the boxed Node.js support banner Redocly prints on some Node versions.
NO_UPDATE_NOTIFIER=1 REDOCLY_TELEMETRY=off "$bin/redocly" lint --config redocly.yaml --format stylish "$doc" 2>&1 \
  | grep -v '[║╔╚]' | grep -v '^[[:space:]]*$'

echo "openapi-check: Python client (openapi-python-client), end to end"
mkdir -p "$work/python"
"$venv/bin/openapi-python-client" generate --path "$doc" --meta none --fail-on-warning \
  --output-path "$work/python/wizreg_client" --config scripts/openapi/python-client.yaml
PYTHONPATH="$work/python" "$venv/bin/python" scripts/openapi/client_e2e.py "$base" "$admin_token"

echo "openapi-check: TypeScript client (openapi-typescript + openapi-fetch), tsc --strict, end to end"
ts="$work/ts"
mkdir -p "$ts"
"$bin/openapi-typescript" "$doc" --output "$ts/schema.d.ts" --silent
cp scripts/openapi/client_e2e.mts scripts/openapi/tsconfig.json "$ts/"
ln -s "$npm_prefix/node_modules" "$ts/node_modules"
"$bin/tsc" --project "$ts/tsconfig.json"
node "$ts/out/client_e2e.mjs" "$base" "$admin_token"

live_server_check_log openapi-check
echo "openapi-check: ok"
