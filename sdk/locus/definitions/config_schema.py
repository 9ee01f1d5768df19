"""Dict-style config schemas (``config_schema={"limit": int}``, ``Field``),
as used by ``@op(config_schema=...)``, ``@resource`` and executors, and the
pure validator that reports every error with its dotted path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_MISSING: Any = object()


@dataclass(frozen=True)
class Field:
    """A config field with a type, an optional default and a description."""

    config: Any
    default_value: Any = _MISSING
    is_required: bool | None = None
    description: str | None = None

    @property
    def required(self) -> bool:
        if self.is_required is not None:
            return self.is_required
        return self.default_value is _MISSING


def _type_name(schema: Any) -> str:
    if isinstance(schema, type):
        return schema.__name__
    if isinstance(schema, list):
        return f"list of {_type_name(schema[0])}" if schema else "list"
    if isinstance(schema, Mapping):
        return "mapping"
    return repr(schema)


def describe_schema(schema: Any) -> Any:
    """A JSON-serialisable description, for snapshots and `--help` output."""
    if isinstance(schema, Field):
        out = {"type": describe_schema(schema.config), "required": schema.required}
        if schema.default_value is not _MISSING:
            out["default"] = schema.default_value
        if schema.description:
            out["description"] = schema.description
        return out
    if isinstance(schema, Mapping):
        return {k: describe_schema(v) for k, v in schema.items()}
    return _type_name(schema)


def validate_config(schema: Any, value: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    """Check ``value`` against ``schema``; append (path, message) for each
    problem and return the value with defaults filled in."""
    if isinstance(schema, Field):
        return validate_config(schema.config, value, path, errors)
    if schema is Any or schema is None:
        return value
    if isinstance(schema, Mapping):
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            errors.append((path, f"expected a mapping, got {type(value).__name__} {value!r}"))
            return value
        out: dict[str, Any] = {}
        for key in value:
            if key not in schema:
                errors.append((f"{path}.{key}", f"unknown field; expected one of {sorted(schema)}"))
        for key, field_schema in schema.items():
            field = field_schema if isinstance(field_schema, Field) else Field(field_schema)
            if key in value:
                out[key] = validate_config(field.config, value[key], f"{path}.{key}", errors)
            elif field.default_value is not _MISSING:
                out[key] = field.default_value
            elif field.required and not (isinstance(field.config, Mapping) and _all_optional(field.config)):
                errors.append((f"{path}.{key}", f"missing required field of type {_type_name(field.config)}"))
            elif isinstance(field.config, Mapping):
                out[key] = validate_config(field.config, {}, f"{path}.{key}", errors)
        return out
    if isinstance(schema, list):
        if not isinstance(value, list):
            errors.append((path, f"expected a list, got {type(value).__name__} {value!r}"))
            return value
        item = schema[0] if schema else Any
        return [validate_config(item, v, f"{path}[{i}]", errors) for i, v in enumerate(value)]
    if isinstance(schema, type):
        if schema is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, bool) and schema is int:
            errors.append((path, f"expected int, got bool {value!r}"))
            return value
        if not isinstance(value, schema):
            errors.append((path, f"expected {schema.__name__}, got {type(value).__name__} {value!r}"))
        return value
    return value


def _all_optional(schema: Mapping[str, Any]) -> bool:
    return all(isinstance(f, Field) and not f.required for f in schema.values())
