"""Schedule/sensor state and ticks: state survives, a tick is created
exactly once even under a race."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from locus.execution.events import ErrorInfo
from locus.storage.errors import DuplicateTickError, UnknownTickError
from locus.storage.records import InstigatorState, TickRecord, TickStatus
from locus.storage.sql_storage import SqlStorage


def test_instigator_state_is_kept_and_replaced(storage: SqlStorage) -> None:
    state = InstigatorState("o1", "daily", "loc", "schedule", "RUNNING", cursor="c1", data={"n": 1})
    sensor = InstigatorState("o2", "watch", "other", "sensor")
    storage.set_instigator_state(state)
    storage.set_instigator_state(sensor)

    assert storage.get_instigator_state("o1") == state
    stopped = replace(state, status="STOPPED", cursor="c2", updated_at=state.updated_at + 1)
    storage.set_instigator_state(stopped)
    assert storage.get_instigator_state("o1") == stopped

    assert storage.get_instigator_states() == [stopped, sensor]
    assert storage.get_instigator_states(instigator_type="sensor") == [sensor]
    assert storage.get_instigator_states(location_name="loc") == [stopped]
    assert storage.delete_instigator_state("o1") is True
    assert storage.get_instigator_state("o1") is None


def test_a_tick_is_created_once_per_key(storage: SqlStorage) -> None:
    tick = storage.create_tick(TickRecord("o1", tick_key="2024-01-01T00:00", timestamp=100.0))
    assert tick.tick_id is not None

    with pytest.raises(DuplicateTickError, match="already exists"):
        storage.create_tick(TickRecord("o1", tick_key="2024-01-01T00:00", timestamp=101.0))
    # The same key of another schedule is a different tick.
    storage.create_tick(TickRecord("o2", tick_key="2024-01-01T00:00"))


def test_racing_daemons_create_one_tick(storage: SqlStorage) -> None:
    barrier = threading.Barrier(8)

    def claim(_: int) -> bool:
        barrier.wait()
        try:
            storage.create_tick(TickRecord("o1", tick_key="12:00"))
        except DuplicateTickError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(claim, range(8)))
    assert outcomes.count(True) == 1
    assert len(storage.get_ticks("o1")) == 1


def test_ticks_update_list_newest_first_and_purge(storage: SqlStorage) -> None:
    ticks = [storage.create_tick(TickRecord("o1", tick_key=str(t), timestamp=float(t))) for t in (1, 2, 3)]
    error = ErrorInfo("ValueError", "boom", "Traceback ...")
    done = replace(
        ticks[2],
        status=TickStatus.FAILURE,
        run_ids=("r1",),
        run_keys=("k1",),
        skip_reason=None,
        error=error,
        cursor="next",
    )
    storage.update_tick(done)

    assert storage.get_ticks("o1") == [done, ticks[1], ticks[0]]
    assert storage.get_ticks("o1", limit=1) == [done]
    with pytest.raises(UnknownTickError):
        storage.update_tick(TickRecord("o1", tick_key="never-created"))

    assert storage.purge_ticks(before=2.5) == 2
    assert storage.get_ticks("o1") == [done]
