#!/usr/bin/env bash
# Generates the Python client (package `license_server_client`) from docs/openapi.json into
# ./generated/ (not committed: see README.md) with openapi-python-client.
#
#   ./generate.sh [SPEC]
#
# Needs openapi-python-client and ruff on PATH (examples/clients/test puts its virtualenv,
# target/sdk-venv, first; when that venv exists this script uses it by itself). Fails when the
# spec is not clean for generators, when the generator prints anything but its "Generating"
# line (its warnings mean an endpoint or a model was dropped), or when it invents a model that
# is not a named schema of the spec (an anonymous inline object).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
spec=${1:-$root/docs/openapi.json}
venv=${SDK_VENV:-$root/target/sdk-venv}
if [ -x "$venv/bin/openapi-python-client" ]; then
  PATH="$venv/bin:$PATH"
fi
command -v openapi-python-client >/dev/null || {
  echo "openapi-python-client not found: run examples/clients/test, or pip install -r $here/requirements.txt" >&2
  exit 1
}
python=$(command -v python || command -v python3)

# The copy the generator reads: the spec with the known problems worked around (printed).
normalized=$here/build/openapi.json
mkdir -p "$here/build"
"$python" "$here/../spec_check.py" "$spec" --normalized "$normalized" | tee "$here/build/spec-check.txt"

out=$here/generated/license_server_client
rm -rf "$here/generated"
mkdir -p "$here/generated"
log=$here/build/generate.log
if ! openapi-python-client generate --path "$normalized" --config "$here/openapi-python-client.yaml" \
  --meta none --output-path "$out" >"$log" 2>&1; then
  cat "$log" >&2
  echo "openapi-python-client failed" >&2
  exit 1
fi
if grep -v -x -e "Generating $out" -e '' "$log" >/dev/null; then
  cat "$log" >&2
  echo "openapi-python-client printed warnings: the generated client would be lossy" >&2
  exit 1
fi

# Every generated model must be a named schema of the spec: a model the generator named itself
# comes from an anonymous inline object.
"$python" - "$normalized" "$out" <<'EOF'
import ast, json, sys
from pathlib import Path

spec, out = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2])
names = set(spec["components"]["schemas"])
tree = ast.parse((out / "models" / "__init__.py").read_text())
exported = next(
    ast.literal_eval(node.value)
    for node in tree.body
    if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets)
)
invented = sorted(set(exported) - names)
if invented:
    sys.exit(f"openapi-python-client invented models for anonymous schemas: {', '.join(invented)}")
missing = sorted(names - set(exported))
if missing:
    sys.exit(f"openapi-python-client dropped named schemas: {', '.join(missing)}")
print(f"python client: {len(exported)} models, generated into {out}")
EOF
