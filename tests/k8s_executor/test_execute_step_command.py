"""`locus execute step RUN_ID STEP_KEY`: what each step Job of
k8s_job_executor runs. One step of a stored run, its events written straight
to the instance's storage, its output to the compute logs; exit 0 or 1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from locus.execution.api import create_run
from locus.execution.code_pointer import CodePointer
from locus.execution.events import EventType
from locus.instance.instance import LocusInstance

LOCATION = """
import os, time
import locus as dg

@dg.asset
def first() -> int:
    print("first says hello")
    return 20

@dg.asset
def second(first: int) -> int:
    return first + 1

ATTEMPTS = os.path.join(os.environ["LOCUS_HOME"], "attempts")

@dg.asset(retry_policy=dg.RetryPolicy(max_retries=2))
def flaky() -> int:
    with open(ATTEMPTS, "a") as handle:
        handle.write("x")
    if len(open(ATTEMPTS).read()) < 3:
        raise RuntimeError("not yet")
    return 1

@dg.asset
def broken() -> int:
    raise ValueError("no data for today")

@dg.asset
def waits() -> int:
    while True:
        time.sleep(0.05)

defs = dg.Definitions(assets=[first, second, flaky, broken, waits])
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOCUS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def instance(home: Path) -> Iterator[LocusInstance]:
    with LocusInstance.get() as opened:
        yield opened


@pytest.fixture
def run_id(instance: LocusInstance, tmp_path: Path) -> str:
    path = tmp_path / "location.py"
    path.write_text(textwrap.dedent(LOCATION))
    return create_run(CodePointer(python_file=str(path)), "__ASSET_JOB", instance).run_id


def _step(run_id: str, step_key: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "locus.cli.main", "execute", "step", run_id, step_key],
                            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _types(instance: LocusInstance, run_id: str, step_key: str) -> list[str]:
    return [r.event.event_type.value for r in instance.get_events(run_id) if r.event.step_key == step_key]


def test_step_runs_alone_and_reads_its_upstream_from_the_io_manager(instance: LocusInstance, run_id: str) -> None:
    printed = {}
    for step in ("first", "second"):
        proc = _step(run_id, step)
        printed[step], err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    assert _types(instance, run_id, "first") == ["STEP_START", "STEP_OUTPUT", "ASSET_MATERIALIZATION", "STEP_SUCCESS"]
    # In the compute logs (which outlive the pod), and still in the pod's own log.
    assert instance.compute_log_manager.read_step(run_id, "first").stdout == "first says hello\n"
    assert "first says hello" in printed["first"]
    assert _types(instance, run_id, "second")[-1] == "STEP_SUCCESS"
    materialised = instance.get_events(run_id, event_types=[EventType.ASSET_MATERIALIZATION])
    assert [r.event.step_key for r in materialised] == ["first", "second"]


def test_failing_step_exits_1_with_its_error_stored(instance: LocusInstance, run_id: str) -> None:
    proc = _step(run_id, "broken")
    proc.communicate(timeout=60)
    assert proc.returncode == 1
    [failure] = instance.get_events(run_id, event_types=[EventType.STEP_FAILURE])
    assert failure.event.message == "broken failed: ValueError: no data for today"
    assert failure.event.error is not None and "no data for today" in failure.event.error.traceback


def test_retry_policy_is_followed_in_the_step_process(instance: LocusInstance, run_id: str) -> None:
    proc = _step(run_id, "flaky")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert _types(instance, run_id, "flaky") == [
        "STEP_START", "STEP_UP_FOR_RETRY", "STEP_START", "STEP_UP_FOR_RETRY", "STEP_START",
        "STEP_OUTPUT", "ASSET_MATERIALIZATION", "STEP_SUCCESS",
    ]


def test_sigterm_marks_the_step_canceled(instance: LocusInstance, run_id: str) -> None:
    proc = _step(run_id, "waits")
    deadline = time.monotonic() + 30
    while "STEP_START" not in _types(instance, run_id, "waits"):
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 1
    [failure] = instance.get_events(run_id, event_types=[EventType.STEP_FAILURE])
    assert failure.event.message == "waits canceled: the step process was asked to stop (SIGTERM)"
    assert failure.event.data == {"canceled": True}


def test_unknown_step_is_a_stored_failure(instance: LocusInstance, run_id: str) -> None:
    proc = _step(run_id, "nope")
    proc.communicate(timeout=60)
    assert proc.returncode == 1
    [failure] = instance.get_events(run_id, event_types=[EventType.STEP_FAILURE])
    assert "has no step 'nope'" in failure.event.message


def test_unknown_run_is_a_user_error(home: Path) -> None:
    proc = _step("no-such-run", "first")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "no run with id 'no-such-run'" in err
