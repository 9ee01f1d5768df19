"""What the daemon's loops need from storage: heartbeats, wake-ups when runs
are queued or finish (PostgreSQL LISTEN/NOTIFY; SQLite callers poll), and a
lease that keeps exactly one daemon active per instance while others stand by."""

from __future__ import annotations

import fcntl
import json
import os
import select
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import sqlalchemy as sa

from locus.execution.events import RunStatus
from locus.storage.base import Lease, Listener
from locus.storage.database import Database
from locus.storage.records import DaemonHeartbeat
from locus.storage.tables import daemon_heartbeats

RUNS_CHANNEL = "locus_runs"
# Statuses whose arrival can free or fill a slot in the run queue.
WAKING_STATUSES = frozenset({RunStatus.QUEUED, RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED})


def _end_session(raw: Any) -> None:
    # Invalidate rather than return to the pool: the session must end, or its
    # advisory lock / LISTEN would live on in the next borrower's connection.
    raw.invalidate()
    raw.close()


class _PgListener:
    def __init__(self, db: Database, channels: Sequence[str]) -> None:
        self._raw = db.engine.raw_connection()
        self._conn: Any = cast(Any, self._raw.driver_connection)
        self._conn.autocommit = True
        for channel in channels:
            self._conn.execute(f'LISTEN "{channel}"')

    def wait(self, timeout: float) -> list[str]:
        return [n.payload for n in self._conn.notifies(timeout=timeout, stop_after=1)] + [
            n.payload for n in self._conn.notifies(timeout=0)
        ]

    def close(self) -> None:
        _end_session(self._raw)


class _PollingListener:
    """SQLite has no notifications: waiting is the caller's poll interval."""

    def wait(self, timeout: float) -> list[str]:
        select.select([], [], [], timeout)
        return []

    def close(self) -> None:
        pass


class _PgLease:
    """A session-level advisory lock on a dedicated connection: released by
    ``release()`` or, if the process dies, by PostgreSQL closing the session."""

    def __init__(self, db: Database, name: str) -> None:
        self._raw = db.engine.raw_connection()
        conn: Any = cast(Any, self._raw.driver_connection)
        conn.autocommit = True
        self._key = zlib.crc32(f"locus:{name}".encode())
        self._held = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()[0])
        if not self._held:
            self._raw.close()

    @property
    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        if self._held:
            self._held = False
            _end_session(self._raw)


class _FileLease:
    """An exclusive flock beside the SQLite file; the OS drops it with the process."""

    def __init__(self, path: str) -> None:
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SqlDaemon:
    _db: Database

    def add_daemon_heartbeat(self, heartbeat: DaemonHeartbeat) -> None:
        values = {
            "daemon_type": heartbeat.daemon_type,
            "daemon_id": heartbeat.daemon_id,
            "timestamp": heartbeat.timestamp,
            "info": json.dumps(dict(heartbeat.info)),
        }
        with self._db.write() as conn:
            conn.execute(self._db.upsert(daemon_heartbeats, values, keys=("daemon_type",)))

    def get_daemon_heartbeats(self) -> dict[str, DaemonHeartbeat]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(daemon_heartbeats))
            return {
                row.daemon_type: DaemonHeartbeat(
                    row.daemon_type, row.daemon_id, row.timestamp, json.loads(row.info or "{}")
                )
                for row in rows
            }

    @property
    def supports_notifications(self) -> bool:
        return self._db.dialect == "postgresql"

    def notify(self, channel: str, payload: str = "") -> None:
        if self._db.dialect == "postgresql":
            with self._db.write_one() as conn:
                conn.execute(sa.text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload})

    def notify_run_status(self, run_id: str, status: RunStatus) -> None:
        if status in WAKING_STATUSES:
            self.notify(RUNS_CHANNEL, f"{run_id}:{status.value}")

    @contextmanager
    def listen(self, channels: Sequence[str] = (RUNS_CHANNEL,)) -> Iterator[Listener]:
        listener: Listener = _PgListener(self._db, channels) if self._db.dialect == "postgresql" else _PollingListener()
        try:
            yield listener
        finally:
            listener.close()

    def acquire_lease(self, name: str) -> Lease:
        """Try once to become the holder of ``name`` (non-blocking); check ``.held``."""
        if self._db.dialect == "postgresql":
            return _PgLease(self._db, name)
        database = self._db.engine.url.database or "locus.db"
        return _FileLease(f"{database}.{name}.lock")
