"""Run config validation: every problem reported at once, each with its
dotted path (``ops.filter_even_numbers.config.limit``), before a run exists."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from locus.definitions.config_schema import validate_config
from locus.definitions.errors import RunConfigError
from locus.definitions.executors import ExecutorDefinition
from locus.definitions.jobs import JobDefinition
from locus.definitions.resources import ResourceDefinition, is_configurable_resource

TOP_LEVEL_KEYS = ("ops", "resources", "execution", "loggers")


@dataclass(frozen=True)
class ResolvedRunConfig:
    op_config: Mapping[str, Any] = field(default_factory=dict)
    resource_config: Mapping[str, Any] = field(default_factory=dict)
    executor_config: Mapping[str, Any] = field(default_factory=dict)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _validate_config_class(cls: Any, value: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    from pydantic import ValidationError

    try:
        return cls.model_validate(value if value is not None else {})
    except ValidationError as exc:
        for problem in exc.errors():
            loc = ".".join(str(p) for p in problem["loc"])
            got = "" if problem["type"] == "missing" else f" (got {problem.get('input')!r})"
            errors.append((f"{path}.{loc}" if loc else path, f"{problem['msg']}{got}"))
    return None


def _section(raw: Mapping[str, Any], key: str, errors: list[tuple[str, str]]) -> Mapping[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, Mapping):
        errors.append((key, f"expected a mapping, got {type(value).__name__} {value!r}"))
        return {}
    return value


def resolve_run_config(
    job: JobDefinition,
    run_config: Mapping[str, Any] | None,
    resources: Mapping[str, Any],
    executor: ExecutorDefinition,
) -> ResolvedRunConfig:
    """Validate ``run_config`` (merged over the job's default config)."""
    raw = deep_merge(job.config or {}, run_config or {})
    errors: list[tuple[str, str]] = []
    if not isinstance(raw, Mapping):
        raise RunConfigError(job.name, [("", f"run config must be a mapping, got {raw!r}")])
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            errors.append((key, f"unknown section; expected one of {list(TOP_LEVEL_KEYS)}"))

    ops_section = _section(raw, "ops", errors)
    for name in ops_section:
        if name not in job.nodes:
            errors.append((f"ops.{name}", f"no op named '{name}' in job '{job.name}'; ops: {sorted(job.nodes)[:20]}"))
    op_config: dict[str, Any] = {}
    for name, node in job.nodes.items():
        entry = ops_section.get(name) or {}
        path = f"ops.{name}"
        if not isinstance(entry, Mapping):
            errors.append((path, f"expected a mapping with a 'config' key, got {entry!r}"))
            continue
        for extra in set(entry) - {"config", "inputs"}:
            errors.append((f"{path}.{extra}", "unknown key; expected 'config'"))
        value = entry.get("config")
        config_type = node.op.config_type
        if node.op.compute.config_class is not None:
            op_config[name] = _validate_config_class(config_type, value, f"{path}.config", errors)
        elif config_type is not None:
            op_config[name] = validate_config(config_type, value, f"{path}.config", errors)
        elif value:
            errors.append((f"{path}.config", f"op '{name}' takes no config"))

    resources_section = _section(raw, "resources", errors)
    resource_config: dict[str, Any] = {}
    for key, entry in resources_section.items():
        path = f"resources.{key}"
        if key not in resources:
            errors.append((path, f"no resource named '{key}'; resources: {sorted(resources)}"))
            continue
        value = entry.get("config") if isinstance(entry, Mapping) else None
        if not isinstance(entry, Mapping) or set(entry) - {"config"}:
            errors.append((path, "expected a mapping with a 'config' key"))
            continue
        resource = resources[key]
        if is_configurable_resource(resource):
            fields = type(resource).model_fields
            for field_name in value or {}:
                if field_name not in fields:
                    errors.append((f"{path}.config.{field_name}", f"unknown field; fields: {sorted(fields)}"))
            resource_config[key] = value or {}
        elif isinstance(resource, ResourceDefinition) and resource.config_schema is not None:
            resource_config[key] = validate_config(resource.config_schema, value, f"{path}.config", errors)
        else:
            resource_config[key] = value
    for key, resource in resources.items():
        if (
            key not in resource_config
            and isinstance(resource, ResourceDefinition)
            and resource.config_schema is not None
            and resource.fixed_config is None
        ):
            resource_config[key] = validate_config(resource.config_schema, None, f"resources.{key}.config", errors)

    execution = _section(raw, "execution", errors)
    exec_raw = deep_merge(executor.fixed_config or {}, execution.get("config") or {})
    for extra in set(execution) - {"config"}:
        errors.append((f"execution.{extra}", "unknown key; expected 'config'"))
    executor_config = validate_config(dict(executor.config_schema), exec_raw, "execution.config", errors)

    if errors:
        raise RunConfigError(job.name, errors)
    return ResolvedRunConfig(op_config, resource_config, executor_config)
