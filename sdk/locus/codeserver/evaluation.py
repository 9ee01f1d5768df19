"""Evaluating schedules and sensors inside the code server: the user's
function runs in a bounded set of worker threads, each call with a timeout.

A Python thread cannot be killed, so an evaluation that times out keeps its
worker until the user's function returns; the caller gets its answer (a
timeout error) at once. The bound (``max_workers``, ``locus api grpc
--max-workers``) caps how many evaluations may run at once, stuck ones
included; past it, a call fails immediately with an error saying so instead
of queueing behind stuck functions. Size it for the number of schedules and
sensors evaluated at the same time plus a few that may hang.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from locus.codeserver.results import TickResult, plain_error, run_request_dict
from locus.definitions.errors import LocusError
from locus.definitions.registry import Definitions
from locus.definitions.run_request import TickEvaluation
from locus.definitions.schedules import build_schedule_context
from locus.definitions.sensors import build_sensor_context
from locus.execution.events import ErrorInfo


class Evaluator:
    """Runs evaluations in at most ``max_workers`` daemon threads at once
    (daemon, so that a function stuck forever cannot keep the server alive)."""

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers
        self._running = 0
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        return self._running

    def run(self, label: str, fn: Callable[[], TickResult], timeout: float) -> TickResult:
        with self._lock:
            if self._running >= self.max_workers:
                return TickResult(
                    error=plain_error(
                        "EvaluationCapacityError",
                        f"{label} was not evaluated: all {self.max_workers} evaluation workers are busy "
                        "(evaluations that timed out keep their worker until the function returns); "
                        "fix the slow schedule/sensor or start the code server with a larger --max-workers",
                    )
                )
            self._running += 1
        outcome: list[TickResult] = []
        done = threading.Event()

        def work() -> None:
            try:
                outcome.append(fn())
            except BaseException as exc:  # the worker must always report back
                outcome.append(TickResult(error=ErrorInfo.from_exception(exc)))
            finally:
                with self._lock:
                    self._running -= 1
                done.set()

        threading.Thread(target=work, name=f"locus-eval {label}", daemon=True).start()
        if not done.wait(timeout):
            return TickResult(error=plain_error("TimeoutError", f"{label} timed out after {timeout:g}s"))
        return outcome[0]


def _result(tick: TickEvaluation) -> TickResult:
    return TickResult(
        run_requests=[run_request_dict(r) for r in tick.run_requests],
        skip_message=tick.skip_message,
        cursor=tick.cursor,
    )


def _error(exc: Exception) -> TickResult:
    # Locus's own errors (a bad return value, an unknown name) say what is
    # wrong and how to fix it, and their traceback is only Locus's frames;
    # anything else is the user's, shown from their first frame.
    if isinstance(exc, LocusError):
        return TickResult(error=plain_error(type(exc).__name__, str(exc)))
    return TickResult(error=ErrorInfo.from_user_exception(exc))


def evaluate_schedule(defs: Definitions, name: str, scheduled_time: float | None) -> TickResult:
    try:
        schedule = defs.get_schedule_def(name)
        zone = ZoneInfo(schedule.execution_timezone or "UTC")
        when = datetime.fromtimestamp(scheduled_time, zone) if scheduled_time is not None else datetime.now(zone)
        return _result(schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=when)))
    except Exception as exc:
        return _error(exc)


def evaluate_sensor(defs: Definitions, name: str, cursor: str | None, last_run_key: str | None) -> TickResult:
    try:
        sensor = defs.get_sensor_def(name)
        context = build_sensor_context(cursor=cursor, last_run_key=last_run_key, sensor_name=name)
        return _result(sensor.evaluate_tick(context))
    except Exception as exc:
        return _error(exc)
