"""Entry point of a multiprocess step: ``python -m locus.execution.step_worker``
reads its payload on stdin, loads the code, runs one step and writes the
step's events as JSON lines to the pipe the parent gave it."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from locus.definitions.errors import ExecutionError
from locus.execution.code_pointer import CodePointer, load_definitions, resolve_job
from locus.execution.compute_logs import ComputeLogManager
from locus.execution.events import ErrorInfo, Event, EventType
from locus.execution.plan import build_plan
from locus.execution.resources import run_resources
from locus.execution.run_config import resolve_run_config
from locus.execution.runs import RunRecord
from locus.execution.step import RunEnv, execute_step
from locus.execution.store import ExecutionInstance


def execute_one_step(
    run: RunRecord,
    pointer: CodePointer,
    step_key: str,
    storage_dir: Path,
    emit: Callable[[Event], None],
    compute_logs: ComputeLogManager | None = None,
    instance: ExecutionInstance | None = None,
) -> bool:
    """Load the run's code and execute its step ``step_key`` in this process:
    what a multiprocess step worker and a Kubernetes step Job both do."""
    from locus.execution.engine import required_resource_keys

    defs = load_definitions(pointer)
    job = resolve_job(defs, run.job_name, run.asset_selection)
    resources = defs.resources_for(job)
    resolved = resolve_run_config(job, run.run_config, resources, defs.executor_for(job))
    plan = build_plan(job, run.step_keys_to_execute)
    if step_key not in plan.step_keys:
        raise ExecutionError(f"run {run.run_id} has no step '{step_key}'", f"its steps are {list(plan.step_keys)}")
    required = required_resource_keys(job, build_plan(job, [step_key]))
    with run_resources(resources, resolved.resource_config, storage_dir, run.run_id, required) as live:
        env = RunEnv(
            run=run,
            job=job,
            resolved=resolved,
            resources=live,
            emit=emit,
            planned=frozenset(plan.step_keys),
            compute_logs=compute_logs,
            instance=instance,
        )
        return execute_step(env, plan.get(step_key))


def run_step(payload: dict[str, Any]) -> bool:
    stream = os.fdopen(payload["event_fd"], "w", buffering=1, encoding="utf-8")
    run = RunRecord.from_dict(payload["run"])
    step_key = payload["step_key"]

    def emit(event: Event) -> None:
        stream.write(event.to_json() + "\n")

    try:
        pointer = CodePointer.from_dict(payload["pointer"])
        return execute_one_step(run, pointer, step_key, Path(payload["storage_dir"]), emit)
    except Exception as exc:
        error = getattr(exc, "error_info", None) or ErrorInfo.from_exception(exc)
        emit(
            Event(
                run.run_id,
                EventType.STEP_FAILURE,
                f"{step_key} failed: {error.summary()}",
                step_key,
                "ERROR",
                error=error,
            )
        )
        return False
    finally:
        stream.close()


def main() -> None:
    payload = json.loads(sys.stdin.read())
    sys.exit(0 if run_step(payload) else 1)


if __name__ == "__main__":
    main()
