"""One thread per code location: start (or connect to) its server, wait for
it to answer, fetch its snapshot or load error, then watch it, restarting a
dead server with exponential backoff. Each location has its own thread, so a
slow or broken one never delays the others."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from locus.codeserver.client import CodeServerClient
from locus.execution.events import ErrorInfo
from locus.storage.records import LocationStatus
from locus.workspace.config import LocationEntry
from locus.workspace.process import CodeServerProcess
from locus.workspace.settings import LocationSettings
from locus.workspace.state import LocationState

log = logging.getLogger(__name__)

_STARTUP_POLL_SECONDS = 0.1
# Consecutive failed health checks before a live process counts as unreachable.
_HEALTH_FAILURES = 3


class LocationWatcher:
    """Base: the state, the wake-up event and the thread; subclasses supply ``_loop``."""

    def __init__(
        self, entry: LocationEntry, settings: LocationSettings, on_change: Callable[[LocationState], None]
    ) -> None:
        self.entry = entry
        self.settings = settings
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state = LocationState(entry.name, entry.kind, endpoint=self._endpoint())
        self._client: CodeServerClient | None = None
        self._wake = threading.Event()
        self._stopping = False
        self._reload_requested = False
        # ``generation`` counts load requests (start, reloads); ``settled`` is
        # the last generation whose load attempt has finished either way.
        self.generation = 1
        self.settled = 0
        self._serving = 1  # the generation the current load attempt serves
        self._thread = threading.Thread(target=self._main, name=f"locus-location-{entry.name}", daemon=True)

    # -- used by the manager ---------------------------------------------------
    @property
    def state(self) -> LocationState:
        with self._lock:
            return self._state

    @property
    def client(self) -> CodeServerClient | None:
        with self._lock:
            return self._client

    def start(self) -> None:
        self._publish(status=LocationStatus.LOADING)
        self._thread.start()

    def reload(self) -> None:
        with self._lock:
            self.generation += 1
            self._reload_requested = True
        self._wake.set()

    def request_stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- for subclasses ------------------------------------------------------
    def _endpoint(self) -> str | None:
        return None

    def _loop(self) -> None:
        raise NotImplementedError

    def _main(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug here must not pass silently
            log.exception("watcher of location '%s' failed", self.entry.name)
            self._publish(
                status=LocationStatus.UNREACHABLE,
                detail=f"the supervisor stopped watching this location: {type(exc).__name__}: {exc}",
            )
            self._mark_settled()
        finally:
            self._set_client(None)

    def _publish(self, **changes: Any) -> LocationState:
        with self._lock:
            self._state = replace(self._state, **changes, updated_at=time.time())
            state = self._state
        try:
            self._on_change(state)
        except Exception:
            log.exception("could not record the state of location '%s'", self.entry.name)
        return state

    def _mark_settled(self) -> None:
        with self._lock:
            self.settled = max(self.settled, self._serving)
        self._on_change(self.state)

    def _take_reload(self) -> bool:
        with self._lock:
            requested, self._reload_requested = self._reload_requested, False
            self._serving = self.generation
        if requested:
            self._wake.clear()
        return requested

    def _reload_pending(self) -> bool:
        with self._lock:
            return self._reload_requested

    def _sleep(self, seconds: float) -> bool:
        """Wait; False when woken early by a stop or reload request."""
        if self._stopping or self._reload_pending():
            return False
        woke = self._wake.wait(seconds)
        if woke and not self._stopping and not self._reload_pending():
            self._wake.clear()
        return not (self._stopping or self._reload_pending())

    def _set_client(self, client: CodeServerClient | None) -> None:
        with self._lock:
            old, self._client = self._client, client
        if old is not None and old is not client:
            old.close()

    def _fetch(self, client: CodeServerClient, **changes: Any) -> None:
        """Read the snapshot (or the load error) and publish LOADED or ERROR."""
        from locus.codeserver.client import LocationLoadError

        rpc = self.settings.rpc_timeout_seconds
        info = client.server_info(timeout=rpc)
        common = {"server_id": info.server_id, "image": info.image, "pid": info.pid, **changes}
        try:
            snapshot_id = client.snapshot_id(timeout=rpc)
            snapshot = client.snapshot(timeout=rpc)
        except LocationLoadError as exc:
            error = exc.error_info or info.load_error or ErrorInfo.from_exception(exc)
            self._publish(status=LocationStatus.ERROR, snapshot=None, snapshot_id=None, load_error=error,
                          detail="the code failed to load", **common)
            return
        self._publish(status=LocationStatus.LOADED, snapshot=snapshot, snapshot_id=snapshot_id, load_error=None,
                      detail=None, **common)


class ManagedLocationWatcher(LocationWatcher):
    """A python_file/module/package entry: its server is our child process."""

    def __init__(
        self,
        entry: LocationEntry,
        settings: LocationSettings,
        on_change: Callable[[LocationState], None],
        home: Path,
    ) -> None:
        self._home = home
        super().__init__(entry, settings, on_change)

    def _loop(self) -> None:
        failures = 0
        restarting = False
        while not self._stopping:
            if self._take_reload():
                failures, restarting = 0, False
            ended, uptime = self._serve_once(restarting)
            if self._stopping:
                return
            if ended == "reload":
                continue
            if uptime >= self.settings.restart_backoff_max:
                failures = 0  # it ran fine for a good while: this is a fresh failure
            failures += 1
            restarting = True
            delay = self.settings.backoff(failures)
            state = self.state
            self._publish(restarts=state.restarts + 1,
                          detail=f"{state.detail or 'the code server stopped'}; restarting in {delay:g}s")
            self._sleep(delay)

    def _serve_once(self, restarting: bool) -> tuple[str, float]:
        """Run one server process until it dies or we stop it. Returns why it
        ended ("stopped", "reload", "crashed", "failed") and how long it was up."""
        if not restarting:
            # A restart keeps UNREACHABLE (or ERROR) until the server answers again.
            self._publish(status=LocationStatus.LOADING, detail="starting the code server")
        try:
            proc = CodeServerProcess.start(self.entry, self._home)
        except OSError as exc:
            self._publish(status=LocationStatus.ERROR, pid=None, load_error=ErrorInfo.from_exception(exc),
                          detail=f"cannot start the code server: {exc}")
            self._mark_settled()
            return "failed", 0.0
        client = CodeServerClient(proc.target, default_timeout=self.settings.rpc_timeout_seconds)
        self._set_client(client)
        try:
            return self._supervise(proc, client)
        finally:
            self._set_client(None)
            if proc.returncode() is None:
                proc.stop(with_runs=self._stopping)

    def _supervise(self, proc: CodeServerProcess, client: CodeServerClient) -> tuple[str, float]:
        self._publish(pid=proc.pid, endpoint=proc.target)
        answered = self._await_health(proc, client)
        if answered != "ok":
            return answered, 0.0
        healthy_since = time.monotonic()
        try:
            self._fetch(client, pid=proc.pid)
        except Exception as exc:  # died or stopped answering between health and fetch
            self._publish(status=LocationStatus.UNREACHABLE, detail=f"cannot fetch the snapshot: {exc}")
        self._mark_settled()
        last_good = self.state.status
        failed_checks = 0
        while self._sleep(self.settings.health_interval_seconds):
            code = proc.returncode()
            if code is not None:
                self._publish(status=LocationStatus.UNREACHABLE, pid=None,
                              detail=f"the code server exited with code {code}")
                return "crashed", time.monotonic() - healthy_since
            if _healthy(client, self.settings.rpc_timeout_seconds):
                failed_checks = 0
                if self.state.status == LocationStatus.UNREACHABLE:
                    self._publish(status=last_good, detail=None)
                continue
            failed_checks += 1
            if failed_checks == _HEALTH_FAILURES:
                self._publish(status=LocationStatus.UNREACHABLE, detail="the code server stopped answering")
            unanswered = failed_checks * self.settings.health_interval_seconds
            if unanswered > self.settings.startup_timeout_seconds:
                proc.stop()  # hung: restart it
                return "crashed", time.monotonic() - healthy_since
        return ("stopped" if self._stopping else "reload"), time.monotonic() - healthy_since

    def _await_health(self, proc: CodeServerProcess, client: CodeServerClient) -> str:
        timeout = self.settings.startup_timeout_seconds
        deadline = time.monotonic() + timeout
        while True:
            code = proc.returncode()
            if code is not None:
                tail = proc.log_tail()
                self._publish(
                    status=LocationStatus.ERROR, pid=None,
                    load_error=ErrorInfo("CodeServerExited", f"the code server exited with code {code} "
                                         f"before it answered (log: {proc.log_file})", tail),
                    detail=f"the code server exited with code {code} before it answered",
                )
                self._mark_settled()
                return "failed"
            if _healthy(client, min(1.0, self.settings.rpc_timeout_seconds)):
                return "ok"
            if time.monotonic() > deadline:
                message = f"the code server did not answer within {timeout:g}s (startup_timeout_seconds)"
                self._publish(status=LocationStatus.ERROR,
                              load_error=ErrorInfo("CodeServerTimeout", message, proc.log_tail()), detail=message)
                self._mark_settled()
                return "failed"
            if not self._sleep(_STARTUP_POLL_SECONDS):
                return "stopped" if self._stopping else "reload"


class RemoteLocationWatcher(LocationWatcher):
    """A grpc_server entry: someone else runs the server. We follow it, and
    re-fetch the snapshot when it restarts (a new server_id) or on reload."""

    def _endpoint(self) -> str | None:
        entry = self.entry
        if entry.socket is not None:
            return f"unix:{entry.socket}"
        return f"{entry.host}:{entry.port}"

    def _loop(self) -> None:
        target = self._endpoint()
        assert target is not None
        rpc = self.settings.rpc_timeout_seconds
        server_id: str | None = None
        while not self._stopping:
            reloading = self._take_reload()
            client = self.client
            if client is None:
                client = CodeServerClient(target, default_timeout=rpc)
                self._set_client(client)
            try:
                info = client.server_info(timeout=rpc)
                if reloading or info.server_id != server_id or self.state.status == LocationStatus.LOADING:
                    self._fetch(client)
                    server_id = info.server_id
                elif self.state.status == LocationStatus.UNREACHABLE:
                    self._publish(status=LocationStatus.ERROR if self.state.load_error else LocationStatus.LOADED,
                                  detail=None)
            except Exception as exc:
                # A fresh channel next time: a failed one waits out its own reconnect backoff.
                self._set_client(None)
                if self.state.status != LocationStatus.UNREACHABLE:
                    self._publish(status=LocationStatus.UNREACHABLE, detail=f"cannot reach {target}: {exc}")
            if self.settled < self.generation:
                self._mark_settled()
            self._sleep(self.settings.health_interval_seconds)


def _healthy(client: CodeServerClient, timeout: float) -> bool:
    try:
        return client.health(timeout=timeout)
    except Exception:
        return False
