"""Shared pieces of the Kubernetes run workloads: the whole local stack, as ``tests/e2e_local/test_runs_k8s.py``
builds it, on the harness's scratch PostgreSQL database.

``running_stack`` starts ``e2e.local.cluster.LocalCluster`` (the API server and the kubelet: pods really run,
as local processes), creates the CRDs, namespace ``bench`` with the database Secret, an Instance on the scratch
database and one CodeLocation serving ``_k8s_location.py``, then ``locus operator run --namespace bench``. It
waits until the Instance (migration Job complete, daemon and API available) and the CodeLocation are Ready and
the REST API serves the location, all untimed. It yields the API client (through the API Service's clusterIP,
as a user would), a ``LocusInstance`` on the same database for reading events, and the cluster. Every process
is stopped when the block ends, failed or not; on a failure the tails of the operator's, the kubelet's and the
API server's logs go to stderr.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import _common
import _harness
import httpx
import yaml

REPO = _harness.REPO
if str(REPO) not in sys.path:  # e2e.local is not installed: it lives at the repository's root
    sys.path.insert(0, str(REPO))

from e2e.local.cluster import LocalCluster  # noqa: E402
from e2e.local.images import ImageEnv  # noqa: E402

NAMESPACE = "bench"
SYSTEM_IMAGE = "ghcr.io/locus/locus:0.1.0"
LOCATION_IMAGE = "registry.example.com/bench/runs:1"
LOCATION = "runs"
MODULE = "bench_location"
JOBS = f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"
RUN_ID_LABEL = "locus.dev/run-id"
COMPONENT_LABEL = "app.kubernetes.io/component"
READY_TIMEOUT_S = 180
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
T = TypeVar("T")


@dataclass
class Stack:
    cluster: LocalCluster
    http: httpx.Client  # the REST API, base URL http://<clusterIP>:3000/api
    storage: Any  # a LocusInstance on the Instance's database
    operator: subprocess.Popen[bytes]
    operator_log: Path

    def launch(self, job: str) -> str:
        created = self.http.post("/runs", json={"location": LOCATION, "job_name": job})
        assert created.status_code == 201, (created.status_code, created.text[:500])
        run_id: str = created.json()["run_id"]
        return run_id

    def event_time(self, run_id: str, event_type: str) -> float:
        """The (first) stored event of this type of the run: its wall-clock timestamp."""
        from locus.execution.events import EventType  # type: ignore[import-not-found, unused-ignore]

        records = self.storage.get_events(run_id, event_types=[EventType[event_type]])
        assert records, f"run {run_id} has no {event_type} event"
        return float(records[0].event.timestamp)

    def events(self, run_id: str) -> list[tuple[str, str]]:
        return [(r.event.event_type.name, r.event.message) for r in self.storage.get_events(run_id)]

    def status(self, run_id: str) -> str:
        run = self.storage.get_run(run_id)
        return "" if run is None else str(run.status.name)

    def run_pods(self, run_id: str) -> list[dict[str, Any]]:
        pods = self.cluster.api.list(PODS, label_selector={RUN_ID_LABEL: run_id, COMPONENT_LABEL: "run"})
        return pods


def wait_for(what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout} s")
        time.sleep(interval)


def _ready(obj: dict[str, Any] | None) -> bool:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or ()
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _objects(postgres_url: str, location_spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    url = urlsplit(postgres_url)
    password = unquote(url.password) if url.password else "trust"  # the test server trusts local connections
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "locus-postgresql", "namespace": NAMESPACE},
              "data": {"password": base64.b64encode(password.encode()).decode()}}
    storage = {"host": url.hostname or "127.0.0.1", "port": url.port or 5432, "database": url.path.lstrip("/"),
               "user": unquote(url.username or "postgres"),
               "passwordSecretRef": {"name": "locus-postgresql", "key": "password"}}
    instance = {"apiVersion": "locus.dev/v1alpha1", "kind": "Instance",
                "metadata": {"name": "default", "namespace": NAMESPACE},
                "spec": {"storage": {"postgres": storage}}}  # the run queue and monitor at their defaults
    location = {"apiVersion": "locus.dev/v1alpha1", "kind": "CodeLocation",
                "metadata": {"name": LOCATION, "namespace": NAMESPACE},
                "spec": {"image": LOCATION_IMAGE, "workingDirectory": "/opt/locus/app", "module": MODULE,
                         "attribute": "defs", **location_spec}}
    return [secret, instance, location]


def _create(cluster: LocalCluster, obj: dict[str, Any]) -> None:
    kind = obj["kind"]
    if kind == "CustomResourceDefinition":
        path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    elif kind == "Namespace":
        path = "/api/v1/namespaces"
    elif kind == "Secret":
        path = f"/api/v1/namespaces/{NAMESPACE}/secrets"
    else:
        path = f"/apis/locus.dev/v1alpha1/namespaces/{NAMESPACE}/{kind.lower()}s"
    cluster.api.create(path, obj)


def _start_operator(kubeconfig: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _common.free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "PYTHONPATH")}
    env |= {"KUBECONFIG": str(kubeconfig), "LOCUS_SYSTEM_IMAGE": SYSTEM_IMAGE}
    command = [*_harness._locus_command(), "operator", "run", "--health-host", "127.0.0.1",
               "--health-port", str(port), "--namespace", NAMESPACE]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, preexec_fn=_harness._die_with_parent)
    return process, port


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@contextlib.contextmanager
def running_stack(scratch: str, postgres_url: str, location_spec: Mapping[str, Any] | None = None,
                  images: Mapping[str, ImageEnv] | None = None) -> Iterator[Stack]:
    """The cluster, the operator, a Ready Instance and CodeLocation, the REST API serving the location.

    ``location_spec`` adds to the CodeLocation's spec (a ``runTemplate``...), ``images`` to the image table."""
    work = Path(scratch)
    app = work / "app"
    app.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).with_name("_k8s_location.py"), app / f"{MODULE}.py")
    images = {
        SYSTEM_IMAGE: ImageEnv.current_python(),
        LOCATION_IMAGE: ImageEnv.current_python(paths={"/opt/locus/app": str(app)}),
        **(images or {}),
    }
    operator_log = work / "operator.log"
    cluster = LocalCluster(images=images, work_dir=work / "cluster")
    operator: subprocess.Popen[bytes] | None = None
    http: httpx.Client | None = None
    storage: Any = None
    try:
        cluster.start()
        for path in sorted((REPO / "crds").glob("*.yaml")):
            _create(cluster, yaml.safe_load(path.read_text()))
        _create(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        for obj in _objects(postgres_url, location_spec or {}):
            _create(cluster, obj)
        operator, port = _start_operator(cluster.kubeconfig, operator_log)

        def ready(path: str) -> bool:
            if operator is not None and operator.poll() is not None:
                raise RuntimeError(f"the operator exited with status {operator.returncode}")
            return _ready(cluster.api.get_or_none(f"/apis/locus.dev/v1alpha1/namespaces/{NAMESPACE}/{path}"))

        wait_for("the operator's /healthz", lambda: _harness._healthy(port), READY_TIMEOUT_S)
        wait_for("Instance default Ready", lambda: ready("instances/default"), READY_TIMEOUT_S, 0.2)
        wait_for(f"CodeLocation {LOCATION} Ready", lambda: ready(f"codelocations/{LOCATION}"), READY_TIMEOUT_S, 0.2)
        service = cluster.api.get(f"/api/v1/namespaces/{NAMESPACE}/services/locus-default-api")
        http = httpx.Client(base_url=f"http://{service['spec']['clusterIP']}:3000/api", timeout=30)

        def loaded() -> bool:
            try:
                listed = http.get("/locations").json()["locations"]  # type: ignore[union-attr]
            except (httpx.HTTPError, ValueError, KeyError):
                return False
            return any(loc["name"] == LOCATION and loc["status"] == "LOADED" for loc in listed)

        wait_for("the REST API serving the location", loaded, READY_TIMEOUT_S, 0.2)
        # Opened only now: the Instance's migration Job, not this script, created the schema.
        from locus.instance.instance import LocusInstance  # type: ignore[import-not-found, unused-ignore]

        storage = LocusInstance.for_url(postgres_url, work)
        yield Stack(cluster, http, storage, operator, operator_log)
    except BaseException:
        for name, path in (("operator", operator_log), ("kubelet", work / "cluster" / "kubelet.log"),
                           ("API server", work / "cluster" / "apiserver.log")):
            print(f"--- {name} log (tail) ---\n{_tail(path)}", file=sys.stderr, flush=True)
        raise
    finally:
        if http is not None:
            http.close()
        if operator is not None:
            _harness._stop(operator)
        cluster.stop()  # the kubelet first: every pod's processes die with it
        if storage is not None:
            storage.dispose()
