"""The run queue: QUEUED runs are handed to the launcher as the run
coordinator's limits allow (``locus.daemon.coordinator``).

``tick`` is one pass (the daemon's loop interface); ``run`` loops until
stopped. On PostgreSQL the loop waits on LISTEN/NOTIFY, so it passes again the
moment a run is queued or finishes; SQLite has no notifications, so there the
loop polls every ``interval`` seconds, and the API calls ``wake`` after
queueing a run so that `locus dev` starts it at once anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence

from locus.daemon.coordinator import IN_PROGRESS_STATUSES, admissible
from locus.execution.events import RunStatus
from locus.execution.runs import RunRecord, RunsFilter
from locus.instance.config import RunCoordinatorConfig
from locus.instance.instance import LocusInstance
from locus.launchers.base import RunLauncher
from locus.storage.base import Listener

log = logging.getLogger(__name__)

# How long one wait on notifications lasts at most, so that ``stop`` and
# ``wake`` are noticed promptly even with a long interval.
_WAIT_SLICE = 0.2


class RunQueue:
    name = "run_queue"

    def __init__(
        self,
        instance: LocusInstance,
        launcher: RunLauncher,
        poll_interval: float | None = None,
        config: RunCoordinatorConfig | None = None,
        clock: Callable[[], float] = time.time,
        still_running: Callable[[], Collection[str]] | None = None,
    ) -> None:
        self._instance = instance
        self._launcher = launcher
        self._config = config if config is not None else instance.config.run_coordinator
        self.interval = poll_interval if poll_interval is not None else self._config.dequeue_interval_seconds
        self._clock = clock
        # Runs that ended in storage but whose worker still runs (a Kubernetes
        # Job whose pod is exiting): they keep their slot until it is gone.
        self._still_running = still_running
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one pass at a time, whoever calls it

    @property
    def config(self) -> RunCoordinatorConfig:
        return self._config

    def wake(self) -> None:
        """Ask the loop for a pass now (a run was just queued)."""
        self._wake.set()

    def queued(self) -> list[RunRecord]:
        """QUEUED runs, oldest first."""
        newest_first = self._instance.storage.get_runs(RunsFilter(statuses=(RunStatus.QUEUED,)))
        return newest_first[::-1]

    def in_progress(self) -> list[RunRecord]:
        """The runs holding a slot: STARTING, STARTED or CANCELING, and
        those whose worker the launcher still sees running."""
        running = self._instance.storage.get_runs(RunsFilter(statuses=IN_PROGRESS_STATUSES))
        if self._still_running is not None:
            known = {run.run_id for run in running}
            for run_id in self._still_running():
                if run_id not in known and (run := self._instance.get_run(run_id)) is not None:
                    running.append(run)
        return running

    def admit(self, queued: Sequence[RunRecord], in_progress: Sequence[RunRecord] | None = None) -> list[RunRecord]:
        """Which of the queued runs may start now, in launch order."""
        running = self.in_progress() if in_progress is None else in_progress
        return admissible(queued, running, self._config)

    def dequeue(self) -> list[str]:
        """Launch what may start now; the run ids handed to the launcher."""
        with self._lock:
            queued = self.queued()
            if not queued or self._config.max_concurrent_runs == 0:
                return []
            launched = []
            for run in self.admit(queued):
                current = self._instance.get_run(run.run_id)
                if current is None or current.status != RunStatus.QUEUED:
                    continue  # deleted or canceled meanwhile
                try:
                    self._launcher.launch(current)
                except Exception:
                    log.exception("launching run %s failed", run.run_id)
                launched.append(run.run_id)
            return launched

    def tick(self, now: float) -> None:
        """One pass (the daemon's loop interface); the queue needs no clock."""
        self.dequeue()

    def run(self, stop: threading.Event, on_tick: Callable[[float], None] | None = None) -> None:
        """Pass until ``stop`` is set, waiting on notifications between
        passes where storage has them. ``on_tick`` is called after every pass
        (e.g. to write the daemon's heartbeat)."""
        while not stop.is_set():
            try:
                with self._instance.storage.listen() as listener:
                    self._loop(stop, listener, on_tick)
            except Exception:  # e.g. the LISTEN connection was lost: listen again
                log.exception("the run queue lost its storage connection; retrying")
                stop.wait(self.interval)

    def _loop(self, stop: threading.Event, listener: Listener, on_tick: Callable[[float], None] | None) -> None:
        notifications = self._instance.storage.supports_notifications
        while not stop.is_set():
            self._wake.clear()
            try:
                self.tick(self._clock())
            except Exception:
                log.exception("run queue pass failed")
            if on_tick is not None:
                on_tick(self._clock())
            if stop.is_set():
                return
            if not notifications:
                self._wake.wait(self.interval)
                continue
            deadline = time.monotonic() + self.interval
            while not (stop.is_set() or self._wake.is_set()):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or listener.wait(min(remaining, _WAIT_SLICE)):
                    break
