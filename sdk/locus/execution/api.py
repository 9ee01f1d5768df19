"""The engine's entry points: ``materialize`` and ``execute_in_process`` for
Python callers and tests, ``execute_job`` for the CLI (the job's own
executor, an instance, and code that child processes can load again)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from locus.definitions.asset_graph import AssetGraph
from locus.definitions.asset_job import IMPLICIT_ASSET_JOB, build_asset_job
from locus.definitions.asset_key import AssetKey
from locus.definitions.errors import DefinitionError, ExecutionError, LocusError
from locus.definitions.executors import ExecutorDefinition, in_process_executor
from locus.definitions.jobs import JobDefinition
from locus.definitions.registry import DEFAULT_RESOURCE_KEYS, Definitions, flatten_assets
from locus.definitions.selection import coerce_selection
from locus.execution.code_pointer import CodePointer, load_definitions, resolve_job
from locus.execution.engine import RunSpec, execute_run
from locus.execution.ephemeral import EphemeralInstance
from locus.execution.events import ErrorInfo, Event, EventType
from locus.execution.result import ExecutionResult
from locus.execution.run_config import resolve_run_config
from locus.execution.runs import RunRecord, new_run_id
from locus.execution.store import ExecutionInstance


def _launch(
    job: JobDefinition,
    instance: ExecutionInstance | None,
    resources: Mapping[str, Any],
    executor: ExecutorDefinition,
    run_config: Mapping[str, Any] | None,
    tags: Mapping[str, str] | None,
    *,
    run_id: str | None = None,
    pointer: CodePointer | None = None,
    asset_selection: tuple[AssetKey, ...] | None = None,
    step_keys: Sequence[str] | None = None,
    keep_outputs: bool,
    raise_on_error: bool,
    location_name: str | None = None,
    on_event: Callable[[Event], None] | None = None,
    parent: RunRecord | None = None,
) -> ExecutionResult:
    resolved = resolve_run_config(job, run_config, resources, executor)
    store: ExecutionInstance = instance if instance is not None else EphemeralInstance()
    run = store.add_run(
        RunRecord(
            run_id=run_id or new_run_id(),
            job_name=job.name,
            run_config=dict(run_config or {}),
            tags={**job.tags, **(tags or {})},
            location_name=location_name,
            asset_selection=asset_selection,
            step_keys_to_execute=tuple(step_keys) if step_keys is not None else None,
            origin={"pointer": pointer.to_dict()} if pointer is not None else None,
            parent_run_id=parent.run_id if parent is not None else None,
            root_run_id=(parent.root_run_id or parent.run_id) if parent is not None else None,
        )
    )
    spec = RunSpec(job, run, resources, resolved, executor, pointer, keep_outputs)
    outcome = execute_run(spec, store, on_event)
    if raise_on_error and outcome.first_error is not None:
        raise outcome.first_error
    final = store.get_run(run.run_id) or run
    return ExecutionResult(job, final, outcome.success, outcome.events, outcome.output_values)


def execute_job_in_process(
    job: JobDefinition,
    run_config: Mapping[str, Any] | None = None,
    instance: ExecutionInstance | None = None,
    resources: Mapping[str, Any] | None = None,
    raise_on_error: bool = True,
    tags: Mapping[str, str] | None = None,
    op_selection: Sequence[str] | None = None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
) -> ExecutionResult:
    """Every step in this process, whatever executor the job names. With
    ``parent_run_id`` (re-execution), inputs from steps outside
    ``op_selection`` are loaded from that run's stored outputs."""
    all_resources = {**job.resource_defs, **(resources or {})}
    missing = sorted(job.resource_keys - all_resources.keys() - DEFAULT_RESOURCE_KEYS)
    if missing:
        raise DefinitionError(
            f"job '{job.name}' requires resources {missing} that were not provided",
            "pass them with execute_in_process(resources={...}) or the job's resource_defs",
        )
    store: ExecutionInstance = instance if instance is not None else EphemeralInstance()
    parent = None
    if parent_run_id is not None:
        parent = store.get_run(parent_run_id) or RunRecord(run_id=parent_run_id, job_name=job.name)
    return _launch(
        job,
        store,
        all_resources,
        in_process_executor,
        run_config,
        tags,
        run_id=run_id,
        step_keys=op_selection,
        keep_outputs=True,
        raise_on_error=raise_on_error,
        parent=parent,
    )


