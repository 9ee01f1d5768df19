"""Executing one step: load inputs through IO managers, call the user's
function, store outputs, record materialisations, retry per policy."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from locus.definitions.asset_key import AssetKey
from locus.definitions.assets import MaterializeResult
from locus.definitions.composition import FromAsset, FromOutput, FromOutputs, InputSource
from locus.definitions.io_managers import InputContext, IOManager, OutputContext
from locus.definitions.jobs import JobDefinition
from locus.definitions.ops import Output
from locus.execution.compute_logs import ComputeLogManager, capture_step_output
from locus.execution.context import AssetExecutionContext, OpExecutionContext, StepLogger
from locus.execution.events import ErrorInfo, Event, EventType
from locus.execution.plan import Step
from locus.execution.run_config import ResolvedRunConfig
from locus.execution.runs import RunRecord


@dataclass
class RunEnv:
    """Everything steps of one run share inside one process."""

    run: RunRecord
    job: JobDefinition
    resolved: ResolvedRunConfig
    resources: Mapping[str, Any]
    emit: Callable[[Event], None]
    planned: frozenset[str]
    compute_logs: ComputeLogManager | None = None
    instance: Any = None
    # In-process runs keep output values so results can hand them back.
    output_values: dict[tuple[str, str], Any] | None = field(default=None)


class StepFailure(Exception):
    """Raised by the engine for a step's own contract violations."""


def json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return str(value)


def _io_manager(env: RunEnv, key: str, owner: str) -> IOManager:
    manager = env.resources.get(key)
    if not isinstance(manager, IOManager):
        raise StepFailure(f"{owner}: resource '{key}' is not an IO manager (got {type(manager).__name__})")
    return manager


def _output_io_key(env: RunEnv, node: str, output: str) -> tuple[str, AssetKey | None]:
    asset = env.job.asset_nodes.get(node)
    if asset is not None:
        return asset.io_manager_key, asset.key
    out = env.job.nodes[node].op.outs[output]
    return out.io_manager_key or "io_manager", None


def _load_from_output(env: RunEnv, input_name: str, source: FromOutput) -> Any:
    key, asset_key = _output_io_key(env, source.node, source.output)
    run_id = env.run.run_id if source.node in env.planned else (env.run.parent_run_id or env.run.run_id)
    upstream = OutputContext(name=source.output, step_key=source.node, run_id=run_id, asset_key=asset_key)
    manager = _io_manager(env, key, f"input '{input_name}'")
    return manager.load_input(InputContext(name=input_name, upstream_output=upstream, asset_key=asset_key))


def _load_input(env: RunEnv, name: str, source: InputSource) -> Any:
    if isinstance(source, FromOutput):
        return _load_from_output(env, name, source)
    if isinstance(source, FromOutputs):
        return [_load_from_output(env, name, s) for s in source.sources]
    if isinstance(source, FromAsset):
        assert env.job.asset_graph is not None
        upstream_asset = env.job.asset_graph.by_key[source.key]
        upstream = OutputContext(name="result", step_key=upstream_asset.node_name, run_id="", asset_key=source.key)
        manager = _io_manager(env, upstream_asset.io_manager_key, f"input '{name}'")
        return manager.load_input(InputContext(name=name, upstream_output=upstream, asset_key=source.key))
    raise StepFailure(f"input '{name}' has no source")


def _as_outputs(step: Step, returned: Any) -> list[Output | MaterializeResult]:
    outs = step.node.op.outs
    if step.node.op.compute.is_generator:
        items = list(returned)
    elif len(outs) == 1 or isinstance(returned, Output | MaterializeResult):
        items = [returned]
    elif isinstance(returned, tuple) and len(returned) == len(outs):
        items = [v if isinstance(v, Output) else Output(v, name) for name, v in zip(outs, returned, strict=True)]
    else:
        raise StepFailure(
            f"op '{step.key}' declares outputs {list(outs)} but returned {type(returned).__name__}; "
            "return a tuple with one value per output, or yield Output(value, output_name=...)"
        )
    result: list[Output | MaterializeResult] = []
    for item in items:
        if isinstance(item, Output | MaterializeResult):
            result.append(item)
        elif step.node.op.compute.is_generator:
            raise StepFailure(f"op '{step.key}' yielded {item!r}; yield Output(...) objects")
        else:
            result.append(Output(item, next(iter(outs))))
    names = [o.output_name for o in result if isinstance(o, Output)]
    for name in names:
        if name not in outs:
            raise StepFailure(f"op '{step.key}' produced output '{name}', which it does not declare: {list(outs)}")
    if not any(isinstance(o, MaterializeResult) for o in result):
        missing = [n for n, o in outs.items() if o.is_required and n not in names]
        if missing:
            raise StepFailure(f"op '{step.key}' did not produce its required outputs {missing}")
    return result


