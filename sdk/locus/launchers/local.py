"""The local run launcher: a queued run becomes a ``locus execute run``
child of its location's code server, so it runs in that location's Python
environment. The launcher itself never loads user code."""

from __future__ import annotations

from typing import Protocol

from locus.definitions.errors import LocusError
from locus.execution.events import ErrorInfo, Event, EventType
from locus.execution.runs import RunRecord
from locus.instance.instance import LocusInstance
from locus.workspace.manager import WorkspaceManager


class RunLauncher(Protocol):
    """What the run queue needs from a launcher (local now, Kubernetes later)."""

    def launch(self, run: RunRecord) -> bool:
        """Start the run; False when it could not start (and was failed)."""
        ...

    def terminate(self, run_id: str) -> bool: ...


class LocalRunLauncher:
    def __init__(self, manager: WorkspaceManager, instance: LocusInstance) -> None:
        self._manager = manager
        self._instance = instance

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
        return True

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run(run_id)
        if run is None or run.location_name is None or run.status.is_finished:
            return False
        try:
            return self._manager.client(run.location_name).cancel_run(run_id)
        except LocusError:
            return False

    def _fail(self, run: RunRecord, message: str, exc: BaseException) -> None:
        self._instance.store_event(
            Event(run.run_id, EventType.RUN_FAILURE, message, level="ERROR", error=ErrorInfo.from_exception(exc))
        )
