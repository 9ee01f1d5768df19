"""The instance of a run that keeps nothing: runs and events in memory,
outputs in a temporary folder. Used by ``materialize`` and
``execute_in_process`` when no instance is given."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from locus.execution.compute_logs import ComputeLogManager
from locus.execution.events import RUN_STATUS_BY_EVENT, Event, EventRecord, EventType
from locus.execution.runs import RunRecord


class EphemeralInstance:
    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="locus-ephemeral-")
        self._runs: dict[str, RunRecord] = {}
        self._events: dict[str, list[EventRecord]] = {}
        self._next_id = 1

    @property
    def compute_log_manager(self) -> ComputeLogManager | None:
        return None

    @property
    def storage_dir(self) -> Path:
        return Path(self._tmp.name) / "storage"

    def add_run(self, run: RunRecord) -> RunRecord:
        self._runs[run.run_id] = run
        self._events.setdefault(run.run_id, [])
        return run

    def get_run(self, run_id: str) -> RunRecord | None:
        return self._runs.get(run_id)

    def store_event(self, event: Event) -> int:
        storage_id = self._next_id
        self._next_id += 1
        self._events.setdefault(event.run_id, []).append(EventRecord(storage_id, event))
        status = RUN_STATUS_BY_EVENT.get(event.event_type)
        run = self._runs.get(event.run_id)
        if status is not None and run is not None:
            self._runs[event.run_id] = run.with_status(status, event.timestamp)
        return storage_id

    def get_events(
        self,
        run_id: str,
        after_id: int = 0,
        limit: int | None = None,
        event_types: Sequence[EventType] | None = None,
    ) -> list[EventRecord]:
        records = [
            r
            for r in self._events.get(run_id, [])
            if r.storage_id > after_id and (event_types is None or r.event.event_type in event_types)
        ]
        return records[:limit] if limit is not None else records
