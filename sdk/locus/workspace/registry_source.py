"""Registry mode: the workspace is whatever the code-location registry says.

On Kubernetes the operator runs each CodeLocation's code server and writes
the location into the instance storage's registry (name, status, endpoint
``host:port``...). A process with no workspace.yaml (the daemon) turns every
registered location that has an endpoint into a ``grpc_server`` entry, and
re-reads the registry every few seconds so that locations added, removed or
moved (a new endpoint) are followed without a restart. It only reads: the
manager it feeds must not own the registry (``owns_registry=False``).

The registry announces no changes (nothing NOTIFYs on a registry channel), so
this polls, on PostgreSQL as on SQLite; a poll is one small indexed read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from locus.storage.records import LocationRecord
from locus.workspace.config import LocationEntry, Workspace

if TYPE_CHECKING:  # kept out of the import: the CLI reads REGISTRY_POLL_SECONDS when it builds its parser
    from locus.instance.instance import LocusInstance
    from locus.workspace.manager import WorkspaceChanges, WorkspaceManager

__all__ = ["REGISTRY_POLL_SECONDS", "RegistryFollower", "registry_entry", "registry_workspace"]

log = logging.getLogger(__name__)

REGISTRY_POLL_SECONDS = 3.0


def registry_entry(record: LocationRecord) -> LocationEntry | None:
    """The grpc_server entry for a registered location: ``host:port`` (an
    IPv6 host in brackets) or ``unix:PATH``; None without a usable endpoint."""
    endpoint = (record.endpoint or "").strip()
    if not endpoint:
        return None
    if endpoint.startswith("unix:"):
        path = endpoint.removeprefix("unix:").removeprefix("//")
        return LocationEntry(record.name, "grpc_server", socket=path) if path else None
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return LocationEntry(record.name, "grpc_server", host=host, port=int(port))


def registry_workspace(
    records: Iterable[LocationRecord], on_unusable: Callable[[LocationRecord], None] | None = None
) -> Workspace:
    """Every registered location with a usable endpoint, by name. A location
    not serving yet (no endpoint) is left out; one whose endpoint cannot be
    read is left out and passed to ``on_unusable``."""
    entries = []
    for record in records:
        entry = registry_entry(record)
        if entry is not None:
            entries.append(entry)
        elif record.endpoint and on_unusable is not None:
            on_unusable(record)
    return Workspace(tuple(entries))


class RegistryFollower:
    """Keeps a manager's locations equal to the registry's: each pass
    (``tick``, every ``interval`` seconds) reads the registry and ``sync``s
    the manager. It has a daemon loop's shape (``name``, ``interval``,
    ``tick``), so the daemon runs it with the other loops, under its lease,
    with a heartbeat."""

    name = "code_locations"

    def __init__(
        self,
        instance: LocusInstance,
        manager: WorkspaceManager,
        interval: float = REGISTRY_POLL_SECONDS,
        on_sync: Callable[[WorkspaceChanges, Workspace], None] | None = None,
    ) -> None:
        if manager.owns_registry:
            raise ValueError("a manager that follows the registry must not write it: pass owns_registry=False")
        self._instance = instance
        self._manager = manager
        self.interval = interval
        self._on_sync = on_sync
        self._lock = threading.Lock()
        self._warned: set[tuple[str, str | None]] = set()

    def sync(self) -> WorkspaceChanges:
        """One pass: read the registry, start, stop or move locations to match."""
        with self._lock:
            workspace = registry_workspace(self._instance.storage.get_locations(), self._unusable)
            changes = self._manager.sync(workspace)
        if changes and self._on_sync is not None:
            self._on_sync(changes, workspace)
        return changes

    def tick(self, now: float) -> None:
        self.sync()

    def _unusable(self, record: LocationRecord) -> None:
        if (record.name, record.endpoint) not in self._warned:  # once, not every pass
            self._warned.add((record.name, record.endpoint))
            log.warning("code location '%s' is left out: its registered endpoint %r is not host:port",
                        record.name, record.endpoint)
