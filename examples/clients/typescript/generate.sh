#!/usr/bin/env bash
# Generates the TypeScript types of the API (src/generated/openapi.d.ts, not committed: see
# README.md) from docs/openapi.json with openapi-typescript; openapi-fetch turns them into a
# typed client at run time. Run `npm ci` first (examples/clients/test does).
#
#   ./generate.sh [SPEC]
#
# Fails when the spec is not clean for generators, or when openapi-typescript prints anything
# but its banner and its "→" line (a warning).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
spec=${1:-$root/docs/openapi.json}
cd "$here"
[ -x node_modules/.bin/openapi-typescript ] || { echo "run npm ci in $here first" >&2; exit 1; }

python3 "$here/../spec_check.py" "$spec" --quiet

mkdir -p build src/generated
out=src/generated/openapi.ts
log=build/generate.log
# --default-non-nullable=false: openapi-typescript 7 makes every property with a `default`
# required, request bodies included (CreateLicenseRequest.overdraft, .entitlements); the spec
# says they are optional, and so do the generated types with this flag.
if ! NO_COLOR=1 node_modules/.bin/openapi-typescript "$spec" --output "$out" \
  --default-non-nullable=false >"$log" 2>&1; then
  cat "$log" >&2
  echo "openapi-typescript failed" >&2
  exit 1
fi
if grep -v -e '^✨ openapi-typescript ' -e '^🚀 .* → .*'"$out" -e '^$' "$log" >/dev/null; then
  cat "$log" >&2
  echo "openapi-typescript printed warnings: the generated types would be lossy" >&2
  exit 1
fi
echo "typescript client: generated into $here/$out"
