"""The local run launcher: a queued run becomes a ``locus execute run``
child of its location's code server, so it runs in that location's Python
environment. The launcher itself never loads user code.

The worker's pid is recorded in the run's event log (an ENGINE_EVENT with
``data.pid``), so a monitor in another process on this host can check on it
and kill it."""

from __future__ import annotations

import os
import signal
import threading

from locus.definitions.errors import LocusError
from locus.execution.events import ErrorInfo, Event, EventType
from locus.execution.runs import RunRecord
from locus.instance.instance import LocusInstance
from locus.launchers.base import RunLauncher as RunLauncher
from locus.launchers.base import WorkerHealth, WorkerStatus
from locus.workspace.manager import WorkspaceManager


def worker_pid(instance: LocusInstance, run_id: str) -> int | None:
    """The pid the launcher recorded for the run's worker (the latest launch)."""
    for record in reversed(instance.get_events(run_id, event_types=[EventType.ENGINE_EVENT])):
        pid = record.event.data.get("pid")
        if isinstance(pid, int):
            return pid
    return None


def is_run_process(pid: int, run_id: str) -> bool:
    """Whether ``pid`` is a live (not zombie) process executing ``run_id``:
    the run id in its command line guards against a reused pid."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            args = cmdline.read().split(b"\0")
    except (OSError, IndexError):
        return False
    return state != "Z" and run_id.encode() in args


class LocalRunLauncher:
    def __init__(self, manager: WorkspaceManager, instance: LocusInstance) -> None:
        self._manager = manager
        self._instance = instance
        self._pids: dict[str, int] = {}  # run id -> worker pid, to spare the event-log lookup
        self._pids_lock = threading.Lock()

    def launch(self, run: RunRecord) -> bool:
        """STARTING, then ask the location's server to start the run. A run
        whose location is missing or not loaded fails with the reason at once
        rather than staying queued forever."""
        name = run.location_name
        try:
            if name is None:
                raise LocusError(f"run {run.run_id} names no code location", "launch runs through the API")
            client = self._manager.client(name)
        except LocusError as exc:
            self._fail(run, f"cannot launch the run: {exc.message}", exc)
            return False
        self._instance.store_event(
            Event(run.run_id, EventType.RUN_STARTING, f"launching in code location '{name}'")
        )
        try:
            pid = client.start_run(run.run_id, str(self._instance.home))
        except Exception as exc:
            self._fail(run, f"the code server of '{name}' could not start the run: {exc}", exc)
            return False
        self._instance.store_event(
            Event(
                run.run_id,
                EventType.ENGINE_EVENT,
                f"started as process {pid} by the code server of '{name}'",
                data={"pid": pid, "location_name": name},
            )
        )
        with self._pids_lock:
            self._pids[run.run_id] = pid
        return True

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run(run_id)
        if run is None or run.location_name is None or run.status.is_finished:
            return False
        try:
            return self._manager.client(run.location_name).cancel_run(run_id)
        except LocusError:
            return False

    def check_run_worker(self, run: RunRecord) -> WorkerHealth:
        """DEAD when the recorded worker process is gone, a zombie, or now
        some other program; UNKNOWN before a pid is recorded, or when the
        location's server (a ``grpc_server`` entry) may be on another host."""
        if self._remote(run):
            return WorkerHealth(WorkerStatus.UNKNOWN, message="the run's code server is not managed here")
        pid = self._pid(run.run_id)
        if pid is None:
            return WorkerHealth(WorkerStatus.UNKNOWN, message="no worker process recorded yet")
        if is_run_process(pid, run.run_id):
            return WorkerHealth(WorkerStatus.RUNNING, pid)
        self._forget(run.run_id)
        return WorkerHealth(WorkerStatus.DEAD, pid, f"run worker process {pid} is not running")

    def kill_run_worker(self, run: RunRecord) -> bool:
        """SIGKILL the worker when it runs on this host, else ask its code
        server to stop it (SIGTERM: the best a remote server offers)."""
        pid = None if self._remote(run) else self._pid(run.run_id)
        if pid is not None and is_run_process(pid, run.run_id):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                return False
            self._forget(run.run_id)
            return True
        if run.location_name is None:
            return False
        try:
            return self._manager.client(run.location_name).cancel_run(run.run_id)
        except Exception:  # the server is gone, and its runs with it
            return False

    def _remote(self, run: RunRecord) -> bool:
        if run.location_name is None:
            return False
        try:
            return self._manager.get(run.location_name).kind == "grpc_server"
        except LocusError:  # no longer in the workspace: its runs were ours
            return False

    def _pid(self, run_id: str) -> int | None:
        with self._pids_lock:
            pid = self._pids.get(run_id)
        if pid is None:
            pid = worker_pid(self._instance, run_id)
            if pid is not None:
                with self._pids_lock:
                    self._pids[run_id] = pid
        return pid

    def _forget(self, run_id: str) -> None:
        with self._pids_lock:
            self._pids.pop(run_id, None)

    def _fail(self, run: RunRecord, message: str, exc: BaseException) -> None:
        self._instance.store_event(
            Event(run.run_id, EventType.RUN_FAILURE, message, level="ERROR", error=ErrorInfo.from_exception(exc))
        )
