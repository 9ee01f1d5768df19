"""`locus run list|show|logs`: what ran, how it ended, and why."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from locus.cli.output import format_duration, format_time, table
from locus.definitions.errors import LocusError
from locus.execution.compute_logs import ComputeLogError, StepLogs
from locus.execution.events import EventRecord, EventType, RunStatus
from locus.execution.runs import RunRecord, RunsFilter

if TYPE_CHECKING:
    from locus.instance.instance import LocusInstance


def _instance() -> LocusInstance:
    # Imported here: SQLAlchemy is not needed by commands that only load code.
    from locus.instance.instance import LocusInstance

    return LocusInstance.get()


def _find_run(instance: LocusInstance, run_id: str) -> RunRecord:
    run = instance.get_run(run_id)
    if run is not None:
        return run
    matches = [r for r in instance.storage.get_runs(limit=10_000) if r.run_id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise LocusError(f"run id prefix '{run_id}' matches {len(matches)} runs", "give more characters")
    raise LocusError(f"no run with id '{run_id}'", "list runs with `locus run list`")


def run_list(args: argparse.Namespace) -> int:
    statuses = None
    if args.status:
        try:
            statuses = tuple(RunStatus(s.upper()) for s in args.status.split(","))
        except ValueError:
            raise LocusError(
                f"--status {args.status!r} is not a run status",
                f"use one or more of {', '.join(s.value for s in RunStatus)}",
            ) from None
    filters = RunsFilter(job_name=args.job, statuses=statuses)
    with _instance() as instance:
        runs = instance.storage.get_runs(filters, limit=args.limit)
    if not runs:
        print("no runs")
        return 0
    rows = [
        [
            r.run_id[:8],
            r.job_name,
            r.status.value,
            format_time(r.created_at),
            format_duration(r.start_time, r.end_time),
        ]
        for r in runs
    ]
    print(table(rows, ["RUN", "JOB", "STATUS", "CREATED", "DURATION"]))
    return 0


def run_show(args: argparse.Namespace) -> int:
    with _instance() as instance:
        run = _find_run(instance, args.run_id)
        events = instance.get_events(run.run_id)
    print(f"run:      {run.run_id}")
    print(f"job:      {run.job_name}")
    print(f"location: {run.location_name or '-'}")
    print(f"status:   {run.status.value}")
    print(f"created:  {format_time(run.created_at)}")
    print(f"duration: {format_duration(run.start_time, run.end_time)}")
    if run.tags:
        print("tags:     " + ", ".join(f"{k}={v}" for k, v in run.tags.items()))
    steps: dict[str, str] = {}
    for record in events:
        e = record.event
        if e.step_key and e.event_type in (
            EventType.STEP_START,
            EventType.STEP_SUCCESS,
            EventType.STEP_FAILURE,
            EventType.STEP_SKIPPED,
            EventType.STEP_UP_FOR_RETRY,
        ):
            steps[e.step_key] = e.event_type.value.removeprefix("STEP_")
    if steps:
        print()
        print(table([[k, v] for k, v in steps.items()], ["STEP", "STATUS"]))
    return 0


def run_logs(args: argparse.Namespace) -> int:
    with _instance() as instance:
        run = _find_run(instance, args.run_id)
        events = instance.get_events(run.run_id)
        outputs: list[tuple[str, StepLogs]] = []
        logs_error = None
        try:
            outputs = _step_outputs(instance, run.run_id, events, args.step)
        except ComputeLogError as exc:
            logs_error = exc  # the events are still worth printing
    for record in events:
        e = record.event
        if args.step and e.step_key != args.step:
            continue
        where = f" [{e.step_key}]" if e.step_key else ""
        print(f"{format_time(e.timestamp)} {e.level:<7} {e.event_type.value:<22}{where} {e.message}")
        if e.error is not None and e.event_type in (EventType.STEP_FAILURE, EventType.RUN_FAILURE):
            print(_indent(e.error.traceback.rstrip()))
            cause = e.error.cause
            while cause is not None:
                print(_indent("caused by: " + cause.traceback.rstrip()))
                cause = cause.cause
    for step_key, output in outputs:
        for name, text in (("stdout", output.stdout), ("stderr", output.stderr)):
            if text.strip():
                print(f"--- {step_key} {name} ---")
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if logs_error is not None:
        print(f"error: cannot read the step output: {logs_error}", file=sys.stderr)
        return 1
    return 0


def _step_outputs(
    instance: LocusInstance, run_id: str, events: list[EventRecord], only: str | None
) -> list[tuple[str, StepLogs]]:
    """What each step printed, read through the compute-log manager (local
    files or object storage), in the order the run reached the steps."""
    logs = instance.compute_log_manager
    step_keys = list(dict.fromkeys(r.event.step_key for r in events if r.event.step_key))
    step_keys += [k for k in logs.step_keys(run_id) if k not in step_keys]
    return [(key, logs.read_step(run_id, key)) for key in step_keys if only is None or key == only]


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
