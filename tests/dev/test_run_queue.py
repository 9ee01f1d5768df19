"""The run queue hands QUEUED runs to the launcher, oldest first, once each,
and wakes at once when asked."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from locus.daemon.run_queue import RunQueue
from locus.execution.events import Event, EventType, RunStatus
from locus.execution.runs import RunRecord
from locus.instance.instance import LocusInstance
from support import RecordingLauncher


@pytest.fixture
def instance(tmp_path: Path) -> LocusInstance:
    return LocusInstance.for_url(f"sqlite:///{tmp_path / 'locus.db'}", tmp_path)


def queue_run(instance: LocusInstance, run_id: str, created_at: float) -> None:
    instance.add_run(RunRecord(run_id, "job", status=RunStatus.QUEUED, created_at=created_at))
    instance.store_event(Event(run_id, EventType.RUN_ENQUEUED))


def test_tick_launches_queued_runs_oldest_first_and_only_once(instance: LocusInstance) -> None:
    launcher = RecordingLauncher(instance)
    queue = RunQueue(instance, launcher)
    for i, run_id in enumerate(["first", "second", "third"]):
        queue_run(instance, run_id, 1000.0 + i)
    instance.add_run(RunRecord("not-queued", "job"))

    assert queue.dequeue() == ["first", "second", "third"]
    assert queue.dequeue() == []
    assert launcher.launched == ["first", "second", "third"]
    assert instance.get_run("first") is not None and instance.get_run("first").status == RunStatus.STARTING  # type: ignore[union-attr]


def test_a_launcher_error_does_not_stop_the_other_runs(instance: LocusInstance) -> None:
    class Flaky(RecordingLauncher):
        def launch(self, run: RunRecord) -> bool:
            if run.run_id == "bad":
                raise RuntimeError("boom")
            return super().launch(run)

    launcher = Flaky(instance)
    queue_run(instance, "bad", 1.0)
    queue_run(instance, "good", 2.0)
    RunQueue(instance, launcher).tick(time.time())
    assert launcher.launched == ["good"]


def test_wake_starts_a_run_without_waiting_for_the_poll_interval(instance: LocusInstance) -> None:
    launcher = RecordingLauncher(instance)
    queue = RunQueue(instance, launcher, poll_interval=60)
    stop = threading.Event()
    thread = threading.Thread(target=queue.run, args=(stop,))
    thread.start()
    try:
        time.sleep(0.2)  # let the loop reach its (60 s) wait: the point of the test
        queue_run(instance, "woken", time.time())
        queue.wake()
        assert launcher.event.wait(5), "the woken queue did not launch the run"
        assert launcher.launched == ["woken"]
    finally:
        stop.set()
        queue.wake()
        thread.join(5)
    assert not thread.is_alive()
