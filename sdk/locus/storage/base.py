"""The Storage protocol: everything the system keeps, behind one interface
so that SQLite (local) and PostgreSQL (cluster) are interchangeable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from locus.definitions.asset_key import AssetKey
from locus.execution.events import EventRecord
from locus.execution.runs import RunRecord, RunsFilter
from locus.execution.store import RunStore
from locus.storage.records import (
    DaemonHeartbeat,
    InstigatorState,
    InstigatorType,
    LocationRecord,
    PurgeResult,
    TickRecord,
)


class Listener(Protocol):
    def wait(self, timeout: float) -> list[str]:
        """Block until a notification arrives or ``timeout`` passes; return the
        payloads received (empty on timeout, and always on SQLite)."""
        ...

    def close(self) -> None: ...


class Lease(Protocol):
    @property
    def held(self) -> bool: ...

    def release(self) -> None: ...


class Storage(RunStore, Protocol):
    # -- runs --------------------------------------------------------------
    def get_runs(
        self, filters: RunsFilter | None = None, limit: int | None = None, cursor: str | None = None
    ) -> list[RunRecord]:
        """Newest first. ``cursor`` is the run_id of the last row of the previous page."""
        ...

    def count_runs(self, filters: RunsFilter | None = None) -> int: ...

    def delete_run(self, run_id: str) -> bool:
        """Delete a run, its tags and its events. False if there was no such run."""
        ...

    def add_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite tags on an existing run."""
        ...

    # -- assets ------------------------------------------------------------
    def get_latest_materialization(self, asset_key: AssetKey) -> EventRecord | None: ...

    def get_latest_materializations(self, asset_keys: Sequence[AssetKey] | None = None) -> dict[AssetKey, EventRecord]:
        """For the given keys (all materialised assets if None); keys never
        materialised are absent from the result."""
        ...

    # -- schedules and sensors ---------------------------------------------
    def get_instigator_state(self, origin_id: str) -> InstigatorState | None: ...

    def set_instigator_state(self, state: InstigatorState) -> InstigatorState: ...

    def add_queued_run(self, run: RunRecord, message: str) -> RunRecord:
        """Store ``run`` as QUEUED with its RUN_ENQUEUED event, atomically (and
        wake queue listeners); DuplicateRunError if the id exists."""
        ...

    def set_instigator_states(self, states: Sequence[InstigatorState]) -> None:
        """Store several states in one transaction (the scheduler's per-pass cursors)."""
        ...

    def get_instigator_states(
        self, instigator_type: InstigatorType | None = None, location_name: str | None = None
    ) -> list[InstigatorState]: ...

    def delete_instigator_state(self, origin_id: str) -> bool: ...

    def create_tick(self, tick: TickRecord) -> TickRecord:
        """Store a new tick and return it with its ``tick_id``. Raises
        DuplicateTickError if (origin_id, tick_key) exists."""
        ...

    def update_tick(self, tick: TickRecord) -> TickRecord: ...

    def get_ticks(self, origin_id: str, limit: int | None = None) -> list[TickRecord]:
        """Newest first."""
        ...

    def purge_ticks(self, before: float) -> int:
        """Delete ticks whose timestamp is before ``before``; returns how many."""
        ...

    # -- code-location registry --------------------------------------------
    def upsert_location(self, location: LocationRecord) -> LocationRecord: ...

    def get_location(self, name: str) -> LocationRecord | None: ...

    def get_locations(self) -> list[LocationRecord]: ...

    def delete_location(self, name: str) -> bool: ...

    # -- key/value ---------------------------------------------------------
    def kv_get(self, keys: Sequence[str]) -> dict[str, str]: ...

    def kv_set(self, values: Mapping[str, str]) -> None: ...

    # -- daemon: heartbeats, wake-ups, one active daemon ----------------------
    def add_daemon_heartbeat(self, heartbeat: DaemonHeartbeat) -> None: ...

    def get_daemon_heartbeats(self) -> dict[str, DaemonHeartbeat]: ...

    @property
    def supports_notifications(self) -> bool:
        """True on PostgreSQL (LISTEN/NOTIFY); SQLite callers poll."""
        ...

    def notify(self, channel: str, payload: str = "") -> None: ...

    def listen(self, channels: Sequence[str] = ...) -> AbstractContextManager[Listener]:
        """Wake-ups on ``channels`` (default: run queued/finished)."""
        ...

    def acquire_lease(self, name: str) -> Lease:
        """Try once to hold ``name``; a dead holder's lease frees itself."""
        ...

    # -- retention and lifecycle -------------------------------------------
    def purge(self, older_than: float | datetime) -> PurgeResult:
        """Retention: delete finished runs created before the cutoff, and their
        events. ``older_than`` is an age in seconds or an absolute datetime.
        Unfinished runs are never deleted, and an asset's latest
        materialisation event is kept so its "last materialised" survives."""
        ...

    def describe(self) -> str:
        """Where the data lives, for people: a URL without its password."""
        ...

    def schema_version(self) -> str | None:
        """The schema revision the database is at (None: no schema)."""
        ...

    def dispose(self) -> None: ...
