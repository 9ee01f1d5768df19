"""Where the API finds definitions: the snapshots of loaded code locations.

In local mode the workspace manager holds them. A replica without a manager
(several share one PostgreSQL) reads the registry instead, which says which
location is LOADED, at which endpoint, with which snapshot id, and fetches
that snapshot from the code server once per snapshot id. Nothing here
imports user code, and the cache is keyed by content id, so replicas never
disagree for longer than a reload takes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from locus.api.errors import ApiError
from locus.codeserver.client import CodeServerClient
from locus.codeserver.snapshot import LocationSnapshot
from locus.definitions.errors import LocusError
from locus.instance.instance import LocusInstance
from locus.storage.records import LocationRecord, LocationStatus
from locus.workspace.manager import LocationNotFound, WorkspaceManager

log = logging.getLogger(__name__)

# A code server that could not be reached is asked again after this long.
_RETRY_SECONDS = 5.0
_FETCH_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class LoadedLocation:
    name: str
    snapshot: LocationSnapshot


class SnapshotSource:
    def __init__(self, instance: LocusInstance, manager: WorkspaceManager | None) -> None:
        self._instance = instance
        self._manager = manager
        self._lock = threading.Lock()
        self._fetched: dict[tuple[str, str], LocationSnapshot] = {}
        self._failed: dict[tuple[str, str], float] = {}

    def loaded(self) -> list[LoadedLocation]:
        """Every location serving definitions now, by name."""
        if self._manager is not None:
            states = self._manager.locations()
            found = [LoadedLocation(s.name, s.snapshot) for s in states if s.snapshot is not None and s.is_loaded]
        else:
            found = []
            for record in self._instance.storage.get_locations():
                snapshot = self._remote(record)
                if snapshot is not None:
                    found.append(LoadedLocation(record.name, snapshot))
        return sorted(found, key=lambda loc: loc.name)

    def get(self, name: str) -> LocationSnapshot:
        """The snapshot of location ``name``; 404 if there is no such
        location, 409 (with the load error) if it serves no definitions now."""
        if self._manager is not None:
            try:
                state = self._manager.get(name)
            except LocationNotFound as exc:
                raise ApiError(404, "location_not_found", exc.message, exc.hint) from None
            if state.snapshot is not None and state.is_loaded:
                return state.snapshot
            return _not_loaded(name, state.status, state.load_error.summary() if state.load_error else state.detail)
        record = self._instance.storage.get_location(name)
        if record is None:
            known = ", ".join(r.name for r in self._instance.storage.get_locations()) or "(none)"
            raise ApiError(404, "location_not_found", f"no code location named '{name}'", f"known locations: {known}")
        snapshot = self._remote(record)
        if snapshot is None:
            if record.status == LocationStatus.LOADED:
                raise ApiError(
                    503, "location_unreachable", f"the code server of '{name}' at {record.endpoint} did not answer",
                    "check that the location's code server is running; the API retries in a few seconds",
                )
            return _not_loaded(name, record.status, record.load_error.summary() if record.load_error else None)
        return snapshot

    def _remote(self, record: LocationRecord) -> LocationSnapshot | None:
        if record.status != LocationStatus.LOADED or not record.endpoint or not record.snapshot_id:
            return None
        key = (record.name, record.snapshot_id)
        with self._lock:
            cached = self._fetched.get(key)
            failed_at = self._failed.get(key)
        if cached is not None:
            return cached
        if failed_at is not None and time.monotonic() - failed_at < _RETRY_SECONDS:
            return None
        try:
            with CodeServerClient(record.endpoint, default_timeout=_FETCH_TIMEOUT_SECONDS) as client:
                snapshot = client.snapshot()
        except LocusError as exc:
            log.warning("cannot fetch the snapshot of '%s' from %s: %s", record.name, record.endpoint, exc)
            with self._lock:
                self._failed[key] = time.monotonic()
            return None
        with self._lock:
            # Only the current snapshot of each location is worth keeping.
            for old in [k for k in self._fetched if k[0] == record.name]:
                del self._fetched[old]
            self._fetched[key] = snapshot
            self._failed.pop(key, None)
        return snapshot


def _not_loaded(name: str, status: LocationStatus, reason: str | None) -> LocationSnapshot:
    raise ApiError(
        409, "location_not_loaded",
        f"code location '{name}' serves no definitions now ({status.value})" + (f": {reason}" if reason else ""),
        "fix the code and reload the location (POST /api/locations/{name}/reload)"
        if status == LocationStatus.ERROR else "wait until it is LOADED",
        {"status": status.value},
    )
