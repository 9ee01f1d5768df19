"""A custom resource that slipped past the CRD schema (an old CRD, a
disabled validation) is reported in its status by field name, in the words
the API server would have used, instead of crashing a handler."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(kind: str, name: str, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(object)"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{path}: {message}")
    return f"{kind} {name!r} is invalid: " + "; ".join(problems) + "; fix the resource and apply it again"
