"""Run monitoring: runs that can no longer finish by themselves are ended
with the reason in their event log.

Each pass looks at the in-progress runs:

* STARTING longer than ``start_timeout_seconds``: the worker is killed and
  the run fails.
* STARTING or STARTED and the launcher reports the worker dead: the run
  fails with "run worker process <pid> exited without finishing the run".
  With ``max_resume_run_attempts`` the run is *resumed*: it still fails (its
  process is gone), tagged ``locus/resume``, and the retry loop re-executes
  it from failure as a new run (parent/root ids set) even where retries are
  off.
* STARTED longer than its ``locus/max_runtime`` tag (seconds): killed, failed.
* CANCELING longer than ``cancel_timeout_seconds``: killed, marked CANCELED.

Killing comes first: a worker that is still alive could otherwise record a
status after ours.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from locus.daemon.coordinator import IN_PROGRESS_STATUSES
from locus.execution.events import Event, EventType, RunStatus
from locus.execution.runs import RunRecord, RunsFilter
from locus.instance.config import RunMonitoringConfig
from locus.instance.instance import LocusInstance
from locus.launchers.base import RunLauncher, WorkerStatus

log = logging.getLogger(__name__)

MAX_RUNTIME_TAG = "locus/max_runtime"
# Set on a run failed because its worker died, when it is to be resumed; the
# number of resumes so far travels down the lineage in RESUME_ATTEMPT_TAG.
RESUME_TAG = "locus/resume"
RESUME_ATTEMPT_TAG = "locus/resume_attempt"


def max_runtime(run: RunRecord) -> float | None:
    """The run's ``locus/max_runtime`` tag in seconds; None when absent or invalid."""
    raw = run.tags.get(MAX_RUNTIME_TAG)
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds > 0 else None


class RunMonitor:
    name = "run_monitor"

    def __init__(
        self,
        instance: LocusInstance,
        launcher: RunLauncher,
        config: RunMonitoringConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._instance = instance
        self._launcher = launcher
        self._config = config if config is not None else instance.config.run_monitoring
        self.interval = self._config.poll_interval_seconds
        self._clock = clock

    def tick(self, now: float) -> None:
        if not self._config.enabled:
            return
        for run in self._instance.storage.get_runs(RunsFilter(statuses=IN_PROGRESS_STATUSES)):
            try:
                self.check(run, now)
            except Exception:
                log.exception("monitoring run %s failed", run.run_id)

    def check(self, run: RunRecord, now: float) -> None:
        """One run's check; what it found, if anything, is in its event log."""
        if run.status == RunStatus.CANCELING:
            self._check_canceling(run, now)
            return
        health = self._launcher.check_run_worker(run)
        if health.status == WorkerStatus.DEAD:
            self._worker_died(run, health.pid, health.message)
            return
        if run.status == RunStatus.STARTING:
            since = self._entered(run, EventType.RUN_STARTING)
            timeout = self._config.start_timeout_seconds
            if now - since > timeout:
                self._end(run, EventType.RUN_FAILURE, f"run did not start within {timeout:g} s; its worker was killed")
            return
        limit = max_runtime(run)
        if limit is not None and run.start_time is not None and now - run.start_time > limit:
            self._end(
                run,
                EventType.RUN_FAILURE,
                f"run exceeded its maximum runtime of {limit:g} s ({MAX_RUNTIME_TAG}); its worker was killed",
            )

    def _check_canceling(self, run: RunRecord, now: float) -> None:
        timeout = self._config.cancel_timeout_seconds
        if now - self._entered(run, EventType.RUN_CANCELING) > timeout:
            self._end(
                run,
                EventType.RUN_CANCELED,
                f"run did not stop within {timeout:g} s of being canceled; its worker was killed",
            )

    def _worker_died(self, run: RunRecord, pid: int | None, detail: str = "") -> None:
        current = self._instance.get_run(run.run_id)
        # The worker may have recorded the end of the run just before exiting.
        if current is None or current.status not in (RunStatus.STARTING, RunStatus.STARTED):
            return
        who = f"run worker process {pid}" if pid is not None else "the run worker process"
        # A worker that is not a local process (a Kubernetes pod) says what happened to it.
        message = f"{who} exited without finishing the run" + (f": {detail}" if detail and pid is None else "")
        attempt = int(current.tags.get(RESUME_ATTEMPT_TAG, "0") or 0)
        if attempt < self._config.max_resume_run_attempts:
            # Tag before failing: the retry loop acts on FAILURE runs, and must
            # see the tag when it first sees the run.
            self._instance.storage.add_tags(run.run_id, {RESUME_TAG: "true"})
            message += f"; resuming it as a new run (attempt {attempt + 1} of {self._config.max_resume_run_attempts})"
        self._instance.store_event(Event(run.run_id, EventType.RUN_FAILURE, message, level="ERROR"))
        log.warning("run %s: %s", run.run_id, message)

    def _end(self, run: RunRecord, event_type: EventType, message: str) -> None:
        self._launcher.kill_run_worker(run)
        current = self._instance.get_run(run.run_id)
        if current is None or current.status.is_finished:
            return
        level = "ERROR" if event_type == EventType.RUN_FAILURE else "WARNING"
        self._instance.store_event(Event(run.run_id, event_type, message, level=level))
        log.warning("run %s: %s", run.run_id, message)

    def _entered(self, run: RunRecord, event_type: EventType) -> float:
        """When the run entered its current status (its latest such event)."""
        records = self._instance.get_events(run.run_id, event_types=[event_type])
        return records[-1].event.timestamp if records else run.updated_at
