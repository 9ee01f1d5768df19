"""The daemon process: one active daemon per instance, each of its loops in
its own thread, a heartbeat per loop per pass.

Being active means holding the instance storage's lease ``"daemon"`` (a
PostgreSQL advisory lock, or a flock beside the SQLite file). A daemon that
cannot get it stands by, asking again every heartbeat interval; when the
active daemon dies its database session (or file descriptor) goes with it,
the lease frees itself, and a standby takes over on its next try.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from locus.daemon.heartbeat import DEFAULT_HEARTBEAT_INTERVAL, MIN_HEARTBEAT_GAP_SECONDS, write_heartbeat
from locus.daemon.loops import Loop
from locus.instance.instance import LocusInstance
from locus.storage.base import Lease
from locus.workspace.manager import WorkspaceManager

log = logging.getLogger(__name__)

LEASE_NAME = "daemon"
_JOIN_TIMEOUT_SECONDS = 15.0


class DaemonProcess:
    """``run(stop)`` blocks: stand by until the lease is ours, call
    ``on_active`` (e.g. start the code servers), run the loops until ``stop``
    is set, then release the lease. ``start()``/``stop()`` do the same in a
    background thread."""

    def __init__(
        self,
        instance: LocusInstance,
        manager: WorkspaceManager | None,
        loops: Sequence[Loop],
        *,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        clock: Callable[[], float] = time.time,
        daemon_id: str | None = None,
        on_active: Callable[[], None] | None = None,
    ) -> None:
        self.instance = instance
        self.manager = manager
        self.loops = list(loops)
        self.heartbeat_interval = heartbeat_interval
        self.daemon_id = daemon_id or str(uuid.uuid4())
        self._clock = clock
        self._on_active = on_active
        self._stop = threading.Event()
        self._active = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        """True while this daemon holds the lease and runs its loops."""
        return self._active.is_set()

    def wait_active(self, timeout: float) -> bool:
        return self._active.wait(timeout)

    # -- in a background thread ------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, args=(self._stop,), name="locus-daemon", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake_loops()
        if self._thread is not None:
            self._thread.join(_JOIN_TIMEOUT_SECONDS + 5)

    # -- blocking ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        lease = self._acquire(stop)
        if lease is None:
            return
        try:
            if self._on_active is not None:
                self._on_active()
            self._run_loops(stop)
        finally:
            for loop in self.loops:
                close = getattr(loop, "close", None)
                if callable(close):
                    close()
            self._active.clear()
            lease.release()
            log.info("daemon %s stopped and released the lease", self.daemon_id)

    def _acquire(self, stop: threading.Event) -> Lease | None:
        announced = False
        while not stop.is_set():
            lease = self.instance.storage.acquire_lease(LEASE_NAME)
            if lease.held:
                log.info("daemon %s is active", self.daemon_id)
                return lease
            if not announced:
                log.info("another daemon is active on this instance; %s stands by", self.daemon_id)
                announced = True
            stop.wait(self.heartbeat_interval)
        return None

    def _run_loops(self, stop: threading.Event) -> None:
        threads = [
            threading.Thread(target=self._run_loop, args=(loop, stop), name=f"locus-{loop.name}", daemon=True)
            for loop in self.loops
        ]
        for thread in threads:
            thread.start()
        self._active.set()
        stop.wait()
        self._wake_loops()
        deadline = time.monotonic() + _JOIN_TIMEOUT_SECONDS
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("daemon loop thread %s did not stop in time", thread.name)

    def _run_loop(self, loop: Loop, stop: threading.Event) -> None:
        last_beat = -float("inf")

        def beat(now: float, error: str | None = None) -> None:
            nonlocal last_beat
            if now - last_beat < MIN_HEARTBEAT_GAP_SECONDS and error is None:
                return
            last_beat = now
            try:
                write_heartbeat(self.instance.storage, loop.name, self.daemon_id, now, loop.interval, error)
            except Exception:
                log.exception("writing the heartbeat of %s failed", loop.name)

        drive = getattr(loop, "run", None)
        if callable(drive):  # the loop waits for its own wake-ups (the run queue)
            try:
                drive(stop, on_tick=beat)
            except Exception:
                log.exception("daemon loop %s stopped on an error", loop.name)
            return
        while not stop.is_set():
            now = self._clock()
            error = None
            try:
                loop.tick(now)
            except Exception as exc:
                log.exception("daemon loop %s failed", loop.name)
                error = f"{type(exc).__name__}: {exc}"
            beat(now, error)
            stop.wait(loop.interval)

    def _wake_loops(self) -> None:
        for loop in self.loops:
            wake = getattr(loop, "wake", None)
            if callable(wake):
                wake()
