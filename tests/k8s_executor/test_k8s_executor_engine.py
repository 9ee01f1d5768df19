"""The engine runs a k8s_job_executor run through locus.launchers.k8s_executor:
step Jobs launched in dependency order, results from the steps' own events,
pod trouble turned into step failures, and nothing left behind on cancel.
The cluster is an in-memory fake here (k8s_fake_cluster)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_fake_cluster import FAIL, HANG, IMAGE_PULL, SILENT, SUCCEED, UNSCHEDULABLE, FakeCluster, cancel_after

import locus.launchers.k8s_executor as k8s_executor
from locus.execution.api import create_run, execute_stored_run
from locus.execution.code_pointer import CodePointer
from locus.execution.events import EventType, RunStatus
from locus.instance.instance import LocusInstance
from locus.k8s.client import KubernetesClient
from locus.k8s.jobs import STEP_JOB_SPEC_ENV, JobPodSpec, spec_to_json, step_job_name

LOCATION = """
import locus as dg

@dg.asset
def a() -> int:
    return 1

@dg.asset
def b(a: int) -> int:
    return a + 1

@dg.asset
def c(a: int) -> int:
    return a + 2

@dg.asset
def d(b: int, c: int) -> int:
    return b + c

limited = dg.define_asset_job("limited", executor_def=dg.k8s_job_executor.configured({"max_concurrent": 1}))

defs = dg.Definitions(assets=[a, b, c, d], jobs=[limited], executor=dg.k8s_job_executor)
"""

IN_MEMORY = """
import locus as dg

@dg.asset
def a() -> int:
    return 1

