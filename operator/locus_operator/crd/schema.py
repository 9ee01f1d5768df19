"""Turn a pydantic model's JSON schema into a structural OpenAPI v3 schema.

Kubernetes accepts only structural schemas: every node typed (or marked
x-kubernetes-preserve-unknown-fields), no `$ref`, no types inside `anyOf`, and
OpenAPI v3.0 keywords rather than JSON Schema 2020-12 ones.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# Dropped: noise for `kubectl explain` or meaningless in a CRD.
_DROPPED = frozenset({"title", "additionalProperties"})
# Not allowed in a CRD schema; reaching one means a model needs WithJsonSchema.
FORBIDDEN_KEYWORDS = frozenset(
    {"$ref", "$defs", "$schema", "definitions", "dependencies", "patternProperties", "prefixItems", "id", "oneOf"}
)


class SchemaError(ValueError):
    """A model uses a construct a structural schema cannot express."""


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's schema, inlined and rewritten into the structural subset."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Any] = raw.pop("$defs", {})
    return _convert(raw, defs, model.__name__)


def _convert(node: dict[str, Any], defs: dict[str, Any], where: str) -> dict[str, Any]:
    node = _resolve(node, defs, where)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            if key == "additionalProperties" and isinstance(value, dict):
                out[key] = _convert(value, defs, f"{where}.*")
            continue
        if key in FORBIDDEN_KEYWORDS:
            raise SchemaError(f"{where}: `{key}` cannot appear in a CRD schema")
        if key == "properties":
            out[key] = {name: _convert(sub, defs, f"{where}.{name}") for name, sub in value.items()}
        elif key == "items":
            out[key] = _convert(value, defs, f"{where}[]")
        elif key == "exclusiveMinimum":
            out["minimum"], out["exclusiveMinimum"] = value, True
        elif key == "exclusiveMaximum":
            out["maximum"], out["exclusiveMaximum"] = value, True
        elif key == "const":
            out["enum"] = [value]
        elif key == "default":
            # Only scalar defaults: the API server stores them in every object.
            if value is not None and not isinstance(value, dict | list):
                out[key] = value
        else:
            out[key] = value
    if "type" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        raise SchemaError(f"{where}: no type; a structural schema needs one (or x-kubernetes-preserve-unknown-fields)")
    # Sorted keys keep the committed YAML stable across pydantic versions.
    return dict(sorted(out.items()))


def _resolve(node: dict[str, Any], defs: dict[str, Any], where: str) -> dict[str, Any]:
    """Inline `$ref`s and collapse `X | None` unions (absence is how a CR says None)."""
    while True:
        rest = dict(node)
        if "$ref" in rest:
            target = defs[rest.pop("$ref").rsplit("/", 1)[-1]]
            node = {**target, **rest}
        elif "allOf" in rest and len(rest["allOf"]) == 1:
            node = {**rest.pop("allOf")[0], **rest}
        elif "anyOf" in rest:
            variants = [v for v in rest.pop("anyOf") if v.get("type") != "null"]
            if len(variants) != 1:
                raise SchemaError(
                    f"{where}: a union of several types is not structural; annotate it with WithJsonSchema"
                )
            # The field's own keys (description, default, list markers) win over the variant's.
            node = {**variants[0], **rest}
        else:
            return node
