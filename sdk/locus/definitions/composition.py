"""Tracing ``@job`` / ``@graph`` bodies: while a body runs, calling an op
records a node and returns handles to its outputs instead of running it."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from locus.definitions.asset_key import AssetKey
from locus.definitions.errors import DefinitionError

if TYPE_CHECKING:
    from locus.definitions.graph import GraphDefinition
    from locus.definitions.ops import OpDefinition


@dataclass(frozen=True)
class FromOutput:
    node: str
    output: str


@dataclass(frozen=True)
class FromOutputs:
    """Fan-in: the input receives a list of upstream outputs."""

    sources: tuple[FromOutput, ...]


@dataclass(frozen=True)
class FromGraphInput:
    name: str


@dataclass(frozen=True)
class FromAsset:
    """An asset input whose upstream is not in this run: loaded by its IO manager."""

    key: AssetKey


InputSource = Union[FromOutput, FromOutputs, FromGraphInput, FromAsset]  # noqa: UP007 - runtime alias


@dataclass(frozen=True)
class NodeSpec:
    """One op invocation in a composed graph, named uniquely within it."""

    name: str
    op: OpDefinition
    inputs: Mapping[str, InputSource]
    # Nodes that must finish first without passing data (``deps=[...]``).
    after: tuple[str, ...] = ()


_builders: list[CompositionBuilder] = []


def current_builder() -> CompositionBuilder | None:
    return _builders[-1] if _builders else None


@contextmanager
def composing(owner: str) -> Iterator[CompositionBuilder]:
    builder = CompositionBuilder(owner)
    _builders.append(builder)
    try:
        yield builder
    finally:
        _builders.pop()


class CompositionBuilder:
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.nodes: dict[str, NodeSpec] = {}
        self._uses: dict[str, int] = {}

    def _unique_name(self, name: str) -> str:
        count = self._uses.get(name, 0) + 1
        self._uses[name] = count
        unique = name if count == 1 else f"{name}_{count}"
        while unique in self.nodes:
            count += 1
            unique = f"{name}_{count}"
        return unique

    def _source(self, value: Any, where: str) -> InputSource:
        if isinstance(value, FromOutput | FromGraphInput):
            return value
        if isinstance(value, list | tuple) and value and all(isinstance(v, FromOutput) for v in value):
            return FromOutputs(tuple(value))
        raise DefinitionError(
            f"{self.owner}: {where} was given {value!r}; inside a @job or @graph body an input "
            "must be the output of another op (or a graph input)",
            "pass constants through op config instead of as call arguments",
        )

    def _bind(
        self,
        names: Sequence[str],
        defaults: Mapping[str, bool],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        what: str,
    ) -> dict[str, InputSource]:
        if len(args) > len(names):
            raise DefinitionError(
                f"{self.owner}: {what} takes {len(names)} inputs {list(names)} but was called with {len(args)}"
            )
        bound = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names:
                raise DefinitionError(
                    f"{self.owner}: {what} has no input named '{key}' (inputs: {list(names)})"
                )
            if key in bound:
                raise DefinitionError(f"{self.owner}: {what} got input '{key}' twice")
            bound[key] = value
        missing = [n for n in names if n not in bound and not defaults.get(n)]
        if missing:
            raise DefinitionError(
                f"{self.owner}: {what} is called without its inputs {missing}",
                "pass the output of an upstream op for each input",
            )
        return {k: self._source(v, f"input '{k}' of {what}") for k, v in bound.items()}

    def invoke(
        self, op_def: OpDefinition, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> Any:
        node_name = self._unique_name(name)
        defaults = {k: v.has_default for k, v in op_def.ins.items()}
        inputs = self._bind(op_def.input_names, defaults, args, kwargs, f"op '{node_name}'")
        self.nodes[node_name] = NodeSpec(node_name, op_def, inputs)
        return _handles(node_name, op_def.output_names)

    def invoke_graph(
        self, graph: GraphDefinition, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> Any:
        prefix = self._unique_name(name)
        given = self._bind(graph.input_names, {}, args, kwargs, f"graph '{prefix}'")

        def remap(source: InputSource) -> InputSource:
            if isinstance(source, FromGraphInput):
                return given[source.name]
            if isinstance(source, FromOutput):
                return FromOutput(f"{prefix}.{source.node}", source.output)
            if isinstance(source, FromAsset):
                return source
            return FromOutputs(tuple(FromOutput(f"{prefix}.{s.node}", s.output) for s in source.sources))

        for node in graph.nodes.values():
            inner = f"{prefix}.{node.name}"
            self.nodes[inner] = NodeSpec(inner, node.op, {k: remap(v) for k, v in node.inputs.items()})
        outputs = {k: FromOutput(f"{prefix}.{v.node}", v.output) for k, v in graph.output_map.items()}
        if not outputs:
            return None
        if list(outputs) == ["result"]:
            return outputs["result"]
        return namedtuple("GraphOutputs", list(outputs))(**outputs)


def _handles(node: str, outputs: Sequence[str]) -> Any:
    if len(outputs) == 1:
        return FromOutput(node, outputs[0])
    handles = [FromOutput(node, o) for o in outputs]
    outputs_type: Any = namedtuple("OpOutputs", list(outputs))  # type: ignore[misc]  # names known at run time
    return outputs_type(*handles)
