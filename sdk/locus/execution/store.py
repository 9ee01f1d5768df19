"""The part of storage the engine needs, as a protocol: execution sits below
the storage layer and must not import it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from locus.execution.compute_logs import ComputeLogManager
from locus.execution.events import Event, EventRecord, EventType
from locus.execution.runs import RunRecord


class RunStore(Protocol):
    def add_run(self, run: RunRecord) -> RunRecord: ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def store_event(self, event: Event) -> int:
        """Append an event; run-level events also move the run's status
        (``RUN_STATUS_BY_EVENT``) in the same transaction. Returns the storage id."""
        ...

    def get_events(
        self,
        run_id: str,
        after_id: int = 0,
        limit: int | None = None,
        event_types: Sequence[EventType] | None = None,
    ) -> list[EventRecord]: ...


class ExecutionInstance(RunStore, Protocol):
    """What a run needs from the instance it runs in: a run store, where step
    stdout/stderr go (``None``: not captured) and the default base folder of
    the filesystem IO manager."""

    @property
    def compute_log_manager(self) -> ComputeLogManager | None: ...

    @property
    def storage_dir(self) -> Path: ...
