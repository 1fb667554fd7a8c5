#!/usr/bin/env python3
"""Checks that docs/openapi.json is clean for client generators, and writes the copy the
Python generator reads.

    spec_check.py SPEC [--normalized OUT]

Errors (exit 1): an operation without an operationId or a tag, two operations with one
operationId, a 4xx/5xx response that is not the shared `ErrorBody`, a request or response
body or a property that is an anonymous inline object instead of a named schema, a `$ref` to a
schema that does not exist.

Known problems that are worked around (printed as `spec workaround:` lines, never silent):

* a property whose type is a named schema and that has its own description comes out of
  poem-openapi as `{"description": d, "allOf": [{"$ref": X}, {"description": d}]}` (OpenAPI 3.0
  ignores siblings of `$ref`). openapi-typescript reads it as `X & unknown` (= X, lossless);
  openapi-python-client turns it into a new anonymous model per property (`CreatedTenantTenant`
  instead of `TenantDto`), and for an enum X it drops the whole enclosing schema ("Cannot take
  allOf a non-object"). The normalized copy replaces the wrapper with the plain `{"$ref": X}`;
  only the property's own description is lost.

Standard library only, so it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
ERROR_REF = "#/components/schemas/ErrorBody"


def is_ref_with_description(schema: object) -> str | None:
    """The `$ref` of a poem-openapi description wrapper, else None."""
    if not isinstance(schema, dict) or set(schema) - {"description", "allOf"}:
        return None
    parts = schema.get("allOf")
    if not isinstance(parts, list) or len(parts) != 2:
        return None
    ref, extra = parts
    if not (isinstance(ref, dict) and set(ref) == {"$ref"}):
        return None
    if not (isinstance(extra, dict) and set(extra) <= {"description"}):
        return None
    return ref["$ref"]


def is_inline_object(schema: object) -> bool:
    return isinstance(schema, dict) and "$ref" not in schema and (
        schema.get("type") == "object" or "properties" in schema
    )


def media_schemas(content: dict) -> list[tuple[str, object]]:
    return [(media, body.get("schema")) for media, body in (content or {}).items()]


def check(spec: dict) -> tuple[list[str], list[str], dict]:
    """Returns (errors, workarounds, normalized spec)."""
    errors: list[str] = []
    workarounds: list[str] = []
    normalized = copy.deepcopy(spec)
    schemas = spec.get("components", {}).get("schemas", {})

    def check_ref(ref: str, where: str) -> None:
        if not ref.startswith("#/components/schemas/") or ref.rsplit("/", 1)[1] not in schemas:
            errors.append(f"{where}: $ref {ref} names no schema in components")

    def check_body_schema(schema: object, where: str) -> None:
        if isinstance(schema, dict) and "$ref" in schema:
            check_ref(schema["$ref"], where)
        elif is_inline_object(schema):
            errors.append(f"{where}: anonymous inline object; make it a named schema")
        elif isinstance(schema, dict) and schema.get("type") == "array":
            check_body_schema(schema.get("items"), where + " items")

    # Operations.
    seen: dict[str, str] = {}
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            op_id = op.get("operationId")
            if not op_id:
                errors.append(f"{where}: no operationId")
            elif op_id in seen:
                errors.append(f"{where}: operationId {op_id!r} also used by {seen[op_id]}")
            else:
                seen[op_id] = where
            if not op.get("tags"):
                errors.append(f"{where}: no tag")
            body = op.get("requestBody")
            if body:
                for media, schema in media_schemas(body.get("content")):
                    check_body_schema(schema, f"{where} request body ({media})")
            for status, response in op.get("responses", {}).items():
                content = response.get("content")
                if status.startswith(("4", "5")):
                    if not content:
                        errors.append(f"{where} {status}: error response without a body")
                    for media, schema in media_schemas(content):
                        if schema != {"$ref": ERROR_REF}:
                            errors.append(
                                f"{where} {status} ({media}): not the shared ErrorBody schema"
                            )
                else:
                    for media, schema in media_schemas(content):
                        check_body_schema(schema, f"{where} {status} ({media})")

    # Named schemas: their properties must be named schemas or plain types.
    for name, schema in schemas.items():
        props = schema.get("properties", {})
        for prop, prop_schema in props.items():
            where = f"components.schemas.{name}.{prop}"
            ref = is_ref_with_description(prop_schema)
            if ref is not None:
                check_ref(ref, where)
                workarounds.append(f"{name}.{prop} ({ref.rsplit('/', 1)[1]})")
                normalized["components"]["schemas"][name]["properties"][prop] = {"$ref": ref}
                continue
            if "allOf" in prop_schema or "oneOf" in prop_schema or "anyOf" in prop_schema:
                for part in prop_schema.get("allOf", []) + prop_schema.get(
                    "oneOf", []
                ) + prop_schema.get("anyOf", []):
                    if "$ref" in part:
                        check_ref(part["$ref"], where)
            check_body_schema(prop_schema, where)
    return errors, workarounds, normalized


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--normalized", type=Path, help="write the worked-around copy here")
    parser.add_argument("--quiet", action="store_true", help="print errors only")
    args = parser.parse_args()

    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    errors, workarounds, normalized = check(spec)
    for error in errors:
        print(f"spec error: {error}", file=sys.stderr)
    if workarounds and not args.quiet:
        print(
            f"spec workaround: {len(workarounds)} $ref propert"
            f"{'y is' if len(workarounds) == 1 else 'ies are'} wrapped in allOf for a "
            f"description (fix in license-server, see examples/clients/README.md); "
            f"plain $ref for openapi-python-client: {', '.join(workarounds)}"
        )
    if errors:
        print(f"{args.spec}: {len(errors)} problem(s) for client generators", file=sys.stderr)
        return 1
    if args.normalized:
        args.normalized.parent.mkdir(parents=True, exist_ok=True)
        args.normalized.write_text(json.dumps(normalized, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
