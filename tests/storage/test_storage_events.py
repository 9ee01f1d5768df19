"""The event log: order, identity across backends, the run status it
drives, the asset index, and retention."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from locus.definitions.asset_key import AssetKey
from locus.execution.events import ErrorInfo, Event, EventType, RunStatus
from locus.execution.runs import RunRecord, new_run_id
from locus.storage.sql_storage import SqlStorage


def run_events(run_id: str) -> list[Event]:
    """A realistic run's log, with every kind of field filled somewhere."""
    try:
        raise ValueError("bad row")
    except ValueError as exc:
        error = ErrorInfo.from_exception(exc)
    return [
        Event(run_id, EventType.RUN_START, "started", timestamp=10.0),
        Event(run_id, EventType.STEP_START, step_key="load", timestamp=10.5),
        Event(run_id, EventType.LOG, "héllo ✓", step_key="load", level="DEBUG", timestamp=10.6),
        Event(run_id, EventType.STEP_OUTPUT, step_key="load", data={"output_name": "result"}, timestamp=10.7),
        Event(
            run_id,
            EventType.ASSET_MATERIALIZATION,
            step_key="load",
            asset_key=AssetKey(["warehouse", "orders/2024"]),
            data={"metadata": {"rows": 3, "preview": [1.5, None, "x"]}},
            timestamp=10.8,
        ),
        Event(run_id, EventType.STEP_SUCCESS, step_key="load", data={"duration_ms": 12.5}, timestamp=10.9),
        Event(run_id, EventType.STEP_FAILURE, step_key="clean", error=error, level="ERROR", timestamp=11.0),
        Event(run_id, EventType.RUN_FAILURE, "1 step failed", error=error, timestamp=11.1),
    ]


def store_run(storage: SqlStorage, **run_fields: Any) -> RunRecord:
    run = RunRecord(run_id=new_run_id(), job_name="job", **run_fields)
    return storage.add_run(run)


def test_events_read_back_identical_and_in_order(storage: SqlStorage) -> None:
    run = store_run(storage)
    events = run_events(run.run_id)
    ids = [storage.store_event(e) for e in events]

    records = storage.get_events(run.run_id)

    assert [r.event for r in records] == events
    assert [r.storage_id for r in records] == ids == sorted(ids)


@pytest.mark.postgres
def test_sqlite_and_postgres_return_the_same_log(sqlite_url: str, postgres_url: str) -> None:
    logs = []
    for url in (sqlite_url, postgres_url):
        with SqlStorage(url) as storage:
            run = storage.add_run(RunRecord(run_id="same-run", job_name="job"))
            for event in run_events(run.run_id):
                storage.store_event(event)
            logs.append([r.event for r in storage.get_events(run.run_id)])
    assert logs[0] == logs[1] == run_events("same-run")


def test_reading_after_an_id_by_type_and_limit(storage: SqlStorage) -> None:
    run = store_run(storage)
    ids = [storage.store_event(e) for e in run_events(run.run_id)]

    assert [r.storage_id for r in storage.get_events(run.run_id, after_id=ids[2])] == ids[3:]
    assert [r.storage_id for r in storage.get_events(run.run_id, limit=2)] == ids[:2]
    steps = storage.get_events(run.run_id, event_types=[EventType.STEP_START, EventType.STEP_SUCCESS])
    assert [r.event.event_type for r in steps] == [EventType.STEP_START, EventType.STEP_SUCCESS]
    assert storage.get_events("other-run") == []


def test_run_events_move_the_run_status_and_times(storage: SqlStorage) -> None:
    run = store_run(storage, status=RunStatus.NOT_STARTED)

    def status_after(event_type: EventType, at: float) -> RunRecord:
        storage.store_event(Event(run.run_id, event_type, timestamp=at))
        stored = storage.get_run(run.run_id)
        assert stored is not None
        return stored

    queued = status_after(EventType.RUN_ENQUEUED, 1.0)
    assert (queued.status, queued.start_time, queued.end_time) == (RunStatus.QUEUED, None, None)
    started = status_after(EventType.RUN_START, 2.0)
    assert (started.status, started.start_time, started.updated_at) == (RunStatus.STARTED, 2.0, 2.0)
    # A step event is not a run event: the status stays.
    assert status_after(EventType.STEP_START, 2.5).status == RunStatus.STARTED
    # A resumed run keeps its first start time, as RunRecord.with_status does.
    assert status_after(EventType.RUN_START, 3.0).start_time == 2.0
    done = status_after(EventType.RUN_SUCCESS, 4.0)
    assert done == run.with_status(RunStatus.STARTED, 2.0).with_status(RunStatus.SUCCESS, 4.0)


def test_latest_materialization_per_asset(storage: SqlStorage) -> None:
    orders, users = AssetKey(["shop", "orders"]), AssetKey("users")
    first, second = store_run(storage), store_run(storage)

    def materialize(run: RunRecord, key: AssetKey, rows: int) -> int:
        return storage.store_event(
            Event(
                run.run_id, EventType.ASSET_MATERIALIZATION, asset_key=key, data={"metadata": {"rows": rows}}
            )
        )

    materialize(first, orders, 1)
    users_id = materialize(first, users, 5)
    orders_id = materialize(second, orders, 2)

    latest = storage.get_latest_materialization(orders)
    assert latest is not None and latest.storage_id == orders_id
    assert latest.event.run_id == second.run_id and latest.event.data == {"metadata": {"rows": 2}}
    assert storage.get_latest_materialization(AssetKey("never")) is None
    everything = storage.get_latest_materializations()
    assert {k: r.storage_id for k, r in everything.items()} == {orders: orders_id, users: users_id}
    assert list(storage.get_latest_materializations([users, AssetKey("never")])) == [users]

    # Deleting the run that made the latest one falls back to the one before.
    storage.delete_run(second.run_id)
    fallback = storage.get_latest_materialization(orders)
    assert fallback is not None and fallback.event.run_id == first.run_id


def test_purge_deletes_old_finished_runs_only(storage: SqlStorage) -> None:
    now = time.time()
    old_done = store_run(storage, status=RunStatus.SUCCESS, created_at=now - 7200)
    old_running = store_run(storage, status=RunStatus.STARTED, created_at=now - 7200)
    old_queued = store_run(storage, status=RunStatus.QUEUED, created_at=now - 7200)
    new_done = store_run(storage, status=RunStatus.FAILURE, created_at=now)
    for run in (old_done, old_running, old_queued, new_done):
        storage.store_event(Event(run.run_id, EventType.LOG, "x", timestamp=run.created_at))
    kept_asset = storage.store_event(
        Event(old_done.run_id, EventType.ASSET_MATERIALIZATION, asset_key=AssetKey("a"), timestamp=now - 7200)
    )

    result = storage.purge(older_than=3600)

    assert (result.runs_deleted, result.events_deleted) == (1, 1)
    assert storage.get_run(old_done.run_id) is None
    for run in (old_running, old_queued, new_done):
        assert storage.get_run(run.run_id) is not None
        assert len(storage.get_events(run.run_id)) == 1
    # The asset still shows when it was last materialised.
    latest = storage.get_latest_materialization(AssetKey("a"))
    assert latest is not None and latest.storage_id == kept_asset
    # A datetime cutoff works too; nothing else is old and finished.
    assert storage.purge(datetime.now() - timedelta(hours=1)).runs_deleted == 0
