"""k8s_job_executor on the local cluster harness, with PostgreSQL: a run
process (as the run Job would run it) creates one step Job per asset, whose
pods (`locus execute step`, run by the harness's kubelet) write to the same
PostgreSQL and pass values through a FilesystemIOManager on a folder every
"pod" sees (one machine).

The run process itself is a local process here, given what the operator
gives a run pod: ``$LOCUS_STEP_JOB_SPEC``, credentials (``KUBECONFIG``) and
``$LOCUS_HOME/locus.yaml``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from e2e.local.cluster import LocalCluster
from e2e.local.images import ImageEnv

from locus.execution.api import create_run
from locus.execution.code_pointer import CodePointer
from locus.execution.events import EventType, RunStatus
from locus.instance.instance import LocusInstance
from locus.k8s.jobs import STEP_JOB_SPEC_ENV, JobPodSpec, run_selector, spec_to_json, step_job_name

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

IMAGE = "local/locus-k8s-executor-test:1"
MISSING_IMAGE = "registry.example.com/not-pushed:1"

LOCATION = """
import time
import locus as dg

@dg.asset
def one() -> int:
    return 1

@dg.asset
def two(one: int) -> int:
    return one + 1

@dg.asset
def total(one: int, two: int) -> int:
    print("adding up")
    return one + two + 10

@dg.asset
def exploding(one: int) -> int:
    raise ValueError("the numbers are wrong")

@dg.asset
def after_exploding(exploding: int) -> int:
    return exploding

@dg.asset
def slow(one: int) -> int:
    while True:
        time.sleep(0.1)

@dg.asset
def slow_too(one: int) -> int:
    while True:
        time.sleep(0.1)

pick = dg.AssetSelection.assets
unpullable = dg.k8s_job_executor.configured(
    {{"per_step_k8s_config": {{"two": {{"container_config": {{"image": "{missing}"}}}}}}}}
)
defs = dg.Definitions(
    assets=[one, two, total, exploding, after_exploding, slow, slow_too],
    jobs=[
        dg.define_asset_job("numbers", selection=pick(one, two, total)),
        dg.define_asset_job("failing", selection=pick(one, exploding, after_exploding)),
        dg.define_asset_job("cancelable", selection=pick(one, slow, slow_too)),
        dg.define_asset_job("unpullable", selection=pick(one, two), executor_def=unpullable),
    ],
    resources={{"io_manager": dg.FilesystemIOManager(base_dir="{io_dir}")}},
    executor=dg.k8s_job_executor,
)
"""


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test's LOCUS_HOME, code and IO folder: seen at the same path by the pods."""
    return tmp_path_factory.mktemp("shared")


