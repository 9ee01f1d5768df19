"""The workspace manager: the local supervisor of code locations.

For every python_file/module/package entry it starts a ``locus api grpc``
child (on a Unix socket under ``$LOCUS_HOME/sockets``, logging to
``$LOCUS_HOME/logs/codeservers/<name>.log``); for every grpc_server entry it
follows a server someone else runs. Each location lives in its own watcher
thread (see ``locus.workspace.watch``), and every state change is written to
the storage's code-location registry so other processes can read it -- unless
the manager does not own the registry (``owns_registry=False``: on Kubernetes
the operator writes it, and a daemon only follows what it says, see
``locus.workspace.registry_source``).

``sync(workspace)`` changes the set of locations of a running manager: new
entries start, removed ones stop, changed ones restart, the others are left
alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from locus.codeserver.client import CodeServerClient
from locus.definitions.errors import LocusError
from locus.instance.instance import LocusInstance
from locus.storage.records import LocationStatus
from locus.workspace.config import LocationEntry, Workspace
from locus.workspace.settings import LocationSettings
from locus.workspace.state import LocationState
from locus.workspace.watch import LocationWatcher, ManagedLocationWatcher, RemoteLocationWatcher

__all__ = [
    "LocationNotFound",
    "LocationNotLoaded",
    "LocationSettings",
    "LocationState",
    "WorkspaceChanges",
    "WorkspaceManager",
]

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


@dataclass(frozen=True)
class WorkspaceChanges:
    """What one ``sync`` did, by location name."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


class WorkspaceManager:
    """``owns_registry``: write each location's state to the storage's
    registry and delete rows of locations not in the workspace (the local
    supervisor's job). False when someone else writes the registry (the
    operator, on Kubernetes): then the manager never writes or deletes a row."""

    def __init__(
        self,
        workspace: Workspace,
        instance: LocusInstance,
        settings: LocationSettings | None = None,
        on_change: Callable[[LocationState], None] | None = None,
        *,
        owns_registry: bool = True,
    ) -> None:
        self.workspace = workspace
        self.instance = instance
        self.settings = settings or LocationSettings()
        self.owns_registry = owns_registry
        self._on_change = on_change
        self._changed = threading.Condition()
        # Serialises start, stop and sync. ``_watchers`` is never changed in
        # place: sync assigns a new dict, so readers in other threads (the
        # daemon's loops) always see one consistent set without a lock.
        self._lifecycle = threading.RLock()
        self._watchers: dict[str, LocationWatcher] = {}
        self._watchers = {entry.name: self._new_watcher(entry) for entry in workspace.entries}
        self._started = False
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        """Start every location in its own thread; returns at once (see
        ``wait_until_settled``). If the manager owns the registry, rows of
        locations no longer in the workspace are removed."""
        with self._lifecycle:
            if self._stopped:
                raise LocusError("this workspace manager was stopped", "create a new WorkspaceManager")
            if self._started:
                return
            self._started = True
            if self.owns_registry:
                for record in self.instance.storage.get_locations():
                    if record.name not in self._watchers:
                        self.instance.storage.delete_location(record.name)
            for watcher in self._watchers.values():
                watcher.start()

    def stop(self) -> None:
        """Stop every code server we started (and the runs they started),
        all at once, and wait for them to exit."""
        with self._lifecycle:
            self._stopped = True
            _stop_all(self._watchers.values())

    def sync(self, workspace: Workspace) -> WorkspaceChanges:
        """Make the manager's locations those of ``workspace``: locations no
        longer in it stop (and, if the manager owns the registry, leave it),
        new ones start, and those whose entry changed (a grpc_server that
        moved, a file given another attribute...) restart with the new entry.
        The others keep their server, state and snapshot. Before ``start()``
        this only changes what ``start()`` will start. Blocks while removed
        locations stop (their code servers exit)."""
        with self._lifecycle:
            if self._stopped:
                raise LocusError("this workspace manager was stopped", "create a new WorkspaceManager")
            old = self._watchers
            new: dict[str, LocationWatcher] = {}
            for entry in workspace.entries:
                kept = old.get(entry.name)
                new[entry.name] = kept if kept is not None and _same(kept.entry, entry) else self._new_watcher(entry)
            changes = WorkspaceChanges(
                added=tuple(name for name in new if name not in old),
                removed=tuple(name for name in old if name not in new),
                changed=tuple(name for name in new if name in old and new[name] is not old[name]),
            )
            self.workspace = workspace
            if not changes:
                return changes
            self._watchers = new
            if self._started:
                # Stop first: a restarted managed location reuses its socket path.
                _stop_all(w for name, w in old.items() if new.get(name) is not w)
                if self.owns_registry:
                    for name in changes.removed:
                        self.instance.storage.delete_location(name)
                for name, watcher in new.items():
                    if old.get(name) is not watcher:
                        watcher.start()
        with self._changed:
            self._changed.notify_all()
        return changes

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
        wanted = None if names is None else list(names)
        for name in wanted or ():
            self._watcher(name)  # LocationNotFound for an unknown name
        deadline = time.monotonic() + timeout

        def settled() -> bool:
            current = self._watchers  # re-read: ``sync`` may replace a watcher meanwhile
            watchers = current.values() if wanted is None else [current[n] for n in wanted if n in current]
            return all(w.settled >= w.generation for w in watchers)

        with self._changed:
            while not settled():
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

    def _new_watcher(self, entry: LocationEntry) -> LocationWatcher:
        settings = self.settings.for_entry(entry)
        made: list[LocationWatcher] = []

        def on_change(state: LocationState) -> None:
            self._record(state, made[0] if made else None)

        watcher: LocationWatcher
        if entry.kind == "grpc_server":
            watcher = RemoteLocationWatcher(entry, settings, on_change)
        else:
            watcher = ManagedLocationWatcher(entry, settings, on_change, self.instance.home)
        made.append(watcher)
        return watcher

    def _record(self, state: LocationState, watcher: LocationWatcher | None) -> None:
        # A watcher that ``sync`` retired may still publish while it stops:
        # only the location's current watcher speaks for it.
        current = watcher is None or self._watchers.get(state.name) is watcher
        if current and self.owns_registry:
            try:
                self.instance.storage.upsert_location(state.to_record())
            except Exception:
                log.exception("could not write location '%s' to the registry", state.name)
        with self._changed:
            self._changed.notify_all()
        if current and self._on_change is not None:
            self._on_change(state)


def _same(old: LocationEntry, new: LocationEntry) -> bool:
    """Whether an entry is unchanged, wherever it moved to in its workspace file."""
    return replace(old, line=0) == replace(new, line=0)


def _stop_all(watchers: Iterable[LocationWatcher]) -> None:
    """Ask every watcher to stop at once, then wait for them together."""
    stopping = list(watchers)
    for watcher in stopping:
        watcher.request_stop()
    deadline = time.monotonic() + _STOP_TIMEOUT_SECONDS
    for watcher in stopping:
        watcher.join(max(0.0, deadline - time.monotonic()))
