"""The run queue: QUEUED runs are handed to the launcher, oldest first.

``tick`` is one pass; ``run`` loops until stopped, waking at once when the
API calls ``wake`` after queueing a run (SQLite has no LISTEN/NOTIFY, so the
poll interval is the fallback). Concurrency limits slot in as
``admit`` (which queued runs may start now) in the daemon issue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from locus.execution.events import RunStatus
from locus.execution.runs import RunRecord, RunsFilter
from locus.instance.instance import LocusInstance
from locus.launchers.local import RunLauncher

log = logging.getLogger(__name__)


class RunQueue:
    def __init__(self, instance: LocusInstance, launcher: RunLauncher, poll_interval: float = 0.5) -> None:
        self._instance = instance
        self._launcher = launcher
        self._poll_interval = poll_interval
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one tick at a time, whoever calls it

    def wake(self) -> None:
        """Ask the loop for a tick now (a run was just queued)."""
        self._wake.set()

    def queued(self) -> list[RunRecord]:
        """QUEUED runs, oldest first."""
        newest_first = self._instance.storage.get_runs(RunsFilter(statuses=(RunStatus.QUEUED,)))
        return newest_first[::-1]

    def admit(self, queued: Sequence[RunRecord]) -> list[RunRecord]:
        """Which of the queued runs (oldest first) may start now: all of them
        until concurrency limits exist."""
        return list(queued)

    def tick(self) -> list[str]:
        """Launch what may start now; returns the run ids handed to the launcher."""
        with self._lock:
            launched = []
            for run in self.admit(self.queued()):
                current = self._instance.get_run(run.run_id)
                if current is None or current.status != RunStatus.QUEUED:
                    continue  # deleted or canceled meanwhile
                try:
                    self._launcher.launch(current)
                except Exception:
                    log.exception("launching run %s failed", run.run_id)
                launched.append(run.run_id)
            return launched

    def run(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set."""
        while not stop.is_set():
            self._wake.clear()
            try:
                self.tick()
            except Exception:
                log.exception("run queue tick failed")
            if stop.is_set():
                return
            self._wake.wait(self._poll_interval)