def _run_once(env: RunEnv, step: Step, attempt: int) -> None:
    run_id = env.run.run_id
    op_def = step.node.op
    inputs = {name: _load_input(env, name, src) for name, src in step.inputs.items()}
    ctx_cls = AssetExecutionContext if step.asset_key is not None else OpExecutionContext
    context = ctx_cls(
        env.run,
        step.key,
        env.resolved.op_config.get(step.key),
        env.resources,
        StepLogger(env.emit, run_id, step.key),
        step.asset_key,
        attempt,
        env.instance,
    )
    with capture_step_output(env.compute_logs, run_id, step.key):
        returned = op_def.compute.call(context, context.op_config, dict(env.resources), inputs)
        outputs = _as_outputs(step, returned)
    for out in outputs:
        if isinstance(out, MaterializeResult):
            metadata = {**context.output_metadata.get("result", {}), **out.metadata}
        else:
            metadata = {**context.output_metadata.get(out.output_name, {}), **out.metadata}
            io_key, asset_key = _output_io_key(env, step.key, out.output_name)
            out_ctx = OutputContext(out.output_name, step.key, run_id, asset_key, metadata)
            _io_manager(env, io_key, f"output '{out.output_name}'").handle_output(out_ctx, out.value)
            if env.output_values is not None:
                env.output_values[(step.key, out.output_name)] = out.value
            env.emit(
                Event(
                    run_id,
                    EventType.STEP_OUTPUT,
                    f"output '{out.output_name}' stored",
                    step.key,
                    data={"output_name": out.output_name},
                )
            )
        if step.asset_key is not None:
            env.emit(
                Event(
                    run_id,
                    EventType.ASSET_MATERIALIZATION,
                    f"materialised {step.asset_key.to_user_string()}",
                    step.key,
                    asset_key=step.asset_key,
                    data={"metadata": json_safe(metadata)},
                )
            )


def execute_step(env: RunEnv, step: Step, on_error: Callable[[BaseException], None] | None = None) -> bool:
    """Run a step to success or final failure; returns whether it succeeded.
    ``on_error`` sees the final exception (``raise_on_error`` re-raises it)."""
    run_id = env.run.run_id
    policy = step.node.op.retry_policy
    attempt = 0
    while True:
        env.emit(Event(run_id, EventType.STEP_START, f"started {step.key}", step.key, data={"attempt": attempt}))
        started = time.perf_counter()
        try:
            _run_once(env, step, attempt)
        except Exception as exc:
            duration = round((time.perf_counter() - started) * 1000, 3)
            error = ErrorInfo.from_user_exception(exc)
            if policy is not None and attempt < policy.max_retries:
                attempt += 1
                delay = policy.delay_for_attempt(attempt)
                env.emit(
                    Event(
                        run_id,
                        EventType.STEP_UP_FOR_RETRY,
                        f"{step.key} failed ({error.summary()}); retry {attempt} of {policy.max_retries} in {delay:g}s",
                        step.key,
                        "WARNING",
                        error=error,
                        data={"attempt": attempt, "delay": delay},
                    )
                )
                if delay:
                    time.sleep(delay)
                continue
            env.emit(
                Event(
                    run_id,
                    EventType.STEP_FAILURE,
                    f"{step.key} failed: {error.summary()}",
                    step.key,
                    "ERROR",
                    error=error,
                    data={"duration_ms": duration, "attempt": attempt},
                )
            )
            if on_error is not None:
                on_error(exc)
            return False
        duration = round((time.perf_counter() - started) * 1000, 3)
        env.emit(
            Event(
                run_id,
                EventType.STEP_SUCCESS,
                f"{step.key} succeeded in {duration:g} ms",
                step.key,
                data={"duration_ms": duration, "attempt": attempt},
            )
        )
        return True
