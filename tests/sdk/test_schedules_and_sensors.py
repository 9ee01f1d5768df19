"""Schedules and sensors as definitions: what they target, what one tick of
each asks for (``evaluate_tick``), and the mistakes refused when they are
defined rather than when the daemon first runs them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import locus as dg


@dg.op
def noop() -> None:
    pass


@dg.job
def nightly() -> None:
    noop()


@dg.job
def hourly() -> None:
    noop()


# -- ScheduleDefinition ---------------------------------------------------------------


def test_schedule_defaults_to_the_job_name_and_stopped() -> None:
    schedule_def = dg.ScheduleDefinition(job=nightly, cron_schedule="0 0 * * *")
    assert schedule_def.name == "nightly_schedule"
    assert schedule_def.job_name == "nightly"
    assert schedule_def.cron_schedule == "0 0 * * *"
    assert schedule_def.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule_def.execution_timezone is None


def test_schedule_keeps_its_settings() -> None:
    schedule_def = dg.ScheduleDefinition(
        name="berlin_mornings",
        job=nightly,
        cron_schedule=["0 6 * * 1-5", "0 9 * * 0,6"],
        execution_timezone="Europe/Berlin",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Weekday and weekend mornings.",
    )
    assert schedule_def.name == "berlin_mornings"
    assert schedule_def.cron_schedule == ("0 6 * * 1-5", "0 9 * * 0,6")
    assert schedule_def.execution_timezone == "Europe/Berlin"
    assert schedule_def.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule_def.description == "Weekday and weekend mornings."


@pytest.mark.parametrize("cron", ["@daily", "@hourly", "*/15 * * * *", "0 9 * * MON-FRI"])
def test_common_cron_forms_are_accepted(cron: str) -> None:
    assert dg.ScheduleDefinition(job=nightly, cron_schedule=cron).cron_schedule == cron


def test_tick_of_a_plain_schedule_requests_its_job_with_run_config_and_tags() -> None:
    run_config = {"ops": {"noop": {"config": {}}}}
    schedule_def = dg.ScheduleDefinition(
        job=nightly, cron_schedule="0 0 * * *", run_config=run_config, tags={"team": "data"}
    )
    tick = schedule_def.evaluate_tick(dg.build_schedule_context())
    assert tick.skip_message is None
    [request] = tick.run_requests
    assert request.job_name == "nightly"
    assert request.run_config == run_config
    assert request.tags == {"team": "data"}


def test_schedule_may_name_its_job_by_string() -> None:
    schedule_def = dg.ScheduleDefinition(job_name="nightly", cron_schedule="0 0 * * *")
    assert schedule_def.job_name == "nightly"
    assert dg.Definitions(jobs=[nightly], schedules=[schedule_def]).get_schedule_def("nightly_schedule")


@pytest.mark.parametrize("cron", ["* * *", "61 * * * *", "not a cron", "* * * * * *", "0 0 30 2 *", ""])
def test_bad_cron_strings_are_refused_at_definition(cron: str) -> None:
    with pytest.raises(dg.DefinitionError) as caught:
        dg.ScheduleDefinition(job=nightly, cron_schedule=cron)
    message = str(caught.value)
    assert "schedule 'nightly_schedule'" in message
    assert "cron" in message
    assert "*/15 * * * *" in message  # an example of a valid one


def test_one_bad_cron_string_in_a_list_is_named() -> None:
    with pytest.raises(dg.DefinitionError, match="cron_schedule '0 25 \\* \\* \\*' is not a valid cron string"):
        dg.ScheduleDefinition(job=nightly, cron_schedule=["0 1 * * *", "0 25 * * *"])


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "Europe/Berln", "../etc/passwd"])
def test_unknown_time_zones_are_refused_with_an_example(tz: str) -> None:
    with pytest.raises(dg.DefinitionError) as caught:
        dg.ScheduleDefinition(job=nightly, cron_schedule="0 0 * * *", execution_timezone=tz)
    message = str(caught.value)
    assert f"execution_timezone {tz!r} is not a known IANA time zone" in message
    assert "Europe/Berlin" in message


def test_schedule_targeting_an_op_instead_of_a_job_is_refused_with_a_hint() -> None:
    with pytest.raises(dg.DefinitionError, match="job must be a job definition") as caught:
        dg.ScheduleDefinition(job=noop, cron_schedule="0 0 * * *")
    assert "to_job()" in str(caught.value)


def test_schedule_without_a_job_is_refused() -> None:
    with pytest.raises(dg.DefinitionError, match="names no job"):
        dg.ScheduleDefinition(cron_schedule="0 0 * * *")


# -- @schedule ------------------------------------------------------------------------


def test_schedule_function_returning_run_config_requests_a_run_with_it() -> None:
    @dg.schedule("0 0 * * *", job=nightly, tags={"kind": "nightly"})
    def nightly_at_midnight(context: dg.ScheduleEvaluationContext) -> dict[str, object]:
        date = context.scheduled_execution_time.strftime("%Y-%m-%d")  # type: ignore[union-attr]
        return {"ops": {"noop": {"config": {"date": date}}}}

    assert nightly_at_midnight.name == "nightly_at_midnight"
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2024, 5, 1, tzinfo=UTC))
    [request] = nightly_at_midnight.evaluate_tick(context).run_requests
    assert request.run_config == {"ops": {"noop": {"config": {"date": "2024-05-01"}}}}
    assert request.job_name == "nightly"
    assert request.tags == {"kind": "nightly"}


def test_schedule_function_returning_run_requests_merges_schedule_tags() -> None:
    @dg.schedule("0 * * * *", job=hourly, tags={"source": "schedule"})
    def two_runs(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        return [
            dg.RunRequest(run_key="first", tags={"part": "1"}),
            dg.RunRequest(run_key="second", tags={"source": "override"}),
        ]

    tick = two_runs.evaluate_tick(dg.build_schedule_context())
    assert [r.run_key for r in tick.run_requests] == ["first", "second"]
    assert tick.run_requests[0].tags == {"source": "schedule", "part": "1"}
    assert tick.run_requests[1].tags == {"source": "override"}
    assert {r.job_name for r in tick.run_requests} == {"hourly"}


def test_schedule_function_skipping_says_why() -> None:
    @dg.schedule("0 * * * *", job=hourly)
    def only_on_weekdays() -> dg.SkipReason:
        return dg.SkipReason("weekend")

    tick = only_on_weekdays.evaluate_tick(dg.build_schedule_context())
    assert tick.run_requests == ()
    assert tick.skip_message == "weekend"


def test_schedule_function_returning_something_else_names_the_schedule() -> None:
    @dg.schedule("0 * * * *", job=hourly)
    def confused() -> int:
        return 42

    with pytest.raises(dg.DefinitionError, match="schedule 'confused' returned 42") as caught:
        confused.evaluate_tick(dg.build_schedule_context())
    assert "run config dict" in str(caught.value)


def test_schedule_docstring_is_its_description() -> None:
    @dg.schedule("0 * * * *", job=hourly)
    def documented() -> dict[str, object]:
        """Every hour, on the hour."""
        return {}

    assert documented.description == "Every hour, on the hour."


def test_schedule_decorator_checks_cron_at_definition() -> None:
    with pytest.raises(dg.DefinitionError, match="schedule 'bad'"):

        @dg.schedule("every day", job=hourly)
        def bad() -> dict[str, object]:
            return {}


# -- @sensor ---------------------------------------------------------------------------


def test_sensor_defaults() -> None:
    @dg.sensor(job=nightly)
    def watch() -> None:
        return None

    assert watch.name == "watch"
    assert watch.job_names == ("nightly",)
    assert watch.minimum_interval_seconds == 30
    assert watch.default_status == dg.DefaultSensorStatus.STOPPED


def test_sensor_settings_are_kept() -> None:
    @dg.sensor(
        jobs=[nightly, hourly], minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING, name="both"
    )
    def watch() -> None:
        """Watches a folder."""

    assert watch.name == "both"
    assert watch.job_names == ("nightly", "hourly")
    assert watch.minimum_interval_seconds == 5
    assert watch.default_status == dg.DefaultSensorStatus.RUNNING
    assert watch.description == "Watches a folder."


def test_sensor_may_name_its_job_by_string_as_in_dagster() -> None:
    @dg.sensor("nightly")
    def by_name() -> None:
        return None

    assert by_name.job_names == ("nightly",)


def test_sensor_without_parameters_yields_run_requests_with_run_keys() -> None:
    @dg.sensor(job=nightly)
    def new_files() -> Iterator[dg.RunRequest]:
        for name in ("a.csv", "b.csv"):
            yield dg.RunRequest(run_key=name, run_config={"ops": {"noop": {"config": {"file": name}}}})

    tick = new_files.evaluate_tick(dg.build_sensor_context())
    assert [r.run_key for r in tick.run_requests] == ["a.csv", "b.csv"]
    assert [r.job_name for r in tick.run_requests] == ["nightly", "nightly"]
    assert tick.run_requests[1].run_config == {"ops": {"noop": {"config": {"file": "b.csv"}}}}
    assert tick.skip_message is None


def test_sensor_reads_and_moves_its_cursor() -> None:
    @dg.sensor(job=nightly)
    def counter(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
        seen = int(context.cursor or 0)
        yield dg.RunRequest(run_key=f"run-{seen + 1}")
        context.update_cursor(str(seen + 1))

    first = counter.evaluate_tick(dg.build_sensor_context())
    assert (first.cursor, first.cursor_updated) == ("1", True)
    second = counter.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    assert second.cursor == "2"
    assert [r.run_key for r in second.run_requests] == ["run-2"]


def test_sensor_that_does_not_touch_the_cursor_keeps_it() -> None:
    @dg.sensor(job=nightly)
    def quiet(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        return dg.SkipReason(f"nothing new since {context.cursor}")

    tick = quiet.evaluate_tick(dg.build_sensor_context(cursor="42"))
    assert tick.run_requests == ()
    assert tick.skip_message == "nothing new since 42"
    assert (tick.cursor, tick.cursor_updated) == ("42", False)


def test_sensor_returning_nothing_skips() -> None:
    @dg.sensor(job=nightly)
    def idle() -> None:
        return None

    tick = idle.evaluate_tick(dg.build_sensor_context())
    assert tick.run_requests == ()
    assert tick.skip_message


def test_sensor_for_several_jobs_must_name_the_job_of_each_request() -> None:
    @dg.sensor(jobs=[nightly, hourly])
    def ambiguous() -> dg.RunRequest:
        return dg.RunRequest(run_key="x")

    with pytest.raises(
        dg.DefinitionError, match="sensor 'ambiguous' targets 2 jobs but a RunRequest names none"
    ) as caught:
        ambiguous.evaluate_tick(dg.build_sensor_context())
    assert "RunRequest(job_name=...)" in str(caught.value)

    @dg.sensor(jobs=[nightly, hourly])
    def explicit() -> dg.RunRequest:
        return dg.RunRequest(run_key="x", job_name="hourly")

    assert explicit.evaluate_tick(dg.build_sensor_context()).run_requests[0].job_name == "hourly"


def test_sensor_requesting_a_job_it_does_not_target_is_refused() -> None:
    @dg.sensor(job=nightly)
    def stray() -> dg.RunRequest:
        return dg.RunRequest(job_name="hourly")

    with pytest.raises(dg.DefinitionError, match="requested job 'hourly', which it does not target"):
        stray.evaluate_tick(dg.build_sensor_context())


def test_sensor_may_not_return_run_config_directly() -> None:
    @dg.sensor(job=nightly)
    def raw_config() -> dict[str, object]:
        return {"ops": {}}

    with pytest.raises(dg.DefinitionError, match="sensor 'raw_config' returned"):
        raw_config.evaluate_tick(dg.build_sensor_context())


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "targets no job"),
        ({"job": nightly, "minimum_interval_seconds": 0}, "minimum_interval_seconds must be"),
        ({"job": nightly, "minimum_interval_seconds": 2.5}, "minimum_interval_seconds must be"),
        ({"jobs": [noop]}, "job must be a job definition"),
    ],
)
def test_bad_sensor_arguments_are_refused_naming_the_sensor(kwargs: dict[str, object], fragment: str) -> None:
    def watch() -> None:
        return None

    with pytest.raises(dg.DefinitionError, match=fragment) as caught:
        dg.sensor(**kwargs)(watch)  # type: ignore[arg-type]
    assert "sensor 'watch'" in str(caught.value)


def test_build_sensor_context_carries_what_the_sensor_sees() -> None:
    context = dg.build_sensor_context(cursor="c", last_run_key="k", resources={"api": 1}, sensor_name="s")
    assert (context.cursor, context.last_run_key, context.resources, context.sensor_name) == ("c", "k", {"api": 1}, "s")


# -- RunRequest -----------------------------------------------------------------------


def test_run_requests_compare_by_content() -> None:
    assert dg.RunRequest(run_key="k", tags={"a": "1"}) == dg.RunRequest(run_key="k", tags={"a": "1"})
    assert dg.RunRequest(run_key="k") != dg.RunRequest(run_key="other")
    assert dg.RunRequest().run_config == {}


def test_run_request_asset_selection_becomes_asset_keys() -> None:
    request = dg.RunRequest(asset_selection=["a", "warehouse/orders", dg.AssetKey("b")])
    assert request.asset_selection == (dg.AssetKey("a"), dg.AssetKey(["warehouse", "orders"]), dg.AssetKey("b"))
