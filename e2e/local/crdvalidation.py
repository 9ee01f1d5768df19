"""Admit a custom resource the way the API server does, from its CRD's schema.

The steps are the real server's: prune fields the structural schema does not
know (or, with ``fieldValidation=Strict``, report them), apply ``default:``
values, validate against the ``openAPIV3Schema`` (OpenAPI v3.0 is JSON Schema
draft 4 plus ``nullable`` and the ``x-kubernetes-*`` extensions), then evaluate
the ``x-kubernetes-validations`` CEL rules with cel-python. Problems come back
as Kubernetes status causes, worded like the real server's so that messages
such as ``spec.image: Required value`` name the field.

Used by the local API server (``e2e/local/apiserver.py``) and by the operator's
CRD tests (``tests/operator/crd_support.py``), which check sample resources
without any server.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError

PRESERVE = "x-kubernetes-preserve-unknown-fields"
RULES = "x-kubernetes-validations"
EMBEDDED = "x-kubernetes-embedded-resource"
INT_OR_STRING = "x-kubernetes-int-or-string"
ALWAYS_KEPT = ("apiVersion", "kind", "metadata")
Cause = dict[str, str]


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path (properties, items, additionalProperties)."""
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}.*")


def to_json_schema(node: dict[str, Any], closed: bool = False) -> dict[str, Any]:
    """The structural schema as draft-4 JSON Schema; ``closed`` rejects unknown properties."""
    out = {k: v for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if "properties" in node:
        out["properties"] = {name: to_json_schema(sub, closed) for name, sub in node["properties"].items()}
        if closed and not node.get(PRESERVE):
            out["additionalProperties"] = False
    if isinstance(node.get("items"), dict):
        out["items"] = to_json_schema(node["items"], closed)
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = to_json_schema(node["additionalProperties"], closed)
    if node.get(INT_OR_STRING):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def field_path(parts: Any) -> str:
    """``spec.env[0].name`` from path parts; ``<nil>`` for the root, as the server writes it."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "<nil>"


def _join(path: str, part: str | int) -> str:
    base = "" if path == "<nil>" else path
    return f"{base}[{part}]" if isinstance(part, int) else f"{base}.{part}".lstrip(".")


# Pruning and defaulting
def prune(value: Any, node: dict[str, Any], path: str = "<nil>", root: bool = True) -> tuple[Any, list[str]]:
    """The value without fields its schema does not declare, and those fields' paths."""
    unknown: list[str] = []
    if isinstance(value, dict) and ("properties" in node or "additionalProperties" in node):
        props, extra = node.get("properties", {}), node.get("additionalProperties")
        kept = {}
        for key, sub in value.items():
            if (root or node.get(EMBEDDED)) and key in ALWAYS_KEPT:
                kept[key] = sub
            elif key in props:
                kept[key], found = prune(sub, props[key], _join(path, key), False)
                unknown += found
            elif isinstance(extra, dict):
                kept[key], found = prune(sub, extra, _join(path, key), False)
                unknown += found
            elif node.get(PRESERVE) or extra is True:
                kept[key] = sub
            else:
                unknown.append(_join(path, key))
        return kept, unknown
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        pruned = [prune(item, node["items"], _join(path, i), False) for i, item in enumerate(value)]
        return [item for item, _ in pruned], [u for _, found in pruned for u in found]
    return value, unknown


def apply_defaults(value: Any, node: dict[str, Any]) -> Any:
    """The value with the schema's ``default:`` values filled in where a field is absent."""
    if isinstance(value, dict):
        out = dict(value)
        for key, sub in node.get("properties", {}).items():
            if "default" in sub and (key not in out or (out[key] is None and not sub.get("nullable"))):
                out[key] = copy.deepcopy(sub["default"])
            if key in out:
                out[key] = apply_defaults(out[key], sub)
        if isinstance(node.get("additionalProperties"), dict):
            props = node.get("properties", {})
            out = {k: v if k in props else apply_defaults(v, node["additionalProperties"]) for k, v in out.items()}
        return out
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [apply_defaults(item, node["items"]) for item in value]
    return value


# Schema validation
def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return json.dumps(value)


def _type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object", list: "array"}
    return names.get(type(value), "null")


def _cause(error: ValidationError) -> Cause:
    path, value, expected = field_path(error.absolute_path), error.instance, error.validator_value
    where = f"{path} in body"
    match error.validator:
        case "required":
            missing = re.match(r"'(.+)' is a required property", error.message)
            name = missing.group(1) if missing else str(expected)
            return {"reason": "FieldValueRequired", "field": _join(path, name), "message": "Required value"}
        case "enum":
            supported = ", ".join(json.dumps(v) for v in expected)
            return {"reason": "FieldValueNotSupported", "field": path,
                    "message": f"Unsupported value: {_shown(value)}: supported values: {supported}"}
        case "type" | "anyOf":
            wanted = "int-or-string" if error.validator == "anyOf" else expected
            text = f"{where} must be of type {wanted}: {json.dumps(_type_name(value))}"
            return {"reason": "FieldValueTypeInvalid", "field": path,
                    "message": f"Invalid value: {json.dumps(_type_name(value))}: {text}"}
    texts = {
        "minimum": f"should be greater than or equal to {expected}",
        "maximum": f"should be less than or equal to {expected}",
        "minLength": f"should be at least {expected} chars long",
        "maxLength": f"should be at most {expected} chars long",
        "minItems": f"should have at least {expected} items",
        "maxItems": f"should have at most {expected} items",
        "pattern": f"should match '{expected}'",
        "format": f"must be of type {expected}: {json.dumps(value)}",
    }
    text = f"{where} {texts[error.validator]}" if error.validator in texts else error.message
    return {"reason": "FieldValueInvalid", "field": path, "message": f"Invalid value: {_shown(value)}: {text}"}


# CEL rules
_CEL = celpy.Environment()


@functools.lru_cache(maxsize=512)
def _program(rule: str) -> Any:
    return _CEL.program(_CEL.compile(rule))


def _passes(rule: str, value: Any, old: Any) -> bool:
    activation = {"self": json_to_cel(value)}
    if old is not None:
        activation["oldSelf"] = json_to_cel(old)
    result = _program(rule).evaluate(activation)
    # celpy answers BoolType, or a CELEvalError when the rule cannot be evaluated.
    return isinstance(result, celpy.celtypes.BoolType) and bool(result)


def _rule_cause(rule: dict[str, Any], value: Any, path: str) -> Cause:
    where = _join(path, rule["fieldPath"].lstrip(".")) if rule.get("fieldPath") else path
    message = rule.get("message") or f"failed rule: {rule['rule']}"
    return {"reason": rule.get("reason", "FieldValueInvalid"), "field": where,
            "message": f"Invalid value: {_shown(value)}: {message}"}


def cel_causes(node: dict[str, Any], value: Any, old: Any = None, path: str = "<nil>") -> list[Cause]:
    """The failed ``x-kubernetes-validations`` rules; transition rules (``oldSelf``) only on update.

    Like the real server's validation ratcheting, an update does not re-check a value it leaves
    unchanged, so a status write does not evaluate the rules of the spec (celpy is slow: ~1 ms a rule).
    """
    if old is not None and value == old:
        return []
    causes = [_rule_cause(rule, value, path) for rule in node.get(RULES, [])
              if (old is not None or "oldSelf" not in rule["rule"]) and not _passes(rule["rule"], value, old)]
    if isinstance(value, dict):
        for name, sub in node.get("properties", {}).items():
            if name in value:
                old_sub = old.get(name) if isinstance(old, dict) else None
                causes += cel_causes(sub, value[name], old_sub, _join(path, name))
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            causes += cel_causes(node["items"], item, None, _join(path, i))
    return causes


@dataclass
class Admission:
    """The object as it would be stored, with what is wrong with it."""

    obj: dict[str, Any]
    causes: list[Cause] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)


class CrdSchema:
    """One CRD version's ``openAPIV3Schema``, compiled once."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._validator = Draft4Validator(to_json_schema(schema))

    def admit(self, obj: dict[str, Any], old: dict[str, Any] | None = None, defaults: bool = True) -> Admission:
        pruned, unknown = prune(obj, self.schema)
        admitted = apply_defaults(pruned, self.schema) if defaults else pruned
        errors = sorted(self._validator.iter_errors(admitted), key=lambda e: field_path(e.absolute_path))
        causes = [_cause(e) for e in errors]
        if not causes:
            causes = cel_causes(self.schema, admitted, old)
        return Admission(admitted, causes, unknown)
