"""Locus: assets, ops, jobs, schedules and sensors with Dagster's names and
call shapes. ``import locus as dg`` is all a Dagster program needs to change.

Names backed by pydantic or SQLAlchemy load on first use, so that
``import locus`` stays fast: user code imports it at every process start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from locus.definitions.asset_graph import AssetGraph
from locus.definitions.asset_job import define_asset_job
from locus.definitions.asset_key import AssetKey
from locus.definitions.assets import AssetIn, AssetsDefinition, MaterializeResult, asset
from locus.definitions.config_schema import Field
from locus.definitions.env_var import EnvVar
from locus.definitions.errors import (
    CodeLoadError,
    DefinitionError,
    ExecutionError,
    LocusError,
    RunConfigError,
    SelectionError,
)
from locus.definitions.executors import (
    ExecutorDefinition,
    in_process_executor,
    k8s_job_executor,
    multiprocess_executor,
)
from locus.definitions.graph import GraphDefinition, graph
from locus.definitions.io_managers import InMemoryIOManager, InputContext, IOManager, OutputContext
from locus.definitions.jobs import JobDefinition, job
from locus.definitions.load import load_assets_from_modules
from locus.definitions.ops import In, OpDefinition, Out, Output, op
from locus.definitions.registry import Definitions
from locus.definitions.resources import InitResourceContext, ResourceDefinition, resource
from locus.definitions.retry import Backoff, Jitter, RetryPolicy
from locus.definitions.run_request import DefaultScheduleStatus, DefaultSensorStatus, RunRequest, SkipReason
from locus.definitions.schedules import (
    ScheduleDefinition,
    ScheduleEvaluationContext,
    build_schedule_context,
    schedule,
)
from locus.definitions.selection import AssetSelection
from locus.definitions.sensors import (
    SensorDefinition,
    SensorEvaluationContext,
    build_sensor_context,
    sensor,
)
from locus.execution.api import materialize
from locus.execution.context import AssetExecutionContext, OpExecutionContext
from locus.execution.events import Event, EventType, RunStatus
from locus.execution.result import ExecutionResult

if TYPE_CHECKING:
    from locus.definitions.configurable import (
        Config,
        ConfigurableIOManager,
        ConfigurableResource,
        FilesystemIOManager,
        PermissiveConfig,
    )
    from locus.instance.instance import LocusInstance

__version__ = "0.1.0"

_LAZY = {
    "Config": "locus.definitions.configurable",
    "PermissiveConfig": "locus.definitions.configurable",
    "ConfigurableResource": "locus.definitions.configurable",
    "ConfigurableIOManager": "locus.definitions.configurable",
    "FilesystemIOManager": "locus.definitions.configurable",
    "LocusInstance": "locus.instance.instance",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'locus' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


__all__ = [
    "AssetExecutionContext",
    "AssetGraph",
    "AssetIn",
    "AssetKey",
    "AssetSelection",
    "AssetsDefinition",
    "Backoff",
    "CodeLoadError",
    "Config",
    "ConfigurableIOManager",
    "ConfigurableResource",
    "DefaultScheduleStatus",
    "DefaultSensorStatus",
    "DefinitionError",
    "Definitions",
    "EnvVar",
    "Event",
    "EventType",
    "ExecutionError",
    "ExecutionResult",
    "ExecutorDefinition",
    "Field",
    "FilesystemIOManager",
    "GraphDefinition",
    "IOManager",
    "In",
    "InMemoryIOManager",
    "InitResourceContext",
    "InputContext",
    "Jitter",
    "JobDefinition",
    "LocusError",
    "LocusInstance",
    "MaterializeResult",
    "OpDefinition",
    "OpExecutionContext",
    "Out",
    "Output",
    "OutputContext",
    "PermissiveConfig",
    "ResourceDefinition",
    "RetryPolicy",
    "RunConfigError",
    "RunRequest",
    "RunStatus",
    "ScheduleDefinition",
    "ScheduleEvaluationContext",
    "SelectionError",
    "SensorDefinition",
    "SensorEvaluationContext",
    "SkipReason",
    "asset",
    "build_schedule_context",
    "build_sensor_context",
    "define_asset_job",
    "graph",
    "in_process_executor",
    "job",
    "k8s_job_executor",
    "load_assets_from_modules",
    "materialize",
    "multiprocess_executor",
    "op",
    "resource",
    "schedule",
    "sensor",
]
