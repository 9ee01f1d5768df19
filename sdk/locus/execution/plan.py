"""The pure planner: a job's DAG becomes ordered steps with stable keys,
optionally narrowed to a step selection (re-execution from failure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from locus.definitions.asset_key import AssetKey
from locus.definitions.composition import FromAsset, FromOutput, FromOutputs, InputSource, NodeSpec
from locus.definitions.errors import ExecutionError
from locus.definitions.jobs import JobDefinition


@dataclass(frozen=True)
class Step:
    """One unit of execution. ``key`` is the node name: stable across runs."""

    key: str
    node: NodeSpec
    upstream: tuple[str, ...]
    asset_key: AssetKey | None

    @property
    def inputs(self) -> Mapping[str, InputSource]:
        return self.node.inputs


@dataclass(frozen=True)
class ExecutionPlan:
    job_name: str
    steps: tuple[Step, ...]

    @property
    def step_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.steps)

    def get(self, key: str) -> Step:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)


def _sources(source: InputSource) -> Iterable[FromOutput]:
    if isinstance(source, FromOutput):
        yield source
    elif isinstance(source, FromOutputs):
        yield from source.sources


def build_plan(job: JobDefinition, step_selection: Sequence[str] | None = None) -> ExecutionPlan:
    """Steps in dependency order (ties keep definition order). With a step
    selection, inputs from unselected steps are loaded from their stored
    outputs (the parent run's, for re-execution)."""
    if step_selection is not None:
        unknown = sorted(set(step_selection) - set(job.nodes))
        if unknown:
            raise ExecutionError(f"job '{job.name}' has no steps {unknown}", f"steps are: {sorted(job.nodes)[:30]}")
    selected = set(job.nodes) if step_selection is None else set(step_selection)
    upstream: dict[str, tuple[str, ...]] = {}
    for name, node in job.nodes.items():
        ups = [s.node for src in node.inputs.values() for s in _sources(src)]
        ups.extend(node.after)
        upstream[name] = tuple(dict.fromkeys(u for u in ups if u in selected))
    order: list[str] = []
    done: set[str] = set()
    for root in job.nodes:
        if root not in selected or root in done:
            continue
        stack = [(root, 0)]
        while stack:
            node_name, index = stack[-1]
            before = upstream[node_name]
            if index < len(before):
                stack[-1] = (node_name, index + 1)
                if before[index] not in done:
                    stack.append((before[index], 0))
            else:
                stack.pop()
                if node_name not in done:
                    done.add(node_name)
                    order.append(node_name)
    steps = tuple(
        Step(
            key=name,
            node=job.nodes[name],
            upstream=upstream[name],
            asset_key=job.asset_nodes[name].key if name in job.asset_nodes else None,
        )
        for name in order
    )
    return ExecutionPlan(job.name, steps)


def asset_sources(step: Step) -> Iterable[AssetKey]:
    for source in step.inputs.values():
        if isinstance(source, FromAsset):
            yield source.key


def steps_to_reexecute_from_failure(plan: ExecutionPlan, succeeded: Iterable[str]) -> list[str]:
    """The steps a re-execution "from failure" runs: every step that did not
    succeed in the parent run, and everything downstream of those. Inputs from
    the parent's successful steps are loaded from its stored outputs."""
    done = set(succeeded)
    rerun: set[str] = set()
    for step in plan.steps:  # dependency order: upstreams are decided first
        if step.key not in done or any(u in rerun for u in step.upstream):
            rerun.add(step.key)
    return [s.key for s in plan.steps if s.key in rerun]
