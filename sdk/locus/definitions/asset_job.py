"""``define_asset_job``: a job over a selection of assets, resolved against
the location's asset graph when Definitions is built."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from locus.definitions.asset_graph import AssetGraph
from locus.definitions.asset_key import AssetKey
from locus.definitions.composition import FromAsset, FromOutput, InputSource, NodeSpec
from locus.definitions.errors import DefinitionError
from locus.definitions.executors import ExecutorDefinition
from locus.definitions.jobs import JobDefinition
from locus.definitions.ops import coerce_tags, validate_name
from locus.definitions.selection import AssetSelection, coerce_selection

IMPLICIT_ASSET_JOB = "__ASSET_JOB"


@dataclass(frozen=True, eq=False)
class UnresolvedAssetJobDefinition:
    name: str
    selection: AssetSelection
    executor_def: ExecutorDefinition | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, Any] | None = None
    description: str | None = None

    def resolve(self, graph: AssetGraph, resource_defs: Mapping[str, Any] | None = None) -> JobDefinition:
        keys = self.selection.resolve(graph)
        if not keys:
            raise DefinitionError(
                f"asset job '{self.name}': its selection matches no assets",
                "check the group names or keys in the selection",
            )
        return build_asset_job(
            self.name,
            graph,
            keys,
            executor_def=self.executor_def,
            tags=self.tags,
            config=self.config,
            description=self.description,
            resource_defs=resource_defs,
        )


def build_asset_job(
    name: str,
    graph: AssetGraph,
    keys: Iterable[AssetKey],
    *,
    executor_def: ExecutorDefinition | None = None,
    tags: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    description: str | None = None,
    resource_defs: Mapping[str, Any] | None = None,
) -> JobDefinition:
    """A job whose nodes materialise ``keys`` in dependency order. Inputs from
    selected upstreams pass step to step; others load through the upstream's
    IO manager."""
    ordered = graph.toposort(keys)
    selected = set(ordered)
    nodes: dict[str, NodeSpec] = {}
    asset_nodes = {}
    for key in ordered:
        a = graph.by_key[key]
        inputs: dict[str, InputSource] = {}
        for param, up in a.input_keys.items():
            inputs[param] = (
                FromOutput(graph.by_key[up].node_name, "result") if up in selected else FromAsset(up)
            )
        after = tuple(graph.by_key[d].node_name for d in a.dep_keys if d in selected)
        nodes[a.node_name] = NodeSpec(a.node_name, a.op, inputs, after)
        asset_nodes[a.node_name] = a
    return JobDefinition.create(
        name=name,
        nodes=nodes,
        description=description,
        tags=tags,
        executor_def=executor_def,
        resource_defs=resource_defs,
        config=config,
        asset_nodes=asset_nodes,
        asset_graph=graph,
    )


def define_asset_job(
    name: str,
    selection: Any = None,
    config: Mapping[str, Any] | None = None,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    executor_def: ExecutorDefinition | None = None,
) -> UnresolvedAssetJobDefinition:
    """A job that materialises the selected assets (all assets if no selection)."""
    validate_name(name, "job")
    return UnresolvedAssetJobDefinition(
        name=name,
        selection=coerce_selection(selection) if selection is not None else AssetSelection.all(),
        executor_def=executor_def,
        tags=coerce_tags(tags, f"job '{name}'"),
        config=config,
        description=description,
    )
