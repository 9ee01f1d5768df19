"""StartRun / CancelRun: a stored run executes as `locus execute run` in a
child of the code server, and cancelling it SIGTERMs that child."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from codeserver_support import LOCATIONS, RunningServer, running_server, short_tmp_dir

from locus.execution.api import create_run
from locus.execution.code_pointer import CodePointer
from locus.execution.events import EventType, RunStatus
from locus.instance.instance import LocusInstance


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("LOCUS_HOME", str(path))
    return path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with short_tmp_dir() as tmp, running_server(
        ["-f", str(LOCATIONS / "service_location.py"), "--location-name", "service"],
        cwd=tmp,
        log=tmp_path / "server.log",
        socket_path=tmp / "s.sock",
    ) as running:
        yield running


def _await_status(instance: LocusInstance, run_id: str, wanted: RunStatus, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        run = instance.get_run(run_id)
        status = run.status if run is not None else None
        if status == wanted:
            return
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} is {status}, not {wanted}, after {timeout}s")


def _await_step_start(instance: LocusInstance, run_id: str, step: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r.event.step_key == step for r in instance.get_events(run_id, event_types=[EventType.STEP_START])):
            return
        time.sleep(0.05)
    raise AssertionError(f"step {step} of run {run_id} did not start within {timeout}s")


def _parent_pid(pid: int) -> int:
    # /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ")".
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_start_run_executes_a_stored_run_in_a_child_of_the_server(server: RunningServer, home: Path) -> None:
    with server.client() as client, LocusInstance.get() as instance:
        pointer = CodePointer.from_dict(client.server_info().code_pointer)
        run = create_run(pointer, "quick", instance, location_name="service")
        client.start_run(run.run_id, str(home))
        _await_status(instance, run.run_id, RunStatus.SUCCESS)


def test_cancel_run_cancels_a_long_run(server: RunningServer, home: Path) -> None:
    with server.client() as client, LocusInstance.get() as instance:
        pointer = CodePointer.from_dict(client.server_info().code_pointer)
        run = create_run(pointer, "sleepy", instance, location_name="service")
        pid = client.start_run(run.run_id, str(home), env={"SLEEPY_SECONDS": "120"})
        assert _parent_pid(pid) == server.process.pid
        assert client.start_run(run.run_id, str(home)) == pid, "starting a running run again starts no second child"
        _await_step_start(instance, run.run_id, "sleepy_op")
        assert client.cancel_run(run.run_id)
        _await_status(instance, run.run_id, RunStatus.CANCELED)
        assert not client.cancel_run("no-such-run")


def test_stopping_the_server_cancels_its_runs(server: RunningServer, home: Path) -> None:
    with server.client() as client, LocusInstance.get() as instance:
        pointer = CodePointer.from_dict(client.server_info().code_pointer)
        run = create_run(pointer, "sleepy", instance, location_name="service")
        client.start_run(run.run_id, str(home), env={"SLEEPY_SECONDS": "120"})
        _await_step_start(instance, run.run_id, "sleepy_op")
        client.shutdown()
        assert server.process.wait(15) == 0
        stored = instance.get_run(run.run_id)
        assert stored is not None and stored.status == RunStatus.CANCELED, "the run ended before the server did"
