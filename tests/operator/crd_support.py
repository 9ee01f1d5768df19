"""Check custom resources the way the API server would, without one: the CRD's
openAPIV3Schema (as JSON Schema draft 4, unknown fields rejected like
`kubectl apply` with strict field validation) and its CEL rules (cel-python)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import celpy
import yaml
from jsonschema import Draft4Validator

from locus_operator.crd.build import KINDS, build_crd

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "examples" / "k8s"
PRESERVE = "x-kubernetes-preserve-unknown-fields"
RULES = "x-kubernetes-validations"


def crd_for(kind: str) -> dict[str, Any]:
    (match,) = (k for k in KINDS if k.kind == kind)
    return build_crd(match)


def schema_of(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def walk(node: dict[str, Any], path: str = "") -> Any:
    """Every schema node with its path (properties, items, additionalProperties)."""
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}.*")


def to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if "properties" in node:
        out["properties"] = {name: to_json_schema(sub) for name, sub in node["properties"].items()}
        if not node.get(PRESERVE):
            out["additionalProperties"] = False
    if isinstance(node.get("items"), dict):
        out["items"] = to_json_schema(node["items"])
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = to_json_schema(node["additionalProperties"])
    if node.get("x-kubernetes-int-or-string"):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


def cel_errors(node: dict[str, Any], value: Any, path: str = "") -> list[str]:
    errors = []
    env = celpy.Environment()
    for rule in node.get(RULES, []):
        result = env.program(env.compile(rule["rule"])).evaluate({"self": celpy.json_to_cel(value)})
        # celpy answers BoolType, or a CELEvalError when the rule cannot be evaluated.
        if not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            errors.append(f"{path or '<root>'}: {rule['message']}")
    if isinstance(value, dict):
        for name, sub in node.get("properties", {}).items():
            if name in value:
                errors += cel_errors(sub, value[name], f"{path}.{name}")
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            errors += cel_errors(node["items"], item, f"{path}[{i}]")
    return errors


def api_server_errors(cr: dict[str, Any]) -> list[str]:
    """What the API server would answer to this CR; empty when it is accepted."""
    schema = schema_of(crd_for(cr["kind"]))
    errors = [
        f".{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in Draft4Validator(to_json_schema(schema)).iter_errors(cr)
    ]
    return errors or cel_errors(schema, cr)


def load_sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SAMPLES / name).read_text())
    return data
