"""What the workspace manager knows about one code location right now, and
how that becomes the registry's LocationRecord."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from locus.execution.events import ErrorInfo
from locus.storage.records import LocationRecord, LocationStatus
from locus.workspace.config import LocationKind

if TYPE_CHECKING:
    from locus.codeserver.snapshot import LocationSnapshot


@dataclass(frozen=True)
class LocationState:
    """A location as last observed. ``detail`` says in words why it is not
    LOADED (a crash, a start that timed out, a restart pending); ``pid`` is
    the server's process (ours for managed locations, as reported by the
    server for grpc_server entries)."""

    name: str
    kind: LocationKind
    status: LocationStatus = LocationStatus.LOADING
    endpoint: str | None = None
    image: str | None = None
    snapshot_id: str | None = None
    snapshot: LocationSnapshot | None = None
    load_error: ErrorInfo | None = None
    server_id: str | None = None
    pid: int | None = None
    detail: str | None = None
    restarts: int = 0
    updated_at: float = field(default_factory=time.time)

    @property
    def counts(self) -> Mapping[str, int]:
        return dict(self.snapshot.counts) if self.snapshot is not None else {}

    @property
    def is_loaded(self) -> bool:
        return self.status == LocationStatus.LOADED and self.snapshot is not None

    def to_record(self) -> LocationRecord:
        return LocationRecord(
            name=self.name,
            status=self.status,
            image=self.image,
            endpoint=self.endpoint,
            snapshot_id=self.snapshot_id,
            load_error=self.load_error,
            counts=self.counts,
            updated_at=self.updated_at,
        )