@pytest.fixture(scope="module")
def cluster(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    # An identity mapping: pods see the shared folder where it is (not under
    # their own emptyDir for /tmp).
    images = {IMAGE: ImageEnv.current_python(paths={str(shared): str(shared)})}
    with LocalCluster(images, work_dir=tmp_path_factory.mktemp("cluster")) as running:
        yield running


@dataclass
class Setup:
    cluster: LocalCluster
    namespace: str
    home: Path
    pointer: CodePointer

    def instance(self) -> LocusInstance:
        os.environ["LOCUS_HOME"] = str(self.home)
        return LocusInstance.get()

    def start(self, job_name: str) -> tuple[str, subprocess.Popen[str]]:
        with self.instance() as instance:
            run_id = create_run(self.pointer, job_name, instance).run_id
        spec = JobPodSpec(
            namespace=self.namespace, image=IMAGE, instance="test", location="k8s-test",
            # Later env entries win: the harness's LOCUS_HOME is the shared folder, not an emptyDir.
            env=({"name": "LOCUS_HOME", "value": str(self.home)},),
        )
        env = {**os.environ, "LOCUS_HOME": str(self.home), "KUBECONFIG": str(self.cluster.kubeconfig),
               STEP_JOB_SPEC_ENV: spec_to_json(spec)}
        proc = subprocess.Popen([sys.executable, "-m", "locus.cli.main", "execute", "run", run_id], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return run_id, proc

    def objects(self, kind: str, run_id: str) -> list[str]:
        path = f"/apis/batch/v1/namespaces/{self.namespace}/jobs" if kind == "jobs" else \
            f"/api/v1/namespaces/{self.namespace}/pods"
        return [o["metadata"]["name"] for o in self.cluster.api.list(path, run_selector(run_id))]

    def events(self, run_id: str, kind: EventType) -> list[tuple[str | None, str]]:
        with self.instance() as instance:
            return [(r.event.step_key, r.event.message) for r in instance.get_events(run_id, event_types=[kind])]

    def status(self, run_id: str) -> RunStatus:
        with self.instance() as instance:
            run = instance.get_run(run_id)
            assert run is not None
            return run.status

    def finish(self, proc: subprocess.Popen[str], timeout: float = 40) -> str:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"the run did not end in {timeout}s:\n{err}\n{self.cluster.server_log()}") from None
        return f"{out}\n{err}"


@pytest.fixture
def setup(cluster: LocalCluster, shared: Path, postgres_url: str,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    folder = shared / uuid.uuid4().hex[:8]
    home, io_dir = folder / "home", folder / "io"
    home.mkdir(parents=True)
    (home / "locus.yaml").write_text(yaml.safe_dump({"storage": {"postgres": {"url": postgres_url}}}))
    code = folder / "k8s_location.py"
    code.write_text(textwrap.dedent(LOCATION).format(missing=MISSING_IMAGE, io_dir=io_dir))
    monkeypatch.setenv("LOCUS_HOME", str(home))
    LocusInstance.get(migrate=True).dispose()
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    cluster.create_namespace(namespace)
    yield Setup(cluster, namespace, home, CodePointer(python_file=str(code)))
    cluster.api.delete(f"/api/v1/namespaces/{namespace}")


def test_each_asset_runs_in_its_own_step_job(setup: Setup) -> None:
    run_id, proc = setup.start("numbers")
    output = setup.finish(proc)
    assert proc.returncode == 0, output
    assert setup.status(run_id) == RunStatus.SUCCESS
    assert sorted(setup.objects("jobs", run_id)) == sorted(step_job_name(run_id, k) for k in ("one", "two", "total"))
    launched = setup.events(run_id, EventType.ENGINE_EVENT)
    assert ("total", f"total launched as Job {step_job_name(run_id, 'total')}") in launched
    with setup.instance() as instance:
        assert instance.compute_log_manager.read_step(run_id, "total").stdout == "adding up\n"
    io_dir = Path(setup.pointer.python_file or "").parent / "io"
    value = subprocess.run(
        [sys.executable, "-c", f"import pickle; print(pickle.load(open({str(io_dir / 'total')!r}, 'rb')))"],
        capture_output=True, text=True, check=True,
    )
    assert value.stdout.strip() == "13"


def test_failing_op_fails_the_run_and_skips_downstream(setup: Setup) -> None:
    run_id, proc = setup.start("failing")
    output = setup.finish(proc)
    assert proc.returncode == 1, output
    assert setup.status(run_id) == RunStatus.FAILURE
    assert setup.events(run_id, EventType.STEP_FAILURE) == [
        ("exploding", "exploding failed: ValueError: the numbers are wrong")
    ]
    assert setup.events(run_id, EventType.STEP_SKIPPED) == [
        ("after_exploding", "after_exploding skipped: upstream exploding did not succeed")
    ]
    assert "ValueError: the numbers are wrong" in output  # the run's summary names the step's error
    assert step_job_name(run_id, "after_exploding") not in setup.objects("jobs", run_id)


def test_sigterm_to_the_run_deletes_every_step_job_and_pod(setup: Setup) -> None:
    run_id, proc = setup.start("cancelable")
    deadline = time.monotonic() + 30
    while {k for k, _ in setup.events(run_id, EventType.STEP_START)} < {"slow", "slow_too"}:
        assert time.monotonic() < deadline and proc.poll() is None, setup.finish(proc)
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    setup.cluster.api.wait_for(lambda: not setup.objects("jobs", run_id) and not setup.objects("pods", run_id),
                               timeout=10, what="no step Job or pod left")
    assert time.monotonic() - stopped < 10
    setup.finish(proc, timeout=10)
    assert setup.status(run_id) == RunStatus.CANCELED


def test_unpullable_step_image_fails_the_step_within_seconds(setup: Setup) -> None:
    run_id, proc = setup.start("unpullable")
    deadline = time.monotonic() + 30
    while not any(k == "two" for k, _ in setup.events(run_id, EventType.ENGINE_EVENT)):
        assert time.monotonic() < deadline and proc.poll() is None, setup.finish(proc)
        time.sleep(0.05)
    launched = time.monotonic()
    output = setup.finish(proc)
    assert time.monotonic() - launched < 5, output
    assert proc.returncode == 1, output
    [(step, message)] = setup.events(run_id, EventType.STEP_FAILURE)
    # ErrImagePull, or ImagePullBackOff when the kubelet already backed off at the time of the poll.
    pulled = rf"image '{re.escape(MISSING_IMAGE)}' could not be pulled \((ErrImagePull|ImagePullBackOff)\)"
    assert step == "two" and re.search(pulled, message), message
    assert setup.status(run_id) == RunStatus.FAILURE
    assert step_job_name(run_id, "two") not in setup.objects("jobs", run_id)
