"""The local launcher: STARTING then StartRun on the location's server; a
run whose location is not loaded fails with the reason instead of hanging."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from locus.execution.events import ErrorInfo, EventType, RunStatus
from locus.execution.runs import RunRecord
from locus.instance.instance import LocusInstance
from locus.launchers.local import LocalRunLauncher
from locus.storage.records import LocationStatus
from locus.workspace.manager import LocationNotFound, LocationNotLoaded, WorkspaceManager
from locus.workspace.state import LocationState


class FakeClient:
    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []
        self.canceled: list[str] = []

    def start_run(self, run_id: str, instance_home: str, env: Any = None, timeout: Any = None) -> int:
        self.started.append((run_id, instance_home))
        return 4242

    def cancel_run(self, run_id: str, timeout: Any = None) -> bool:
        self.canceled.append(run_id)
        return True


class FakeManager:
    def __init__(self, clients: dict[str, Any], states: dict[str, LocationState]) -> None:
        self.clients = clients
        self.states = states

    def client(self, name: str) -> Any:
        if name in self.clients:
            return self.clients[name]
        if name in self.states:
            raise LocationNotLoaded(self.states[name])
        raise LocationNotFound(f"no code location named '{name}'")


@pytest.fixture
def instance(tmp_path: Path) -> LocusInstance:
    return LocusInstance.for_url(f"sqlite:///{tmp_path / 'locus.db'}", tmp_path)


def launcher_for(instance: LocusInstance, manager: FakeManager) -> LocalRunLauncher:
    return LocalRunLauncher(cast(WorkspaceManager, manager), instance)


def test_launch_marks_the_run_starting_and_asks_the_code_server(instance: LocusInstance) -> None:
    client = FakeClient()
    run = instance.add_run(RunRecord("r1", "job", status=RunStatus.QUEUED, location_name="sales"))
    assert launcher_for(instance, FakeManager({"sales": client}, {})).launch(run)
    assert client.started == [("r1", str(instance.home))]
    events = [r.event for r in instance.get_events("r1")]
    assert [e.event_type for e in events] == [EventType.RUN_STARTING, EventType.ENGINE_EVENT]
    assert events[1].data["pid"] == 4242
    assert instance.get_run("r1").status == RunStatus.STARTING  # type: ignore[union-attr]


def test_a_run_of_a_broken_location_fails_with_the_load_error(instance: LocusInstance) -> None:
    broken = LocationState("broken", "python_file", LocationStatus.ERROR,
                           load_error=ErrorInfo("RuntimeError", "deliberately broken", "Traceback ..."))
    run = instance.add_run(RunRecord("r2", "job", status=RunStatus.QUEUED, location_name="broken"))
    assert not launcher_for(instance, FakeManager({}, {"broken": broken})).launch(run)
    stored = instance.get_run("r2")
    assert stored is not None and stored.status == RunStatus.FAILURE
    (failure,) = [r.event for r in instance.get_events("r2")]
    assert failure.event_type == EventType.RUN_FAILURE
    assert "broken" in failure.message and "deliberately broken" in failure.message


def test_a_run_of_an_unknown_location_fails_at_once(instance: LocusInstance) -> None:
    run = instance.add_run(RunRecord("r3", "job", status=RunStatus.QUEUED, location_name="gone"))
    assert not launcher_for(instance, FakeManager({}, {})).launch(run)
    assert instance.get_run("r3").status == RunStatus.FAILURE  # type: ignore[union-attr]


def test_terminate_cancels_through_the_code_server(instance: LocusInstance) -> None:
    client = FakeClient()
    instance.add_run(RunRecord("r4", "job", status=RunStatus.STARTED, location_name="sales"))
    assert launcher_for(instance, FakeManager({"sales": client}, {})).terminate("r4")
    assert client.canceled == ["r4"]
