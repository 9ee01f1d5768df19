"""The multiprocess executor and `execute_job`: steps in child processes,
events stored by the parent, crashes and misconfiguration explained."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from locus.execution.api import execute_job
from locus.execution.code_pointer import CodePointer
from locus.execution.events import EventType, RunStatus
from locus.instance.instance import LocusInstance

LOCATION = """
import os
import locus as dg

@dg.op
def where() -> int:
    print("step stdout")
    return os.getpid()

@dg.op
def crash(pid: int) -> None:
    os._exit(3)

@dg.op
def compare(first: int, second: int) -> list[int]:
    return [first, second, os.getpid()]

@dg.job
def pids():
    compare(where(), where())

@dg.op
def after_crash(value) -> None:
    return value

@dg.job
def crashing():
    after_crash(crash(where()))

@dg.job(resource_defs={"io_manager": dg.InMemoryIOManager()})
def in_memory():
    where()

@dg.job(executor_def=dg.k8s_job_executor)
def on_k8s():
    where()
"""


@pytest.fixture
def location(tmp_path: Path) -> CodePointer:
    path = tmp_path / "location.py"
    path.write_text(textwrap.dedent(LOCATION))
    return CodePointer(python_file=str(path))


@pytest.fixture
def instance(tmp_path: Path) -> LocusInstance:
    return LocusInstance.for_url(f"sqlite:///{tmp_path / 'locus.db'}", tmp_path / "home")


def test_each_step_runs_in_its_own_process(location: CodePointer, instance: LocusInstance) -> None:
    result = execute_job(location, "pids", instance)
    assert result.success, [e.message for e in result.all_events]
    io_dir = instance.storage_dir
    run_id = result.run_id
    import pickle

    values = pickle.loads((io_dir / run_id / "compare" / "result").read_bytes())
    assert len(set(values)) == 3 and os.getpid() not in values
    stored = instance.get_run(run_id)
    assert stored is not None and stored.status == RunStatus.SUCCESS
    assert stored.origin is not None and stored.origin["pointer"]["python_file"].endswith("location.py")
    assert instance.compute_logs_dir is not None
    assert (instance.compute_logs_dir / run_id / "where.out").read_text() == "step stdout\n"


def test_a_crashed_step_process_fails_the_step_with_its_exit_code(
    location: CodePointer, instance: LocusInstance
) -> None:
    result = execute_job(location, "crashing", instance)
    assert not result.success
    failure = result.get_step_failure_events()[0]
    assert failure.step_key == "crash"
    assert "exited with code 3" in failure.message
    skipped = [e for e in result.all_events if e.event_type == EventType.STEP_SKIPPED]
    assert [(e.step_key, e.message) for e in skipped] == [
        ("after_crash", "after_crash skipped: upstream crash did not succeed")
    ]
    assert instance.get_run(result.run_id).status == RunStatus.FAILURE  # type: ignore[union-attr]


def test_in_memory_io_manager_is_refused_with_a_fix(location: CodePointer, instance: LocusInstance) -> None:
    result = execute_job(location, "in_memory", instance)
    assert not result.success
    message = result.all_events[-1].message
    assert "keeps outputs in memory" in message and "in_process_executor" in message


def test_k8s_executor_outside_kubernetes_says_what_to_do(location: CodePointer, instance: LocusInstance) -> None:
    result = execute_job(location, "on_k8s", instance)
    assert not result.success
    last = result.all_events[-1]
    assert last.event_type == EventType.RUN_FAILURE
    assert "Kubernetes" in last.message and "in_process_executor" in last.message
