"""Running a planned job: run-level events, the resources of the run, and
the executor that runs its steps (in-process here; multiprocess in its own
module). Steps whose upstream failed are skipped, not attempted."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from locus.definitions.composition import FromAsset, FromOutput, FromOutputs
from locus.definitions.errors import ExecutionError, LocusError
from locus.definitions.executors import ExecutorDefinition
from locus.definitions.jobs import JobDefinition
from locus.execution.code_pointer import CodePointer
from locus.execution.events import ErrorInfo, Event, EventType
from locus.execution.plan import ExecutionPlan, Step, build_plan
from locus.execution.resources import IO_MANAGER_KEY, run_resources
from locus.execution.run_config import ResolvedRunConfig
from locus.execution.runs import RunRecord
from locus.execution.step import RunEnv, execute_step
from locus.execution.store import ExecutionInstance


class RunCanceled(BaseException):
    """Raised in a run's process when it is asked to stop (SIGTERM). A
    BaseException, so user code's ``except Exception`` does not swallow it."""


@dataclass
class RunOutcome:
    success: bool
    events: list[Event] = field(default_factory=list)
    output_values: dict[tuple[str, str], Any] = field(default_factory=dict)
    first_error: BaseException | None = None


class Emitter:
    """Stores each event, keeps it for the result, and tells the caller."""

    def __init__(self, instance: ExecutionInstance, on_event: Callable[[Event], None] | None) -> None:
        self.instance = instance
        self.on_event = on_event
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.instance.store_event(event)
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)


def required_resource_keys(job: JobDefinition, plan: ExecutionPlan) -> frozenset[str]:
    """The resources the planned steps touch, so an unrelated broken resource
    cannot fail this run."""
    keys: set[str] = {IO_MANAGER_KEY}

    def io_key(node: str, output: str) -> str:
        asset = job.asset_nodes.get(node)
        if asset is not None:
            return asset.io_manager_key
        return job.nodes[node].op.outs[output].io_manager_key or IO_MANAGER_KEY

    for step in plan.steps:
        keys |= step.node.op.resource_keys
        keys |= {io_key(step.key, name) for name in step.node.op.outs}
        for source in step.inputs.values():
            if isinstance(source, FromOutput):
                keys.add(io_key(source.node, source.output))
            elif isinstance(source, FromOutputs):
                keys |= {io_key(s.node, s.output) for s in source.sources}
            elif isinstance(source, FromAsset) and job.asset_graph is not None:
                keys.add(job.asset_graph.by_key[source.key].io_manager_key)
    return frozenset(keys)


@dataclass(frozen=True)
class RunSpec:
    """Everything needed to execute one run in this process."""

    job: JobDefinition
    run: RunRecord
    resources: Mapping[str, Any]
    resolved: ResolvedRunConfig
    executor: ExecutorDefinition
    pointer: CodePointer | None = None
    keep_outputs: bool = False



def refuse_in_memory_outputs(spec: RunSpec, plan: ExecutionPlan, who: str, fix: str) -> None:
    """Executors whose steps run in separate processes (``who``, e.g. "the step
    processes of the multiprocess executor") cannot pass outputs through an IO
    manager that keeps them in memory: say so before any step runs."""
    for key in sorted(required_resource_keys(spec.job, plan)):
        resource = spec.resources.get(key)
        if getattr(resource, "keeps_values_in_memory", False):
            raise ExecutionError(
                f"resource '{key}' ({type(resource).__name__}) keeps outputs in memory, which {who} cannot share",
                fix,
            )

def skip_if_blocked(step: Step, status: dict[str, bool | None], run_id: str, emit: Callable[[Event], None]) -> bool:
    """Skip ``step`` (and record why) when an upstream failed or was skipped.
    ``status`` maps finished steps to True (succeeded), False or None (skipped)."""
    blocked = [u for u in step.upstream if u in status and status[u] is not True]
    if not blocked:
        return False
    status[step.key] = None
    emit(
        Event(
            run_id,
            EventType.STEP_SKIPPED,
            f"{step.key} skipped: upstream {', '.join(blocked)} did not succeed",
            step.key,
        )
    )
    return True


