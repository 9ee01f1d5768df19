"""Label and field selectors of list, watch and deletecollection requests.

Label selectors take the full syntax: ``k=v``, ``k==v``, ``k!=v``,
``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``, comma-joined (commas inside
parentheses belong to the set). Field selectors take ``=``, ``==`` and ``!=`` on
any dotted path (``metadata.name``, ``metadata.namespace``, ``status.phase``,
``spec.nodeName``...); the real server allows fewer fields per kind, being
lenient here does no harm to a client that works against the real one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from e2e.local._apiserver_errors import bad_request

Predicate = Callable[[dict[str, Any]], bool]
_SET = re.compile(r"^\s*(?P<key>[^\s!=]+)\s+(?P<op>in|notin)\s+\((?P<values>[^)]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*(?P<key>[^\s!=]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s]*)\s*$")
_EXISTS = re.compile(r"^\s*(?P<neg>!?)\s*(?P<key>[^\s!=()]+)\s*$")


def _split_terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> Predicate:
    if match := _SET.match(term):
        key, values = match["key"], {v.strip() for v in match["values"].split(",") if v.strip()}
        if match["op"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQUALITY.match(term):
        key, value = match["key"], match["value"]
        if match["op"] == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.match(term):
        key, negated = match["key"], bool(match["neg"])
        return lambda labels: (key in labels) != negated
    raise bad_request(f"unable to parse requirement: {term!r}")


def label_selector(selector: str | None) -> Predicate:
    """A predicate over whole objects; always true for an empty selector."""
    terms = [_label_term(t) for t in _split_terms(selector or "")]
    if not terms:
        return lambda obj: True

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(term(labels) for term in terms)

    return matches


def _field_value(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def _field_term(term: str) -> Predicate:
    match = _EQUALITY.match(term)
    if not match:
        raise bad_request(f"invalid field selector: {term!r}")
    path, value, negated = match["key"], match["value"], match["op"] == "!="
    return lambda obj: (_field_value(obj, path) == value) != negated


def field_selector(selector: str | None) -> Predicate:
    terms = [_field_term(t) for t in _split_terms(selector or "")]
    return lambda obj: all(term(obj) for term in terms)


def selected(params: dict[str, str]) -> Predicate:
    """Both selectors of a request's query, as one predicate."""
    labels, fields = label_selector(params.get("labelSelector")), field_selector(params.get("fieldSelector"))
    return lambda obj: labels(obj) and fields(obj)


def selected_name(params: dict[str, str]) -> str | None:
    """The name a ``metadata.name=`` field selector pins, for an indexed lookup."""
    for term in _split_terms(params.get("fieldSelector") or ""):
        match = _EQUALITY.match(term)
        if match and match["key"] == "metadata.name" and match["op"] != "!=":
            return match["value"]
    return None
