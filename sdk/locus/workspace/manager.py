"""The workspace manager: the local supervisor of code locations.

For every python_file/module/package entry it starts a ``locus api grpc``
child (on a Unix socket under ``$LOCUS_HOME/sockets``, logging to
``$LOCUS_HOME/logs/codeservers/<name>.log``); for every grpc_server entry it
follows a server someone else runs. Each location lives in its own watcher
thread (see ``locus.workspace.watch``), and every state change is written to
the storage's code-location registry so other processes can read it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from locus.codeserver.client import CodeServerClient
from locus.definitions.errors import LocusError
from locus.instance.instance import LocusInstance
from locus.storage.records import LocationStatus
from locus.workspace.config import Workspace
from locus.workspace.settings import LocationSettings
from locus.workspace.state import LocationState
from locus.workspace.watch import LocationWatcher, ManagedLocationWatcher, RemoteLocationWatcher

__all__ = ["LocationNotFound", "LocationNotLoaded", "LocationSettings", "LocationState", "WorkspaceManager"]

log = logging.getLogger(__name__)

_STOP_TIMEOUT_SECONDS = 20.0


class LocationNotFound(LocusError):
    """No location of that name in the workspace."""


class LocationNotLoaded(LocusError):
    """The location exists but serves no definitions now (loading, broken or unreachable)."""

    def __init__(self, state: LocationState) -> None:
        self.state = state
        reason = state.detail or state.status.value.lower()
        if state.load_error is not None:
            reason = state.load_error.summary()
        super().__init__(
            f"code location '{state.name}' is not loaded ({state.status.value}): {reason}",
            "fix the code and reload the location (POST /api/locations/{name}/reload)"
            if state.status == LocationStatus.ERROR
            else "wait until it is LOADED; its code server log is under $LOCUS_HOME/logs/codeservers/",
        )


class WorkspaceManager:
    def __init__(
        self,
        workspace: Workspace,
        instance: LocusInstance,
        settings: LocationSettings | None = None,
        on_change: Callable[[LocationState], None] | None = None,
    ) -> None:
        self.workspace = workspace
        self.instance = instance
        self.settings = settings or LocationSettings()
        self._on_change = on_change
        self._changed = threading.Condition()
        self._watchers: dict[str, LocationWatcher] = {}
        for entry in workspace.entries:
            settings_ = self.settings.for_entry(entry)
            watcher: LocationWatcher
            if entry.kind == "grpc_server":
                watcher = RemoteLocationWatcher(entry, settings_, self._record)
            else:
                watcher = ManagedLocationWatcher(entry, settings_, self._record, instance.home)
            self._watchers[entry.name] = watcher
        self._started = False
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        """Start every location in its own thread; returns at once (see
        ``wait_until_settled``). Registry rows of locations no longer in the
        workspace are removed."""
        if self._stopped:
            raise LocusError("this workspace manager was stopped", "create a new WorkspaceManager")
        if self._started:
            return
        self._started = True
        for record in self.instance.storage.get_locations():
            if record.name not in self._watchers:
                self.instance.storage.delete_location(record.name)
        for watcher in self._watchers.values():
            watcher.start()

    def stop(self) -> None:
        """Stop every code server we started (and the runs they started),
        all at once, and wait for them to exit."""
        for watcher in self._watchers.values():
            watcher.request_stop()
        deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
        for watcher in self._watchers.values():
            watcher.join(max(0.0, deadline - time.monotonic()))
        self._stopped = True

    def __enter__(self) -> WorkspaceManager:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reload(self, name: str) -> LocationState:
        """Restart that location's server (or re-fetch a grpc_server's
        snapshot); the others are untouched. Returns at once."""
        watcher = self._watcher(name)
        watcher.reload()
        return watcher.state

    # -- reading -----------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._watchers)

    def locations(self) -> list[LocationState]:
        return [w.state for w in self._watchers.values()]

    def get(self, name: str) -> LocationState:
        return self._watcher(name).state

    def settings_for(self, name: str) -> LocationSettings:
        """The location's settings: the manager's, with its workspace.yaml overrides."""
        return self._watcher(name).settings

    def client(self, name: str) -> CodeServerClient:
        """The client of a LOADED location; LocationNotLoaded (with the load
        error) otherwise."""
        watcher = self._watcher(name)
        state, client = watcher.state, watcher.client
        if not state.is_loaded or client is None:
            raise LocationNotLoaded(state)
        return client

    def wait_until_settled(self, timeout: float, names: Iterable[str] | None = None) -> bool:
        """Wait until each location (or each of ``names``) has finished its
        latest load attempt: LOADED, ERROR or UNREACHABLE. False on timeout."""
        watchers = [self._watcher(n) for n in names] if names is not None else list(self._watchers.values())
        deadline = time.monotonic() + timeout
        with self._changed:
            while not all(w.settled >= w.generation for w in watchers):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    # -- internals ---------------------------------------------------------------
    def _watcher(self, name: str) -> LocationWatcher:
        watcher = self._watchers.get(name)
        if watcher is None:
            known = ", ".join(self._watchers) or "(none)"
            raise LocationNotFound(f"no code location named '{name}'", f"the workspace's locations: {known}")
        return watcher

    def _record(self, state: LocationState) -> None:
        try:
            self.instance.storage.upsert_location(state.to_record())
        except Exception:
            log.exception("could not write location '%s' to the registry", state.name)
        with self._changed:
            self._changed.notify_all()
        if self._on_change is not None:
            self._on_change(state)
