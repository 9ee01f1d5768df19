"""``@job`` and JobDefinition: a DAG of nodes (ops, or assets for asset jobs)
with its executor, resources, tags and default run config."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from locus.definitions.composition import NodeSpec
from locus.definitions.errors import DefinitionError
from locus.definitions.executors import ExecutorDefinition
from locus.definitions.graph import compose
from locus.definitions.ops import coerce_tags, docstring, validate_name
from locus.definitions.resources import resources_by_key

if TYPE_CHECKING:
    from locus.definitions.asset_graph import AssetGraph
    from locus.definitions.assets import AssetsDefinition


@dataclass(frozen=True, eq=False)
class JobDefinition:
    name: str
    nodes: Mapping[str, NodeSpec]
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    executor_def: ExecutorDefinition | None = None
    resource_defs: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] | None = None
    # Asset jobs: which asset each node materialises, and the whole asset
    # graph (so inputs from assets outside the selection can be loaded).
    asset_nodes: Mapping[str, AssetsDefinition] = field(default_factory=dict)
    asset_graph: AssetGraph | None = None

    @staticmethod
    def create(
        *,
        name: str,
        nodes: Mapping[str, NodeSpec],
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        executor_def: ExecutorDefinition | None = None,
        resource_defs: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        asset_nodes: Mapping[str, AssetsDefinition] | None = None,
        asset_graph: AssetGraph | None = None,
    ) -> JobDefinition:
        validate_name(name, "job")
        if executor_def is not None and not isinstance(executor_def, ExecutorDefinition):
            raise DefinitionError(
                f"job '{name}': executor_def must be an executor such as multiprocess_executor, got {executor_def!r}"
            )
        if config is not None and not isinstance(config, Mapping):
            raise DefinitionError(f"job '{name}': config must be a run config mapping, got {config!r}")
        return JobDefinition(
            name=name,
            nodes=dict(nodes),
            description=description,
            tags=coerce_tags(tags, f"job '{name}'"),
            executor_def=executor_def,
            resource_defs=resources_by_key(resource_defs),
            config=dict(config) if config is not None else None,
            asset_nodes=dict(asset_nodes or {}),
            asset_graph=asset_graph,
        )

    @property
    def is_asset_job(self) -> bool:
        return bool(self.asset_nodes)

    @property
    def resource_keys(self) -> frozenset[str]:
        keys: set[str] = set()
        for node in self.nodes.values():
            keys |= node.op.resource_keys
            keys |= {o.io_manager_key for o in node.op.outs.values() if o.io_manager_key}
        return frozenset(keys)

    def execute_in_process(
        self,
        run_config: Mapping[str, Any] | None = None,
        instance: Any = None,
        resources: Mapping[str, Any] | None = None,
        raise_on_error: bool = True,
        tags: Mapping[str, str] | None = None,
        op_selection: list[str] | None = None,
        run_id: str | None = None,
        parent_run_id: str | None = None,
    ) -> Any:
        """Run every step in this process and return the result (``.success``,
        ``.output_for_node(name)``, ``.all_events``)."""
        from locus.execution.api import execute_job_in_process

        return execute_job_in_process(
            self,
            run_config=run_config,
            instance=instance,
            resources=resources,
            raise_on_error=raise_on_error,
            tags=tags,
            op_selection=op_selection,
            run_id=run_id,
            parent_run_id=parent_run_id,
        )


@overload
def job(fn: Callable[..., Any]) -> JobDefinition: ...
@overload
def job(
    fn: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    executor_def: ExecutorDefinition | None = None,
    resource_defs: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], JobDefinition]: ...
def job(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    executor_def: ExecutorDefinition | None = None,
    resource_defs: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
) -> JobDefinition | Callable[[Callable[..., Any]], JobDefinition]:
    """Declare a job by calling ops inside the decorated body."""

    def decorate(f: Callable[..., Any]) -> JobDefinition:
        job_name = validate_name(name or f.__name__, "job")
        nodes, _inputs, _returned = compose(f, f"job '{job_name}'", with_inputs=False)
        return JobDefinition.create(
            name=job_name,
            nodes=nodes,
            description=description if description is not None else docstring(f),
            tags=tags,
            executor_def=executor_def,
            resource_defs=resource_defs,
            config=config,
        )

    return decorate(fn) if fn is not None else decorate
