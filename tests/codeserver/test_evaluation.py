"""Schedule and sensor evaluation in the server's worker threads, without a
server: results, user errors with their traceback, timeouts and the bound."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import locus as dg
from locus.codeserver.evaluation import Evaluator, evaluate_schedule, evaluate_sensor
from locus.codeserver.results import TickResult


@dg.op
def noop() -> None:
    pass


@dg.job
def target() -> None:
    noop()


seen_times: list[datetime] = []


@dg.schedule("0 9 * * *", job=target, execution_timezone="Europe/Berlin")
def morning(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    assert context.scheduled_execution_time is not None
    seen_times.append(context.scheduled_execution_time)
    return dg.RunRequest(run_key=context.scheduled_execution_time.isoformat(), run_config={"ops": {}})


@dg.sensor(job=target)
def broken(context: dg.SensorEvaluationContext) -> None:
    raise KeyError("the user's bug")


DEFS = dg.Definitions(jobs=[target], schedules=[morning], sensors=[broken])


def test_schedule_sees_its_scheduled_time_in_its_time_zone() -> None:
    result = evaluate_schedule(DEFS, "morning", 1_700_000_000.0)
    assert result.error is None
    assert seen_times[-1].tzname() == "CET" and seen_times[-1].hour == 23
    (request,) = result.run_requests
    assert request == {
        "run_key": "2023-11-14T23:13:20+01:00",
        "job_name": "target",
        "run_config": {"ops": {}},
        "tags": {},
        "asset_selection": None,
    }


def test_a_failing_sensor_reports_the_users_traceback() -> None:
    result = evaluate_sensor(DEFS, "broken", None, None)
    assert result.error is not None and result.error.cls_name == "KeyError"
    assert "the user's bug" in result.error.message
    assert "test_evaluation.py" in result.error.traceback and "locus/definitions" not in result.error.traceback
    unknown = evaluate_sensor(DEFS, "nope", None, None)
    assert unknown.error is not None and "no sensor named 'nope'" in unknown.error.message


def test_timeouts_answer_at_once_and_the_bound_refuses_instead_of_queueing() -> None:
    evaluator = Evaluator(max_workers=1)
    release = threading.Event()

    def stuck() -> TickResult:
        release.wait(30)
        return TickResult(skip_message="late")

    started = time.monotonic()
    timed_out = evaluator.run("sensor 'stuck'", stuck, 0.2)
    assert timed_out.error is not None and timed_out.error.message == "sensor 'stuck' timed out after 0.2s"
    # The stuck function still holds the only worker: the next call is refused, not queued.
    refused = evaluator.run("sensor 'next'", lambda: TickResult(), 10)
    assert time.monotonic() - started < 2
    assert refused.error is not None and "--max-workers" in refused.error.message
    release.set()
    deadline = time.monotonic() + 10
    while evaluator.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert evaluator.run("sensor 'next'", lambda: TickResult(skip_message="ok"), 10).skip_message == "ok"
