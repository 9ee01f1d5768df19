"""`locus job execute` and `locus asset materialize`: run in this process
tree against the instance, show progress, end with a summary."""

from __future__ import annotations

import argparse
import signal
import sys

from locus.cli.config_input import load_run_config, parse_tags
from locus.cli.output import ProgressPrinter, format_duration
from locus.cli.targets import add_target_flags, single_target
from locus.definitions.asset_job import IMPLICIT_ASSET_JOB
from locus.execution.api import execute_job
from locus.execution.events import EventType
from locus.execution.result import ExecutionResult


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    add_target_flags(parser)
    parser.add_argument(
        "-c",
        "--config",
        action="append",
        default=[],
        metavar="YAML",
        help="run config file (may repeat; merged in order)",
    )
    parser.add_argument("--config-json", help="run config as a JSON object")
    parser.add_argument("--tags", help="run tags as a JSON object")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every event")


def summarise(result: ExecutionResult) -> int:
    run = result.run
    steps = {e.step_key for e in result.all_events if e.step_key}
    took = format_duration(run.start_time, run.end_time)
    if result.success:
        print(f"Run {run.run_id} of {run.job_name}: SUCCESS in {took} ({len(steps)} steps)")
        return 0
    print(f"Run {run.run_id} of {run.job_name}: FAILURE after {took}", file=sys.stderr)
    for event in result.all_events:
        if event.event_type == EventType.STEP_FAILURE and event.error is not None:
            print(f"  ✗ {event.step_key}: {event.error.summary()}", file=sys.stderr)
        elif event.event_type == EventType.RUN_FAILURE and event.error is not None:
            print(f"  ✗ {event.message}", file=sys.stderr)
    print(f"  see the traceback with: locus run logs {run.run_id}", file=sys.stderr)
    return 1


def _execute(args: argparse.Namespace, job_name: str, selection: str | None) -> int:
    from locus.instance.instance import LocusInstance

    target = single_target(args)
    run_config = load_run_config(args.config, args.config_json)
    tags = parse_tags(args.tags)
    with LocusInstance.get() as instance:
        result = execute_job(
            target.pointer,
            job_name,
            instance,
            run_config=run_config,
            tags=tags,
            asset_selection=selection,
            on_event=ProgressPrinter(verbose=args.verbose),
            location_name=target.name,
        )
        return summarise(result)


def run_execute(args: argparse.Namespace) -> int:
    """`locus execute run RUN_ID`: the process a launcher starts for a stored run."""
    from locus.execution.api import execute_stored_run
    from locus.execution.engine import RunCanceled
    from locus.instance.instance import LocusInstance

    def cancel(_signum: int, _frame: object) -> None:
        raise RunCanceled()

    signal.signal(signal.SIGTERM, cancel)
    with LocusInstance.get() as instance:
        result = execute_stored_run(args.run_id, instance, on_event=ProgressPrinter(verbose=args.verbose))
        if result is None:
            print(f"Run {args.run_id} failed before it started; see: locus run logs {args.run_id}", file=sys.stderr)
            return 1
        return summarise(result)


def job_execute(args: argparse.Namespace) -> int:
    return _execute(args, args.job, None)


def asset_materialize(args: argparse.Namespace) -> int:
    return _execute(args, args.job or IMPLICIT_ASSET_JOB, args.select)
