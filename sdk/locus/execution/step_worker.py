"""Entry point of a multiprocess step: ``python -m locus.execution.step_worker``
reads its payload on stdin, loads the code, runs one step and writes the
step's events as JSON lines to the pipe the parent gave it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from locus.execution.code_pointer import CodePointer, load_definitions, resolve_job
from locus.execution.events import ErrorInfo, Event, EventType
from locus.execution.plan import build_plan
from locus.execution.resources import run_resources
from locus.execution.run_config import resolve_run_config
from locus.execution.runs import RunRecord
from locus.execution.step import RunEnv, execute_step


def run_step(payload: dict[str, Any]) -> bool:
    stream = os.fdopen(payload["event_fd"], "w", buffering=1, encoding="utf-8")
    run = RunRecord.from_dict(payload["run"])
    step_key = payload["step_key"]

    def emit(event: Event) -> None:
        stream.write(event.to_json() + "\n")

    try:
        defs = load_definitions(CodePointer.from_dict(payload["pointer"]))
        job = resolve_job(defs, run.job_name, run.asset_selection)

        executor = defs.executor_for(job)
        resources = defs.resources_for(job)
        resolved = resolve_run_config(job, run.run_config, resources, executor)
        plan = build_plan(job, run.step_keys_to_execute)
        step = plan.get(step_key)
        from locus.execution.engine import required_resource_keys

        required = required_resource_keys(job, build_plan(job, [step_key]))
        with run_resources(
            resources, resolved.resource_config, Path(payload["storage_dir"]), run.run_id, required
        ) as live:
            env = RunEnv(
                run=run,
                job=job,
                resolved=resolved,
                resources=live,
                emit=emit,
                planned=frozenset(plan.step_keys),
            )
            return execute_step(env, step)
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
