"""Run monitoring with a fake launcher and a driven clock, on both storages:
start timeout, a dead worker (failed, or tagged to be resumed), the
``locus/max_runtime`` tag, and the cancel timeout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from locus.daemon.monitor import RESUME_TAG, RunMonitor
from locus.execution.events import Event, EventType, RunStatus
from locus.execution.runs import RunRecord
from locus.instance.config import RunMonitoringConfig
from locus.instance.instance import LocusInstance
from locus.launchers.base import WorkerHealth, WorkerStatus

T0 = 1_700_000_000.0


class FakeLauncher:
    def __init__(self) -> None:
        self.health: dict[str, WorkerHealth] = {}
        self.killed: list[str] = []

    def launch(self, run: RunRecord) -> bool:
        return True

    def terminate(self, run_id: str) -> bool:
        return False

    def check_run_worker(self, run: RunRecord) -> WorkerHealth:
        return self.health.get(run.run_id, WorkerHealth(WorkerStatus.RUNNING, 4242))

    def kill_run_worker(self, run: RunRecord) -> bool:
        self.killed.append(run.run_id)
        return True


@pytest.fixture
def instance(storage_url: str, tmp_path: Path) -> Iterator[LocusInstance]:
    with LocusInstance.for_url(storage_url, tmp_path) as opened:
        yield opened


def run_in(instance: LocusInstance, run_id: str, *events: tuple[EventType, float], **tags: str) -> None:
    instance.add_run(RunRecord(run_id, "job", status=RunStatus.QUEUED, tags=tags, created_at=T0))
    for event_type, at in events:
        instance.store_event(Event(run_id, event_type, timestamp=at))


def status(instance: LocusInstance, run_id: str) -> RunStatus:
    run = instance.get_run(run_id)
    assert run is not None
    return run.status


def last_message(instance: LocusInstance, run_id: str) -> str:
    return instance.get_events(run_id)[-1].event.message


def monitor(instance: LocusInstance, launcher: FakeLauncher, **config: float | bool) -> RunMonitor:
    return RunMonitor(instance, launcher, RunMonitoringConfig.model_validate(config))


def test_a_run_starting_past_the_start_timeout_fails_and_its_worker_is_killed(instance: LocusInstance) -> None:
    launcher = FakeLauncher()
    loop = monitor(instance, launcher, start_timeout_seconds=30)
    run_in(instance, "slow", (EventType.RUN_STARTING, T0))
    loop.tick(T0 + 29)
    assert status(instance, "slow") == RunStatus.STARTING and launcher.killed == []
    loop.tick(T0 + 31)
    assert status(instance, "slow") == RunStatus.FAILURE
    assert launcher.killed == ["slow"]
    assert "did not start within 30 s" in last_message(instance, "slow")


def test_a_started_run_whose_worker_died_fails_with_the_reason(instance: LocusInstance) -> None:
    launcher = FakeLauncher()
    run_in(instance, "orphan", (EventType.RUN_STARTING, T0), (EventType.RUN_START, T0 + 1))
    run_in(instance, "healthy", (EventType.RUN_STARTING, T0), (EventType.RUN_START, T0 + 1))
    launcher.health["orphan"] = WorkerHealth(WorkerStatus.DEAD, 777)
    monitor(instance, launcher).tick(T0 + 2)
    assert status(instance, "orphan") == RunStatus.FAILURE
    assert last_message(instance, "orphan") == "run worker process 777 exited without finishing the run"
    assert status(instance, "healthy") == RunStatus.STARTED


def test_with_resume_attempts_a_run_whose_worker_died_is_tagged_for_resuming(instance: LocusInstance) -> None:
    launcher = FakeLauncher()
    run_in(instance, "orphan", (EventType.RUN_STARTING, T0), (EventType.RUN_START, T0 + 1))
    run_in(instance, "resumed-once", (EventType.RUN_STARTING, T0), (EventType.RUN_START, T0 + 1),
           **{"locus/resume_attempt": "1"})
    for run_id in ("orphan", "resumed-once"):
        launcher.health[run_id] = WorkerHealth(WorkerStatus.DEAD, 777)
    monitor(instance, launcher, max_resume_run_attempts=1).tick(T0 + 2)
    orphan = instance.get_run("orphan")
    assert orphan is not None and orphan.status == RunStatus.FAILURE and orphan.tags[RESUME_TAG] == "true"
    assert "resuming it as a new run (attempt 1 of 1)" in last_message(instance, "orphan")
    resumed = instance.get_run("resumed-once")
    assert resumed is not None and resumed.status == RunStatus.FAILURE and RESUME_TAG not in resumed.tags


def test_a_run_over_its_max_runtime_tag_is_killed_and_failed(instance: LocusInstance) -> None:
    launcher = FakeLauncher()
    loop = monitor(instance, launcher)
    run_in(instance, "long", (EventType.RUN_STARTING, T0), (EventType.RUN_START, T0), **{"locus/max_runtime": "10"})
    run_in(instance, "untagged", (EventType.RUN_STARTING, T0), (EventType.RUN_START, T0))
    loop.tick(T0 + 9)
    assert status(instance, "long") == RunStatus.STARTED
    loop.tick(T0 + 1000)
    assert status(instance, "long") == RunStatus.FAILURE and launcher.killed == ["long"]
    assert "maximum runtime of 10 s" in last_message(instance, "long")
    assert status(instance, "untagged") == RunStatus.STARTED


def test_a_cancel_that_hangs_is_forced_after_the_cancel_timeout(instance: LocusInstance) -> None:
    launcher = FakeLauncher()
    loop = monitor(instance, launcher, cancel_timeout_seconds=60)
    run_in(instance, "stuck", (EventType.RUN_STARTING, T0), (EventType.RUN_START, T0),
           (EventType.RUN_CANCELING, T0 + 10))
    loop.tick(T0 + 69)
    assert status(instance, "stuck") == RunStatus.CANCELING
    loop.tick(T0 + 71)
    assert status(instance, "stuck") == RunStatus.CANCELED and launcher.killed == ["stuck"]


def test_a_worker_that_finished_the_run_as_it_exited_is_left_alone(instance: LocusInstance) -> None:
    class RacingLauncher(FakeLauncher):
        """The worker records SUCCESS between the monitor's listing and its check."""

        def check_run_worker(self, run: RunRecord) -> WorkerHealth:
            instance.store_event(Event(run.run_id, EventType.RUN_SUCCESS))
            return WorkerHealth(WorkerStatus.DEAD, 1)

    run_in(instance, "done", (EventType.RUN_STARTING, T0), (EventType.RUN_START, T0))
    monitor(instance, RacingLauncher()).tick(T0 + 1)
    assert status(instance, "done") == RunStatus.SUCCESS


def test_disabled_monitoring_does_nothing(instance: LocusInstance) -> None:
    launcher = FakeLauncher()
    run_in(instance, "slow", (EventType.RUN_STARTING, T0))
    monitor(instance, launcher, enabled=False, start_timeout_seconds=1).tick(T0 + 100)
    assert status(instance, "slow") == RunStatus.STARTING