def materialize(
    assets: Iterable[Any],
    run_config: Mapping[str, Any] | None = None,
    instance: ExecutionInstance | None = None,
    resources: Mapping[str, Any] | None = None,
    raise_on_error: bool = True,
    tags: Mapping[str, str] | None = None,
    selection: Any = None,
) -> ExecutionResult:
    """Materialise ``assets`` (or the ``selection`` of them) in this process."""
    flat = flatten_assets(assets)
    graph = AssetGraph(flat)
    keys = coerce_selection(selection).resolve(graph) if selection is not None else set(graph.keys)
    all_resources: dict[str, Any] = {}
    for a in flat:
        all_resources.update(a.resource_defs)
    all_resources.update(resources or {})
    for a in flat:
        if a.key in keys:
            missing = sorted(a.resource_keys - all_resources.keys() - DEFAULT_RESOURCE_KEYS)
            if missing:
                raise DefinitionError(
                    f"asset '{a.key.to_user_string()}' requires resources {missing} that were not provided",
                    "pass them with materialize(..., resources={...})",
                )
    job = build_asset_job(IMPLICIT_ASSET_JOB, graph, keys, resource_defs=all_resources)
    return _launch(
        job,
        instance,
        all_resources,
        in_process_executor,
        run_config,
        tags,
        asset_selection=tuple(graph.toposort(keys)),
        keep_outputs=True,
        raise_on_error=raise_on_error,
    )


def _prepare(
    pointer: CodePointer, job_name: str, asset_selection: Any, definitions: Definitions | None
) -> tuple[CodePointer, Definitions, JobDefinition, ExecutorDefinition, dict[str, Any], tuple[AssetKey, ...] | None]:
    pointer = pointer.absolute()
    defs = definitions if definitions is not None else load_definitions(pointer)
    selected: tuple[AssetKey, ...] | None = None
    if asset_selection is not None:
        keys = coerce_selection(asset_selection).resolve(defs.asset_graph)
        if not keys:
            raise DefinitionError("the asset selection matches no assets", "check the --select expression")
        selected = tuple(defs.asset_graph.toposort(keys))
    job = resolve_job(defs, job_name, selected)
    executor = defs.executor_for(job)
    resources = defs.resources_for(job)
    return pointer, defs, job, executor, resources, selected


def create_run(
    pointer: CodePointer,
    job_name: str,
    instance: ExecutionInstance,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    asset_selection: Any = None,
    definitions: Definitions | None = None,
    location_name: str | None = None,
    run_id: str | None = None,
) -> RunRecord:
    """Validate a run of a code location's job and store it (NOT_STARTED),
    to be executed later by ``execute_stored_run`` in the location's environment."""
    pointer, _defs, job, executor, resources, selected = _prepare(pointer, job_name, asset_selection, definitions)
    resolve_run_config(job, run_config, resources, executor)
    return instance.add_run(
        RunRecord(
            run_id=run_id or new_run_id(),
            job_name=job.name,
            run_config=dict(run_config or {}),
            tags={**job.tags, **(tags or {})},
            location_name=location_name or pointer.default_location_name,
            asset_selection=selected,
            origin={"pointer": pointer.to_dict()},
        )
    )


def execute_job(
    pointer: CodePointer,
    job_name: str,
    instance: ExecutionInstance,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    asset_selection: Any = None,
    on_event: Callable[[Event], None] | None = None,
    definitions: Definitions | None = None,
    location_name: str | None = None,
) -> ExecutionResult:
    """Run a job of a code location with the job's own executor."""
    pointer, _defs, job, executor, resources, selected = _prepare(pointer, job_name, asset_selection, definitions)
    return _launch(
        job,
        instance,
        resources,
        executor,
        run_config,
        tags,
        pointer=pointer,
        asset_selection=selected,
        keep_outputs=False,
        raise_on_error=False,
        location_name=location_name or pointer.default_location_name,
        on_event=on_event,
    )


def execute_stored_run(
    run_id: str,
    instance: ExecutionInstance,
    on_event: Callable[[Event], None] | None = None,
) -> ExecutionResult | None:
    """Execute a run that was created earlier (queued, launched): what
    ``locus execute run`` does in the location's environment. Problems found
    before any step runs (code that no longer loads, config that no longer
    fits) fail the stored run with the reason, so it never hangs in STARTING."""
    run = instance.get_run(run_id)
    if run is None:
        raise ExecutionError(f"no run with id '{run_id}' in this instance", "check LOCUS_HOME / locus.yaml")
    if run.status.is_finished:
        raise ExecutionError(f"run {run_id} already ended with {run.status.value}", "launch a new run")
    origin = run.origin or {}
    try:
        pointer = CodePointer.from_dict(origin["pointer"])
        defs = load_definitions(pointer)
        job = resolve_job(defs, run.job_name, run.asset_selection)
        executor = defs.executor_for(job)
        resources = defs.resources_for(job)
        resolved = resolve_run_config(job, run.run_config, resources, executor)
    except (LocusError, KeyError) as exc:
        if isinstance(exc, KeyError):
            exc = ExecutionError(f"run {run_id} has no code pointer in its origin", "launch it through Locus")
        info = getattr(exc, "error_info", None) or ErrorInfo.from_exception(exc)
        failed = Event(run_id, EventType.RUN_FAILURE, f"run failed before it started: {exc}", level="ERROR", error=info)
        instance.store_event(failed)
        if on_event is not None:
            on_event(failed)
        return None
    spec = RunSpec(job, run, resources, resolved, executor, pointer, keep_outputs=False)
    outcome = execute_run(spec, instance, on_event)
    final = instance.get_run(run_id) or run
    return ExecutionResult(job, final, outcome.success, outcome.events, outcome.output_values)
