"""Running jobs and assets: failures, skips, retries, config errors, compute
logs, and the same run on SQLite and PostgreSQL storage."""

from __future__ import annotations

from pathlib import Path

import pytest

import locus as dg
from locus.execution.compute_logs import read_step_logs
from locus.execution.events import Event, EventType, RunStatus
from locus.instance.instance import LocusInstance


@dg.op
def one() -> int:
    return 1


@dg.op
def explode(value: int) -> int:
    raise ValueError(f"cannot handle {value}")


@dg.op
def after(value: int) -> int:
    return value


@dg.op
def independent() -> str:
    return "still ran"


@dg.job
def partly_broken() -> None:
    after(explode(one()))
    independent()


def test_failing_step_fails_run_keeps_earlier_events_and_skips_downstream() -> None:
    result = partly_broken.execute_in_process(raise_on_error=False)
    assert not result.success
    by_step = {(e.step_key, e.event_type) for e in result.all_events}
    assert ("one", EventType.STEP_SUCCESS) in by_step
    assert ("independent", EventType.STEP_SUCCESS) in by_step
    assert ("after", EventType.STEP_SKIPPED) in by_step
    failure = result.get_step_failure_events()[0]
    assert failure.step_key == "explode" and failure.error is not None
    assert failure.error.cls_name == "ValueError" and "cannot handle 1" in failure.error.message
    assert "raise ValueError" in failure.error.traceback
    assert "locus/execution" not in failure.error.traceback
    assert result.all_events[-1].event_type == EventType.RUN_FAILURE
    assert "explode" in result.all_events[-1].message


def test_raise_on_error_reraises_the_users_exception() -> None:
    with pytest.raises(ValueError, match="cannot handle 1"):
        partly_broken.execute_in_process()


def test_retry_policy_retries_then_succeeds() -> None:
    attempts: list[int] = []

    @dg.op(retry_policy=dg.RetryPolicy(max_retries=2))
    def flaky(context: dg.OpExecutionContext) -> str:
        attempts.append(context.retry_number)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return "ok"

    @dg.job
    def retried() -> None:
        flaky()

    result = retried.execute_in_process()
    assert result.success and result.output_for_node("flaky") == "ok"
    assert attempts == [0, 1, 2]
    assert len(result.events_of_type(EventType.STEP_UP_FOR_RETRY)) == 2


def test_retry_policy_gives_up_after_max_retries() -> None:
    @dg.op(retry_policy=dg.RetryPolicy(max_retries=1))
    def always_fails() -> None:
        raise RuntimeError("never")

    @dg.job
    def hopeless() -> None:
        always_fails()

    result = hopeless.execute_in_process(raise_on_error=False)
    assert not result.success
    assert len(result.events_of_type(EventType.STEP_START)) == 2


class LimitConfig(dg.Config):
    limit: int


@dg.op
def take(config: LimitConfig) -> list[int]:
    return list(range(config.limit))


@dg.op(config_schema={"factor": dg.Field(int, default_value=2)})
def scale(context: dg.OpExecutionContext, numbers: list[int]) -> list[int]:
    return [n * context.op_config["factor"] for n in numbers]


@dg.job
def configured() -> None:
    scale(take())


def test_run_config_reaches_ops() -> None:
    result = configured.execute_in_process(run_config={"ops": {"take": {"config": {"limit": 3}}}})
    assert result.output_for_node("scale") == [0, 2, 4]


def test_run_config_errors_name_every_path() -> None:
    with pytest.raises(dg.RunConfigError) as caught:
        configured.execute_in_process(
            run_config={"ops": {"take": {"config": {"limit": "ten"}}, "scale": {"config": {"factor": "x"}},
                                "nope": {}}}
        )
    message = str(caught.value)
    assert "ops.take.config.limit" in message and "'ten'" in message
    assert "ops.scale.config.factor: expected int, got str" in message
    assert "ops.nope: no op named 'nope'" in message


def test_missing_required_config_is_reported_before_anything_runs() -> None:
    with pytest.raises(dg.RunConfigError, match=r"ops\.take\.config\.limit"):
        configured.execute_in_process()


def test_multiple_outputs_and_fan_in() -> None:
    @dg.op(out={"low": dg.Out(), "high": dg.Out()})
    def split() -> tuple[int, int]:
        return 1, 9

    @dg.op
    def total(values: list[int]) -> int:
        return sum(values)

    @dg.job
    def fan() -> None:
        low, high = split()
        total([low, high])

    result = fan.execute_in_process()
    assert result.output_for_node("split", "high") == 9
    assert result.output_for_node("total") == 10


def test_partial_selection_loads_upstream_from_its_io_manager(tmp_path: Path) -> None:
    @dg.asset
    def base() -> int:
        return 20

    @dg.asset
    def derived(base: int) -> int:
        return base + 1

    io = {"io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path))}
    dg.materialize([base, derived], resources=io, selection=[base])
    result = dg.materialize([base, derived], resources=io, selection="key:derived")
    assert [e.step_key for e in result.get_asset_materialization_events()] == ["derived"]
    assert result.asset_value("derived") == 21


def test_events_round_trip_through_json() -> None:
    result = partly_broken.execute_in_process(raise_on_error=False)
    for event in result.all_events:
        assert Event.from_json(event.to_json()) == event


@pytest.fixture
def instance(storage_url: str, tmp_path: Path) -> LocusInstance:
    return LocusInstance.for_url(storage_url, tmp_path / "home")


def test_runs_are_stored_with_status_and_step_output(instance: LocusInstance) -> None:
    @dg.asset
    def noisy() -> int:
        print("hello from the step")
        return 7

    result = dg.materialize([noisy], instance=instance)
    stored = instance.get_run(result.run_id)
    assert stored is not None and stored.status == RunStatus.SUCCESS
    assert stored.start_time is not None and stored.end_time is not None
    kinds = [r.event.event_type for r in instance.get_events(result.run_id)]
    assert kinds[0] == EventType.RUN_START and kinds[-1] == EventType.RUN_SUCCESS
    assert EventType.ASSET_MATERIALIZATION in kinds
    assert instance.storage.get_latest_materialization(dg.AssetKey("noisy")) is not None
    assert instance.compute_logs_dir is not None
    out, _err = read_step_logs(instance.compute_logs_dir, result.run_id, "noisy")
    assert out == "hello from the step\n"


def test_failed_run_is_stored_as_failure(instance: LocusInstance) -> None:
    result = partly_broken.execute_in_process(instance=instance, raise_on_error=False)
    stored = instance.get_run(result.run_id)
    assert stored is not None and stored.status == RunStatus.FAILURE
    failures = instance.get_events(result.run_id, event_types=[EventType.STEP_FAILURE])
    assert [r.event.step_key for r in failures] == ["explode"]


def test_executor_config_takes_dagsters_shape_and_names_wrong_keys() -> None:
    assert configured.execute_in_process(
        run_config={"ops": {"take": {"config": {"limit": 1}}}, "execution": {"config": {"retries": {"enabled": {}}}}}
    ).success
    with pytest.raises(dg.RunConfigError) as caught:
        configured.execute_in_process(
            run_config={"ops": {"take": {"config": {"limit": 1}}}, "execution": {"config": {"max_workers": 2}}}
        )
    assert "execution.config.max_workers: unknown field" in str(caught.value)
