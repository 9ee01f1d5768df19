"""Building a run's resources in the process that runs steps: config from
run config applied, EnvVars resolved, the default IO manager filled in."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from locus.definitions.errors import LocusError
from locus.definitions.io_managers import PickledFilesystemIOManager
from locus.definitions.resources import InitResourceContext, ResourceDefinition, is_configurable_resource

IO_MANAGER_KEY = "io_manager"


def _build_one(key: str, value: Any, config: Any, storage_dir: Path, run_id: str) -> Any:
    if is_configurable_resource(value):
        if config:
            value = value.configured(config)
        value = value.with_instance_defaults(str(storage_dir))
        return value.with_resolved_env(f"resources.{key}")
    if isinstance(value, ResourceDefinition):
        effective = value.fixed_config if value.fixed_config is not None else config
        return value.resource_fn(InitResourceContext(resource_config=effective, run_id=run_id))
    return value


@contextmanager
def run_resources(
    definitions: Mapping[str, Any],
    config: Mapping[str, Any],
    storage_dir: Path,
    run_id: str,
    required: frozenset[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the live resources for a run; set up and torn down around it.
    ``required`` limits building to the keys the run's steps use."""
    built: dict[str, Any] = {}
    keys = [k for k in definitions if required is None or k in required]
    try:
        for key in keys:
            try:
                built[key] = _build_one(key, definitions[key], config.get(key), storage_dir, run_id)
            except LocusError:
                raise
            except Exception as exc:
                raise LocusError(
                    f"resource '{key}' failed to initialise: {type(exc).__name__}: {exc}",
                    "check the resource's configuration and environment",
                ) from exc
            if is_configurable_resource(built[key]):
                built[key].setup_for_execution(None)
        if IO_MANAGER_KEY not in built:
            built[IO_MANAGER_KEY] = PickledFilesystemIOManager(storage_dir)
        yield built
    finally:
        for value in built.values():
            if is_configurable_resource(value):
                value.teardown_after_execution(None)
