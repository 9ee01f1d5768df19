"""`locus job execute` and `locus asset materialize`: run in this process
tree against the instance, show progress, end with a summary. Also what
launchers start: `locus execute run` (a stored run) and `locus execute step`
(one step of it, in a step Job of k8s_job_executor)."""

from __future__ import annotations

import argparse
import signal
import sys

from locus.cli.config_input import load_run_config, parse_tags
from locus.cli.output import ProgressPrinter, format_duration
from locus.cli.targets import add_target_flags, single_target
from locus.definitions.asset_job import IMPLICIT_ASSET_JOB
from locus.definitions.errors import ExecutionError
from locus.execution.api import execute_job
from locus.execution.events import ErrorInfo, Event, EventType
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


def _step_failed_before_start(run_id: str, step_key: str, exc: BaseException) -> Event:
    error = getattr(exc, "error_info", None) or ErrorInfo.from_exception(exc)
    message = f"{step_key} failed: {error.summary()}"
    return Event(run_id, EventType.STEP_FAILURE, message, step_key, "ERROR", error=error)


def step_execute(args: argparse.Namespace) -> int:
    """`locus execute step RUN_ID STEP_KEY`: one step of a stored run, in
    this process (what each step Job of k8s_job_executor runs). Its events
    go straight to the instance's storage, where the run's executor reads
    the result; 0 when the step succeeded, 1 when it failed."""
    from locus.execution.code_pointer import CodePointer
    from locus.execution.engine import RunCanceled
    from locus.execution.step_worker import execute_one_step
    from locus.instance.instance import LocusInstance

    def cancel(_signum: int, _frame: object) -> None:
        raise RunCanceled()

    run_id, step_key = args.run_id, args.step_key
    printer = ProgressPrinter(verbose=args.verbose)
    with LocusInstance.get() as instance:

        def emit(event: Event) -> None:
            instance.store_event(event)
            printer(event)

        run = instance.get_run(run_id)
        if run is None:
            raise ExecutionError(f"no run with id '{run_id}' in this instance", "check LOCUS_HOME / locus.yaml")
        if run.status.is_finished:
            print(f"Run {run_id} already ended with {run.status.value}; step {step_key} not executed", file=sys.stderr)
            return 1
        # From here on, a stop request is recorded as the step's failure.
        signal.signal(signal.SIGTERM, cancel)
        try:
            try:
                pointer = CodePointer.from_dict((run.origin or {})["pointer"])
            except KeyError:
                raise ExecutionError(
                    f"run {run_id} has no code pointer in its origin", "launch it through Locus"
                ) from None
            ok = execute_one_step(run, pointer, step_key, instance.storage_dir, emit,
                                  compute_logs=instance.compute_log_manager, instance=instance)
            return 0 if ok else 1
        except RunCanceled:
            message = f"{step_key} canceled: the step process was asked to stop (SIGTERM)"
            error = ErrorInfo("StepCanceled", message, "")
            emit(Event(run_id, EventType.STEP_FAILURE, message, step_key, "ERROR", error=error,
                       data={"canceled": True}))
            return 1
        except Exception as exc:
            emit(_step_failed_before_start(run_id, step_key, exc))
            return 1


def job_execute(args: argparse.Namespace) -> int:
    return _execute(args, args.job, None)


def asset_materialize(args: argparse.Namespace) -> int:
    return _execute(args, args.job or IMPLICIT_ASSET_JOB, args.select)
