"""``@graph``: a reusable composition of ops, invoked inside jobs (its nodes
are inlined as ``<graph>.<op>``) or turned into a job with ``to_job``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

from locus.definitions import composition
from locus.definitions.composition import FromGraphInput, FromOutput, NodeSpec
from locus.definitions.errors import DefinitionError
from locus.definitions.ops import docstring, validate_name

if TYPE_CHECKING:
    from locus.definitions.executors import ExecutorDefinition
    from locus.definitions.jobs import JobDefinition


@dataclass(frozen=True, eq=False)
class GraphDefinition:
    name: str
    nodes: Mapping[str, NodeSpec]
    input_names: tuple[str, ...] = ()
    output_map: Mapping[str, FromOutput] = field(default_factory=dict)
    description: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = composition.current_builder()
        if builder is None:
            raise DefinitionError(
                f"graph '{self.name}' was called outside a @job or @graph body",
                "call it inside a job body, or turn it into a job with .to_job()",
            )
        return builder.invoke_graph(self, self.name, args, kwargs)

    def to_job(
        self,
        name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        executor_def: ExecutorDefinition | None = None,
        resource_defs: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> JobDefinition:
        from locus.definitions.jobs import JobDefinition

        if self.input_names:
            raise DefinitionError(f"graph '{self.name}' has inputs {list(self.input_names)}; a job cannot")
        return JobDefinition.create(
            name=name or self.name,
            nodes=self.nodes,
            description=description or self.description,
            tags=tags,
            executor_def=executor_def,
            resource_defs=resource_defs,
            config=config,
        )


def compose(
    fn: Callable[..., Any], owner: str, with_inputs: bool
) -> tuple[dict[str, NodeSpec], tuple[str, ...], Any]:
    """Run a body under a composition builder; returns nodes, input names, return value."""
    params = tuple(inspect.signature(fn).parameters) if with_inputs else ()
    if not with_inputs and inspect.signature(fn).parameters:
        raise DefinitionError(f"{owner}: a @job body takes no parameters", "compose ops inside the body")
    with composition.composing(owner) as builder:
        returned = fn(*(FromGraphInput(p) for p in params))
    if not builder.nodes:
        raise DefinitionError(f"{owner} calls no ops", "call at least one op inside the body")
    return builder.nodes, params, returned


def _output_map(owner: str, returned: Any) -> dict[str, FromOutput]:
    if returned is None:
        return {}
    if isinstance(returned, FromOutput):
        return {"result": returned}
    if isinstance(returned, Mapping) and all(isinstance(v, FromOutput) for v in returned.values()):
        return dict(returned)
    raise DefinitionError(
        f"{owner} returns {returned!r}",
        "return one op output, or a dict of output name to op output",
    )


@overload
def graph(fn: Callable[..., Any]) -> GraphDefinition: ...
@overload
def graph(
    fn: None = None, *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], GraphDefinition]: ...
def graph(
    fn: Callable[..., Any] | None = None, *, name: str | None = None, description: str | None = None
) -> GraphDefinition | Callable[[Callable[..., Any]], GraphDefinition]:
    def decorate(f: Callable[..., Any]) -> GraphDefinition:
        graph_name = validate_name(name or f.__name__, "graph")
        owner = f"graph '{graph_name}'"
        nodes, inputs, returned = compose(f, owner, with_inputs=True)
        return GraphDefinition(
            graph_name, nodes, inputs, _output_map(owner, returned), description or docstring(f)
        )

    return decorate(fn) if fn is not None else decorate
