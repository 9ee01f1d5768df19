"""The run coordinator's limits: the pure admission function, and the run
queue applying it against real storage (SQLite and PostgreSQL), including
the PostgreSQL queue waking on NOTIFY instead of its poll interval."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from locus.daemon.coordinator import admissible, dequeue_order
from locus.daemon.run_queue import RunQueue
from locus.execution.events import Event, EventType, RunStatus
from locus.execution.runs import RunRecord
from locus.instance.config import RunCoordinatorConfig, parse_instance_config
from locus.instance.instance import LocusInstance
from support import RecordingLauncher


def coordinator(text: str) -> RunCoordinatorConfig:
    return parse_instance_config(text).run_coordinator


def queued(run_id: str, created_at: float, **tags: str) -> RunRecord:
    return RunRecord(run_id, "job", status=RunStatus.QUEUED, tags=tags, created_at=created_at)


def running(run_id: str, **tags: str) -> RunRecord:
    return RunRecord(run_id, "job", status=RunStatus.STARTED, tags=tags)


def ids(runs: list[RunRecord]) -> list[str]:
    return [run.run_id for run in runs]


# -- the pure function -------------------------------------------------------------------------------------


def test_max_concurrent_runs_counts_the_runs_in_progress() -> None:
    config = coordinator("run_coordinator: {max_concurrent_runs: 3}")
    waiting = [queued(f"q{i}", i) for i in range(5)]
    assert ids(admissible(waiting, [], config)) == ["q0", "q1", "q2"]
    assert ids(admissible(waiting, [running("r1"), running("r2")], config)) == ["q0"]
    assert admissible(waiting, [running(f"r{i}") for i in range(3)], config) == []


def test_unlimited_and_paused() -> None:
    waiting = [queued(f"q{i}", i) for i in range(4)]
    assert len(admissible(waiting, [running("r")] * 50, coordinator(""))) == 4
    assert admissible(waiting, [], coordinator("run_coordinator: {max_concurrent_runs: 0}")) == []


def test_a_tag_limit_counts_every_value_of_the_key_together() -> None:
    config = coordinator("run_coordinator:\n  tag_concurrency_limits: [{key: db, limit: 2}]")
    waiting = [queued("a", 1, db="x"), queued("b", 2, db="y"), queued("c", 3), queued("d", 4, db="z")]
    assert ids(admissible(waiting, [running("r", db="w")], config)) == ["a", "c"]


def test_a_tag_limit_with_a_value_counts_only_that_value() -> None:
    config = coordinator("run_coordinator:\n  tag_concurrency_limits: [{key: db, value: redshift, limit: 1}]")
    waiting = [queued("a", 1, db="redshift"), queued("b", 2, db="redshift"), queued("c", 3, db="pg")]
    assert ids(admissible(waiting, [], config)) == ["a", "c"]
    assert ids(admissible(waiting, [running("r", db="redshift")], config)) == ["c"]


def test_a_limit_per_unique_value_limits_each_value_on_its_own() -> None:
    config = coordinator(
        "run_coordinator:\n  tag_concurrency_limits: [{key: tenant, value: {applyLimitPerUniqueValue: true}, limit: 1}]"
    )
    waiting = [
        queued("a1", 1, tenant="a"),
        queued("a2", 2, tenant="a"),
        queued("b1", 3, tenant="b"),
        queued("c1", 4, tenant="c"),
        queued("none", 5),
    ]
    assert ids(admissible(waiting, [running("r", tenant="c")], config)) == ["a1", "b1", "none"]


def test_a_run_held_by_a_tag_limit_does_not_hold_the_runs_behind_it_but_the_global_limit_does() -> None:
    config = coordinator("run_coordinator:\n  max_concurrent_runs: 2\n  tag_concurrency_limits: [{key: db, limit: 1}]")
    waiting = [queued("a", 1, db="x"), queued("b", 2, db="x"), queued("c", 3), queued("d", 4)]
    assert ids(admissible(waiting, [], config)) == ["a", "c"]


def test_priority_first_then_oldest_first() -> None:
    waiting = [
        queued("old", 1),
        queued("new-high", 9, **{"locus/priority": "5"}),
        queued("mid-high", 5, **{"locus/priority": "5"}),
        queued("low", 0, **{"locus/priority": "-1"}),
        queued("bad-tag", 2, **{"locus/priority": "urgent"}),
    ]
    assert ids(dequeue_order(waiting)) == ["mid-high", "new-high", "old", "bad-tag", "low"]
    config = coordinator("run_coordinator: {max_concurrent_runs: 1}")
    assert ids(admissible(waiting, [], config)) == ["mid-high"]


def test_a_malformed_limit_value_names_the_field() -> None:
    from locus.instance.errors import InstanceConfigError

    text = "run_coordinator:\n  tag_concurrency_limits: [{key: db, value: {perValue: true}, limit: 1}]"
    with pytest.raises(InstanceConfigError, match=r"tag_concurrency_limits\.0\.value: must be a string"):
        parse_instance_config(text)


# -- the queue on real storage ------------------------------------------------------------------------------


@pytest.fixture
def instance(storage_url: str, tmp_path: Path) -> Iterator[LocusInstance]:
    with LocusInstance.for_url(storage_url, tmp_path) as opened:
        yield opened


def enqueue(instance: LocusInstance, run_id: str, created_at: float, tags: Mapping[str, str] | None = None) -> None:
    instance.add_run(RunRecord(run_id, "job", status=RunStatus.QUEUED, tags=tags or {}, created_at=created_at))
    instance.store_event(Event(run_id, EventType.RUN_ENQUEUED))


def finish(instance: LocusInstance, run_id: str) -> None:
    instance.store_event(Event(run_id, EventType.RUN_SUCCESS))


def test_the_queue_keeps_to_the_limits_as_runs_finish(instance: LocusInstance) -> None:
    config = coordinator(
        "run_coordinator:\n  max_concurrent_runs: 2\n"
        "  tag_concurrency_limits: [{key: tenant, value: {applyLimitPerUniqueValue: true}, limit: 1}]"
    )
    launcher = RecordingLauncher(instance)
    queue = RunQueue(instance, launcher, config=config)
    enqueue(instance, "a1", 1, {"tenant": "a"})
    enqueue(instance, "a2", 2, {"tenant": "a"})
    enqueue(instance, "b1", 3, {"tenant": "b"})
    enqueue(instance, "urgent", 4, {"locus/priority": "10"})

    assert queue.dequeue() == ["urgent", "a1"]
    assert queue.dequeue() == []  # two in progress
    finish(instance, "urgent")
    assert queue.dequeue() == ["b1"]  # a2 waits for tenant a; b1, behind it, may start
    assert queue.dequeue() == []  # both global slots taken (a1, b1)
    finish(instance, "a1")
    assert queue.dequeue() == ["a2"]
    assert instance.get_run("a2").status == RunStatus.STARTING  # type: ignore[union-attr]


def test_a_paused_queue_launches_nothing(instance: LocusInstance) -> None:
    launcher = RecordingLauncher(instance)
    enqueue(instance, "waits", 1)
    RunQueue(instance, launcher, config=coordinator("run_coordinator: {max_concurrent_runs: 0}")).tick(time.time())
    assert launcher.launched == []
    assert instance.get_run("waits").status == RunStatus.QUEUED  # type: ignore[union-attr]


@pytest.mark.postgres
def test_on_postgres_the_queue_wakes_on_notify_not_its_interval(postgres_url: str, tmp_path: Path) -> None:
    """No ``wake()``: the run is queued through another connection (as the API
    or a schedule in another process would) and the NOTIFY alone starts it."""
    with (
        LocusInstance.for_url(postgres_url, tmp_path) as instance,
        LocusInstance.for_url(postgres_url, tmp_path) as other,
    ):
        launcher = RecordingLauncher(instance)
        queue = RunQueue(instance, launcher, poll_interval=60)
        stop = threading.Event()
        thread = threading.Thread(target=queue.run, args=(stop,))
        thread.start()
        try:
            assert launcher.event.wait(0) is False
            time.sleep(0.3)  # let the loop reach its 60 s wait: the point of the test
            started = time.monotonic()
            enqueue(other, "notified", time.time())
            assert launcher.event.wait(5), "the queue did not wake on NOTIFY"
            assert time.monotonic() - started < 1.0
            assert launcher.launched == ["notified"]
        finally:
            stop.set()
            thread.join(5)
        assert not thread.is_alive(), "the queue did not stop within its wait slice"
