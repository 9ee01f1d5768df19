"""`locus execute run RUN_ID`: a stored run executed in its own process, as
launchers start it; stopped by SIGTERM; failing clearly when its code broke."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from locus.execution.api import create_run
from locus.execution.code_pointer import CodePointer
from locus.execution.events import EventType, RunStatus
from locus.instance.instance import LocusInstance

LOCATION = """
import os, time
import locus as dg

@dg.asset
def first() -> int:
    return 1

@dg.asset
def waits(first: int) -> int:
    # Stays busy until the test's marker appears (the test cancels it first).
    while not os.path.exists(os.environ["RELEASE_FILE"]):
        time.sleep(0.05)
    return first + 1

defs = dg.Definitions(assets=[first, waits], executor=dg.in_process_executor)
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def location(tmp_path: Path) -> Path:
    path = tmp_path / "location.py"
    path.write_text(LOCATION)
    return path


def _start(run_id: str, home: Path, release: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "LOCUS_HOME": str(home), "RELEASE_FILE": str(release)}
    return subprocess.Popen([sys.executable, "-m", "locus.cli.main", "execute", "run", run_id], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _await_event(instance: LocusInstance, run_id: str, kind: EventType, step: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r.event.step_key == step for r in instance.get_events(run_id, event_types=[kind])):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {kind.value} for {step} within {timeout}s")


def test_stored_run_executes_to_success(location: Path, home: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCUS_HOME", str(home))
    release = tmp_path / "release"
    release.write_text("")
    with LocusInstance.get() as instance:
        run = create_run(CodePointer(python_file=str(location)), "__ASSET_JOB", instance)
        assert instance.get_run(run.run_id).status == RunStatus.NOT_STARTED  # type: ignore[union-attr]
    proc = _start(run.run_id, home, release)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    with LocusInstance.get() as instance:
        assert instance.get_run(run.run_id).status == RunStatus.SUCCESS  # type: ignore[union-attr]


def test_sigterm_cancels_the_run(location: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCUS_HOME", str(home))
    with LocusInstance.get() as instance:
        run = create_run(CodePointer(python_file=str(location)), "__ASSET_JOB", instance)
        proc = _start(run.run_id, home, tmp_path / "never")
        _await_event(instance, run.run_id, EventType.STEP_START, "waits")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        stored = instance.get_run(run.run_id)
        assert stored is not None and stored.status == RunStatus.CANCELED
        kinds = [r.event.event_type for r in instance.get_events(run.run_id)]
        assert kinds[-1] == EventType.RUN_CANCELED
        assert EventType.STEP_SUCCESS in kinds  # `first` finished before the cancel


def test_code_broken_after_launch_fails_the_run_with_the_reason(
    location: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCUS_HOME", str(home))
    with LocusInstance.get() as instance:
        run = create_run(CodePointer(python_file=str(location)), "__ASSET_JOB", instance)
    location.write_text("raise ImportError('dependency vanished')\n")
    proc = _start(run.run_id, home, tmp_path / "release")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "failed before it started" in err
    with LocusInstance.get() as instance:
        stored = instance.get_run(run.run_id)
        assert stored is not None and stored.status == RunStatus.FAILURE
        last = instance.get_events(run.run_id)[-1].event
        assert last.error is not None and "dependency vanished" in last.error.message
