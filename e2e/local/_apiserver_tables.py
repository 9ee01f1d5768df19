"""Server-side printing: ``meta.k8s.io/v1`` Tables for ``kubectl get``.

kubectl asks with ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and
prints whatever columns the server answers; for custom resources these are the
CRD's ``additionalPrinterColumns``, evaluated with the small JSONPath subset
CRDs use (``.a.b``, ``[0]``, ``[*]``, ``[?(@.type=="Ready")]``). Like the real
server, the first column is NAME, and a ``date`` column's cell is already the
age (``5m``), which kubectl prints as it is. Rows carry the object's metadata
(``includeObject=Metadata``, kubectl's default), from which kubectl takes the
NAMESPACE column of ``-A``.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from e2e.local._apiserver_resources import Column, ResourceType

_TOKEN = re.compile(r"\.(?P<field>[A-Za-z0-9_$-]+)|\[(?P<index>-?\d+|\*)\]|\['(?P<quoted>[^']*)'\]"
                    r"|\[\?\(@(?P<path>(?:\.[A-Za-z0-9_-]+)+)\s*(?:(?P<op>==|!=)\s*(?P<value>[^)]*?))?\s*\)\]")
NAME_COLUMN = {"name": "Name", "type": "string", "format": "name", "priority": 0,
               "description": "Name must be unique within a namespace."}


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in "\"'" and text[-1:] == text[:1]:
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _walk(node: Any, path: str) -> Any:
    for part in path.strip(".").split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _step(nodes: list[Any], match: re.Match[str]) -> list[Any]:
    out: list[Any] = []
    for node in nodes:
        if match["field"] is not None or match["quoted"] is not None:
            key = match["field"] if match["field"] is not None else match["quoted"]
            if isinstance(node, dict) and key in node:
                out.append(node[key])
        elif match["index"] is not None and isinstance(node, list):
            if match["index"] == "*":
                out.extend(node)
            elif -len(node) <= int(match["index"]) < len(node):
                out.append(node[int(match["index"])])
        elif match["path"] is not None:
            items = node if isinstance(node, list) else list(node.values()) if isinstance(node, dict) else []
            out.extend(item for item in items if _keeps(item, match))
        elif isinstance(node, dict) and match["index"] == "*":
            out.extend(node.values())
    return out


def _keeps(item: Any, match: re.Match[str]) -> bool:
    value = _walk(item, match["path"])
    if match["op"] is None:
        return value is not None
    return bool(value == _literal(match["value"])) == (match["op"] == "==")


def jsonpath(obj: Any, expression: str) -> list[Any]:
    """All results of a JSONPath (``{...}`` braces optional); empty when nothing matches."""
    expression = expression.strip()
    if expression.startswith("{") and expression.endswith("}"):
        expression = expression[1:-1]
    expression = expression.removeprefix("$")
    nodes, position = [obj], 0
    for match in _TOKEN.finditer(expression):
        if match.start() != position:
            return []
        nodes, position = _step(nodes, match), match.end()
    return nodes if position == len(expression) else []


def cell(column: Column, obj: dict[str, Any]) -> Any:
    if column.compute is not None:
        return column.compute(obj)
    results = jsonpath(obj, column.json_path or "")
    if not results or results[0] is None:
        return None
    value = results[0]
    if column.type == "date" and isinstance(value, str):
        return age(value)
    return _as_string(value) if column.type == "string" else value


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration``: 45s, 2m30s, 5h10m, 3d4h, 1y20d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 120:
        return f"{max(s, 0)}s"
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 730:
        return f"{days}d"
    if days < 2920:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def age(timestamp: str) -> str:
    try:
        then = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return human_duration((datetime.datetime.now(datetime.UTC) - then).total_seconds())


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _column_definition(column: Column) -> dict[str, Any]:
    return {"name": column.name, "type": column.type, "format": column.format, "description": column.description,
            "priority": column.priority}


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def row_object(obj: dict[str, Any], include: str) -> dict[str, Any] | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}


def table(rt: ResourceType, objects: list[dict[str, Any]], meta: dict[str, Any], include: str = "Metadata",
          with_columns: bool = True) -> dict[str, Any]:
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [obj["metadata"]["name"], *(cell(c, obj) for c in rt.columns)]}
        included = row_object(obj, include)
        if included is not None:
            row["object"] = included
        rows.append(row)
    columns = [NAME_COLUMN, *map(_column_definition, rt.columns)] if with_columns else []
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": columns,
            "rows": rows}