def _run_in_process(
    spec: RunSpec, plan: ExecutionPlan, instance: ExecutionInstance, emit: Emitter, outcome: RunOutcome
) -> dict[str, bool | None]:
    status: dict[str, bool | None] = {}
    required = required_resource_keys(spec.job, plan)
    with run_resources(
        spec.resources, spec.resolved.resource_config, instance.storage_dir, spec.run.run_id, required
    ) as live:
        env = RunEnv(
            run=spec.run,
            job=spec.job,
            resolved=spec.resolved,
            resources=live,
            emit=emit,
            planned=frozenset(plan.step_keys),
            compute_logs=instance.compute_log_manager,
            instance=instance,
            output_values=outcome.output_values if spec.keep_outputs else None,
        )
        for step in plan.steps:
            if skip_if_blocked(step, status, spec.run.run_id, emit):
                continue
            status[step.key] = execute_step(env, step, on_error=_keep_first(outcome))
    return status


# Executors whose code lives in a higher layer (they need a Kubernetes
# client, which execution/ must not import): imported by name when a run
# uses them. Each is called like run_multiprocess and returns step results.
PLUGIN_EXECUTORS: Mapping[str, str] = {"k8s": "locus.launchers.k8s_executor:run_k8s_steps"}
StepsRunner = Callable[[RunSpec, ExecutionPlan, ExecutionInstance, Emitter], dict[str, bool | None]]


def _plugin_executor(name: str) -> StepsRunner:
    module, _, function = PLUGIN_EXECUTORS[name].partition(":")
    return cast(StepsRunner, getattr(importlib.import_module(module), function))


def _keep_first(outcome: RunOutcome) -> Callable[[BaseException], None]:
    def keep(exc: BaseException) -> None:
        if outcome.first_error is None:
            outcome.first_error = exc

    return keep


def execute_run(
    spec: RunSpec, instance: ExecutionInstance, on_event: Callable[[Event], None] | None = None
) -> RunOutcome:
    """Execute a run that is already stored; returns how it went."""
    run_id = spec.run.run_id
    emit = Emitter(instance, on_event)
    outcome = RunOutcome(success=False)
    emit(Event(run_id, EventType.RUN_START, f"run of {spec.job.name} started"))
    try:
        plan = build_plan(spec.job, spec.run.step_keys_to_execute)
        if spec.executor.name == "in_process" or spec.keep_outputs:
            status = _run_in_process(spec, plan, instance, emit, outcome)
        elif spec.executor.name == "multiprocess":
            from locus.execution.multiprocess import run_multiprocess

            status = run_multiprocess(spec, plan, instance, emit)
        elif spec.executor.name in PLUGIN_EXECUTORS:
            status = _plugin_executor(spec.executor.name)(spec, plan, instance, emit)
        else:
            raise ExecutionError(
                f"executor '{spec.executor.name}' is not one Locus knows",
                "use in_process_executor, multiprocess_executor or k8s_job_executor (or one configured from them)",
            )
    except RunCanceled:
        emit(Event(run_id, EventType.RUN_CANCELED, "run canceled: the run process was asked to stop", level="WARNING"))
        outcome.events = emit.events
        return outcome
    except Exception as exc:
        error = ErrorInfo.from_exception(exc)
        if outcome.first_error is None:
            outcome.first_error = exc
        if isinstance(exc, LocusError):
            message = exc.message + (f" (fix: {exc.hint})" if exc.hint else "")
        else:
            message = error.summary()
        emit(Event(run_id, EventType.RUN_FAILURE, f"run failed: {message}", level="ERROR", error=error))
        outcome.events = emit.events
        return outcome
    failed = [k for k, ok in status.items() if ok is False]
    skipped = [k for k, ok in status.items() if ok is None]
    if failed or skipped:
        detail = f"steps failed: {', '.join(failed)}" + (f"; skipped: {', '.join(skipped)}" if skipped else "")
        emit(
            Event(
                run_id,
                EventType.RUN_FAILURE,
                f"run failed: {detail}",
                level="ERROR",
                data={"failed_steps": failed, "skipped_steps": skipped},
            )
        )
    else:
        outcome.success = True
        emit(Event(run_id, EventType.RUN_SUCCESS, f"run of {spec.job.name} succeeded"))
    outcome.events = emit.events
    return outcome
