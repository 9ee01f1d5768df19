"""Storage primitives of the daemon: heartbeats, run wake-ups (PostgreSQL
NOTIFY; SQLite polls) and the lease that keeps one daemon active."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from locus.execution.events import Event, EventType
from locus.execution.runs import RunRecord
from locus.storage.records import DaemonHeartbeat
from locus.storage.sql_storage import SqlStorage


def test_heartbeats_keep_the_latest_per_daemon_type(storage: Any) -> None:
    storage.add_daemon_heartbeat(DaemonHeartbeat("scheduler", "d1", 10.0, {"host": "a"}))
    storage.add_daemon_heartbeat(DaemonHeartbeat("scheduler", "d2", 20.0))
    storage.add_daemon_heartbeat(DaemonHeartbeat("sensors", "d2", 21.0))
    beats = storage.get_daemon_heartbeats()
    assert beats["scheduler"] == DaemonHeartbeat("scheduler", "d2", 20.0, {})
    assert set(beats) == {"scheduler", "sensors"}


@pytest.mark.postgres
def test_queued_and_finished_runs_wake_listeners_on_postgres(postgres_url: str) -> None:
    with SqlStorage(postgres_url) as listener_side, SqlStorage(postgres_url) as writer:
        assert listener_side.supports_notifications
        writer.add_run(RunRecord(run_id="r1", job_name="j"))
        with listener_side.listen() as listener:
            writer.store_event(Event("r1", EventType.RUN_ENQUEUED))
            assert listener.wait(timeout=10) == ["r1:QUEUED"]
            writer.store_event(Event("r1", EventType.RUN_START))  # not a queue-relevant change
            writer.store_event(Event("r1", EventType.RUN_SUCCESS))
            assert listener.wait(timeout=10) == ["r1:SUCCESS"]


def test_sqlite_listeners_poll(sqlite_url: str) -> None:
    with SqlStorage(sqlite_url) as storage, storage.listen() as listener:
        assert not storage.supports_notifications
        assert listener.wait(timeout=0.01) == []


def test_only_one_holder_of_a_lease(storage_url: str) -> None:
    with SqlStorage(storage_url) as first, SqlStorage(storage_url) as second:
        lease = first.acquire_lease("daemon")
        assert lease.held
        assert not second.acquire_lease("daemon").held
        assert second.acquire_lease("other").held
        lease.release()
        assert second.acquire_lease("daemon").held


HOLDER = """
import sys
from locus.storage.sql_storage import SqlStorage
lease = SqlStorage(sys.argv[1]).acquire_lease("daemon")
print("held" if lease.held else "not held", flush=True)
sys.stdin.read()
"""


def test_a_killed_holder_frees_its_lease(storage_url: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, storage_url], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with SqlStorage(storage_url) as standby:
            assert not standby.acquire_lease("daemon").held
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            deadline = time.monotonic() + 10
            while not (lease := standby.acquire_lease("daemon")).held:
                assert time.monotonic() < deadline, "the standby never got the lease"
                time.sleep(0.05)
            lease.release()
    finally:
        proc.kill()
        proc.wait()