defs = dg.Definitions(assets=[a], resources={"io_manager": dg.InMemoryIOManager()}, executor=dg.k8s_job_executor)
"""


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocusInstance]:
    monkeypatch.setenv("LOCUS_HOME", str(tmp_path / "home"))
    with LocusInstance.get() as opened:
        yield opened


@pytest.fixture
def pointer(tmp_path: Path) -> CodePointer:
    path = tmp_path / "location.py"
    path.write_text(textwrap.dedent(LOCATION))
    return CodePointer(python_file=str(path))


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(k8s_executor, "POLL_INTERVAL", 0.001)
    monkeypatch.setattr(k8s_executor, "CLEANUP_TIMEOUT", 1.0)
    spec = JobPodSpec(namespace="data", image="app:1", instance="default", location="app")
    monkeypatch.setenv(STEP_JOB_SPEC_ENV, spec_to_json(spec))


def _run(instance: LocusInstance, pointer: CodePointer, monkeypatch: pytest.MonkeyPatch, job: str = "__ASSET_JOB",
         **cluster_args: object) -> tuple[FakeCluster, str]:
    run = create_run(pointer, job, instance)
    cluster = FakeCluster(instance, run.run_id, **cluster_args)  # type: ignore[arg-type]
    monkeypatch.setattr(KubernetesClient, "from_environment", classmethod(lambda cls: cluster))
    execute_stored_run(run.run_id, instance)
    return cluster, run.run_id


def _events(instance: LocusInstance, run_id: str, kind: EventType) -> list[tuple[str | None, str]]:
    return [(r.event.step_key, r.event.message) for r in instance.get_events(run_id, event_types=[kind])]


def test_each_step_is_a_job_in_dependency_order(
    instance: LocusInstance, pointer: CodePointer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, run_id = _run(instance, pointer, monkeypatch)
    assert instance.get_run(run_id).status == RunStatus.SUCCESS  # type: ignore[union-attr]
    assert cluster.created[0] == "a" and cluster.created[-1] == "d" and sorted(cluster.created) == list("abcd")
    assert cluster.max_active == 2  # b and c at once: unlimited by default
    launched = _events(instance, run_id, EventType.ENGINE_EVENT)
    assert ("a", f"a launched as Job {step_job_name(run_id, 'a')}") in launched
    assert [k for k, _ in _events(instance, run_id, EventType.STEP_SUCCESS)] == ["a", "b", "c", "d"]
    assert not cluster.deleted  # finished Jobs stay until their TTL, with their logs


def test_max_concurrent_limits_step_jobs(
    instance: LocusInstance, pointer: CodePointer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, run_id = _run(instance, pointer, monkeypatch, job="limited")
    assert instance.get_run(run_id).status == RunStatus.SUCCESS  # type: ignore[union-attr]
    assert cluster.max_active == 1


def test_failed_step_skips_downstream(instance: LocusInstance, pointer: CodePointer,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cluster, run_id = _run(instance, pointer, monkeypatch, behaviour={"b": FAIL})
    assert instance.get_run(run_id).status == RunStatus.FAILURE  # type: ignore[union-attr]
    assert _events(instance, run_id, EventType.STEP_FAILURE) == [("b", "b failed: ValueError: boom")]  # once
    assert _events(instance, run_id, EventType.STEP_SKIPPED) == [("d", "d skipped: upstream b did not succeed")]
    assert "d" not in cluster.created
    failure = instance.get_events(run_id, event_types=[EventType.RUN_FAILURE])[-1].event
    assert failure.data["failed_steps"] == ["b"] and failure.data["skipped_steps"] == ["d"]


def test_pod_problem_fails_the_step_and_deletes_its_job(
    instance: LocusInstance, pointer: CodePointer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, run_id = _run(instance, pointer, monkeypatch, behaviour={"a": IMAGE_PULL})
    assert instance.get_run(run_id).status == RunStatus.FAILURE  # type: ignore[union-attr]
    [(step, message)] = _events(instance, run_id, EventType.STEP_FAILURE)
    assert step == "a" and "image 'nowhere/image:1' could not be pulled (ErrImagePull): image not found" in message
    assert cluster.deleted == [step_job_name(run_id, "a")]
    assert not cluster.jobs() and not cluster.pods()


def test_unschedulable_step_fails_after_the_timeout(
    instance: LocusInstance, pointer: CodePointer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(k8s_executor, "UNSCHEDULABLE_TIMEOUT", 0.2)
    cluster, run_id = _run(instance, pointer, monkeypatch, behaviour={"a": UNSCHEDULABLE})
    [(step, message)] = _events(instance, run_id, EventType.STEP_FAILURE)
    assert step == "a" and "cannot be scheduled: 0/3 nodes are available: 3 Insufficient memory." in message
    assert cluster.polls > 3  # it waited before giving up
    assert not cluster.jobs()


def test_job_that_ends_without_a_result_fails_the_step(
    instance: LocusInstance, pointer: CodePointer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cluster, run_id = _run(instance, pointer, monkeypatch, behaviour={"a": SILENT})
    [(step, message)] = _events(instance, run_id, EventType.STEP_FAILURE)
    assert step == "a" and "completed but the step reported no result" in message


def test_existing_job_means_already_launched(
    instance: LocusInstance, pointer: CodePointer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = create_run(pointer, "__ASSET_JOB", instance)
    cluster = FakeCluster(instance, run.run_id, behaviour={"a": SUCCEED})
    first = step_job_name(run.run_id, "a")
    cluster.objects[("jobs", first)] = {"metadata": {"name": first, "labels": {
        "locus.dev/run-id": run.run_id, "locus.dev/step-key": "a", "app.kubernetes.io/component": "step"}},
        "status": {}}
    cluster.objects[("pods", f"{first}-pod")] = {"metadata": {"name": f"{first}-pod", "labels": {}}, "status": {}}
    monkeypatch.setattr(KubernetesClient, "from_environment", classmethod(lambda cls: cluster))
    execute_stored_run(run.run_id, instance)
    assert instance.get_run(run.run_id).status == RunStatus.SUCCESS  # type: ignore[union-attr]
    assert cluster.created == ["b", "c", "d"]
    assert ("a", f"a was already launched as Job {first}") in _events(instance, run.run_id, EventType.ENGINE_EVENT)


def test_cancel_deletes_every_step_job(instance: LocusInstance, pointer: CodePointer,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cluster, run_id = _run(instance, pointer, monkeypatch, behaviour={"b": HANG, "c": HANG},
                           on_poll=cancel_after(2))
    assert instance.get_run(run_id).status == RunStatus.CANCELED  # type: ignore[union-attr]
    assert sorted(cluster.deleted) == sorted(step_job_name(run_id, k) for k in "abc")
    assert not cluster.jobs() and not cluster.pods()
    notes = [m for _, m in _events(instance, run_id, EventType.ENGINE_EVENT)]
    assert "deleted the run's step Jobs and their pods" in notes


def test_outside_kubernetes_it_says_what_to_do(
    instance: LocusInstance, pointer: CodePointer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STEP_JOB_SPEC_ENV)
    run = create_run(pointer, "__ASSET_JOB", instance)
    execute_stored_run(run.run_id, instance)
    [(_, message)] = _events(instance, run.run_id, EventType.RUN_FAILURE)
    assert "needs a run launched by the Locus operator" in message and "in_process_executor" in message


def test_in_memory_io_manager_is_refused(instance: LocusInstance, tmp_path: Path) -> None:
    path = tmp_path / "memory.py"
    path.write_text(textwrap.dedent(IN_MEMORY))
    run = create_run(CodePointer(python_file=str(path)), "__ASSET_JOB", instance)
    execute_stored_run(run.run_id, instance)
    [(_, message)] = _events(instance, run.run_id, EventType.RUN_FAILURE)
    assert "step pods of k8s_job_executor cannot share" in message


def test_the_engine_does_not_import_kubernetes_code() -> None:
    code = ("import sys, locus.execution.engine, locus.execution.api; "
            "print(sorted(m for m in sys.modules if m.startswith(('locus.k8s', 'locus.launchers'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
