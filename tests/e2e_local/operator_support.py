"""The operator as a real subprocess against the local cluster harness, the
PostgreSQL database an Instance of the harness points at, and the helpers the
operator's tests share: the harness's image table, the sample custom
resources, conditions, and waiting for an object with the diagnostics to show
when it does not come (the fixtures ``database`` and ``operator`` are in
``conftest.py``)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from e2e.local.cluster import LocalCluster
from e2e.local.images import ImageEnv

from support import free_port

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SYSTEM_IMAGE = "ghcr.io/locus/locus:0.1.0"
NUMBERS_IMAGE = "registry.example.com/data/numbers:1.4.2"
BROKEN_IMAGE = "registry.example.com/data/numbers:1.5.0-broken"
EXAMPLES_IMAGE = "ghcr.io/locus/locus-examples:0.1.0"
APP_DIR = "/opt/locus/app"  # where a user image keeps its code
NS = "data-platform"  # the namespace of the sample Instance and CodeLocation (examples/k8s)
LOCATIONS = f"/apis/locus.dev/v1alpha1/namespaces/{NS}/codelocations"
INSTANCE = f"/apis/locus.dev/v1alpha1/namespaces/{NS}/instances/default"


@dataclass
class OperatorProcess:
    """``locus operator run`` with the harness's kubeconfig."""

    kubeconfig: Path
    log_path: Path
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    health_port: int = 0

    def start(self) -> OperatorProcess:
        self.health_port = free_port()
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "LOCUS_SYSTEM_IMAGE": SYSTEM_IMAGE}
        command = [str(VENV_BIN / "locus"), "operator", "run", "--health-host", "127.0.0.1",
                   "--health-port", str(self.health_port), "--resync-seconds", "5", *self.args]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the operator exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"the operator's /healthz did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def running_operator(kubeconfig: Path, log_path: Path, *args: str) -> Iterator[OperatorProcess]:
    operator = OperatorProcess(kubeconfig, log_path, tuple(args)).start()
    try:
        yield operator
    finally:
        operator.stop()


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    user: str
    name: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.name}"


@contextmanager
def fresh_database(server_url: str) -> Iterator[Database]:
    """A new database on the test server, dropped afterwards."""
    import psycopg

    parsed = urlparse(server_url)
    name = f"locus_e2e_{uuid.uuid4().hex[:10]}"
    admin_url = "postgresql://" + server_url.split("://", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Database(parsed.hostname or "127.0.0.1", parsed.port or 5432, parsed.username or "postgres", name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def numbers_app(target: Path) -> Path:
    """The numbers example as the code of a user image (/opt/locus/app)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("numbers_assets.py", "numbers_ops.py", "numbers_k8s.py"):
        shutil.copy(ROOT / "examples" / name, target / name)
    return target


def broken_app(target: Path) -> Path:
    """An image whose numbers_k8s module fails at import."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "numbers_k8s.py").write_text(
        'raise RuntimeError("numbers 1.5.0 is broken: no such table numbers_v2")\n'
    )
    return target


# -- the harness's images -----------------------------------------------------------


def app_image(app: Path) -> ImageEnv:
    """A user image: the running interpreter's environment, with ``app`` as its code (/opt/locus/app)."""
    return ImageEnv.current_python(paths={APP_DIR: str(app)})


def harness_images(base: Path, app_files: Iterable[Path] = ()) -> dict[str, ImageEnv]:
    """The image table of an operator test's cluster, the images' code kept under ``base``: the system
    image, the numbers example's (with ``app_files`` copied beside it), a broken release of it, and the
    examples'."""
    numbers = numbers_app(base / "numbers")
    for path in app_files:
        shutil.copy(path, numbers / path.name)
    return {
        SYSTEM_IMAGE: ImageEnv.current_python(),
        NUMBERS_IMAGE: app_image(numbers),
        BROKEN_IMAGE: app_image(broken_app(base / "broken")),
        EXAMPLES_IMAGE: app_image(ROOT / "examples"),
    }


# -- custom resources and their conditions ------------------------------------------


def sample(name: str) -> dict[str, Any]:
    """A sample custom resource: the shared one when ../shared is beside the repository, else our copy."""
    shared = ROOT.parent / "shared" / "examples" / "k8s" / name
    loaded: dict[str, Any] = yaml.safe_load((shared if shared.exists() else ROOT / "examples" / "k8s" / name)
                                            .read_text())
    return loaded


def instance_for(db: Database) -> dict[str, Any]:
    """The sample Instance, its storage pointed at the test's database (the
    harness has no cluster DNS for `postgresql.data-platform.svc`)."""
    instance = sample("instance.yaml")
    instance["spec"]["storage"]["postgres"].update(host=db.host, port=db.port, database=db.name, user=db.user)
    return instance


def postgres_secret(password: bytes, name: str = "locus-postgresql", namespace: str = NS) -> dict[str, Any]:
    """The Secret an Instance reads its database password from (the test server trusts, and ignores it)."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "data": {"password": base64.b64encode(password).decode()}}


def namespace_object(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def code_location(name: str, namespace: str = NS, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "locus.dev/v1alpha1", "kind": "CodeLocation",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def apply(cluster: LocalCluster, *objects: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input="\n---\n".join(yaml.safe_dump(o) for o in objects))


def condition(obj: Mapping[str, Any] | None, type_: str) -> dict[str, Any]:
    """The condition ``type_`` in an object's status; {} when it has none (or there is no object)."""
    return next((c for c in ((obj or {}).get("status") or {}).get("conditions") or () if c["type"] == type_), {})


def condition_true(obj: Mapping[str, Any] | None, type_: str = "Ready") -> bool:
    return condition(obj, type_).get("status") == "True"


def is_ready(obj: dict[str, Any]) -> bool:
    """Ready, for the object's current generation."""
    generation = obj["metadata"].get("generation")
    return condition_true(obj, "Ready") and obj["status"].get("observedGeneration") == generation


# -- waiting, and what to show when the wait is in vain -----------------------------


def matching(obj: dict[str, Any] | None, test: Callable[[dict[str, Any]], Any]) -> dict[str, Any] | None:
    """``obj`` if there is one and it passes ``test``, else None (what ``Api.wait_for`` waits out)."""
    return obj if obj is not None and test(obj) else None


def _section(title: str, read: Callable[[], str]) -> str:
    try:
        text = read()
    except Exception as error:  # a diagnostic must not hide the failure it explains
        text = f"(not available: {error!r})"
    return f"{title}:\n{text}"


def diagnose(cluster: LocalCluster, operator: OperatorProcess) -> str:
    """What a user would look at: objects, the pods' statuses, the code servers', kubelet's and operator's logs."""

    def pods() -> list[dict[str, Any]]:
        return cluster.api.list("/api/v1/pods")

    def statuses() -> str:  # the tail of each namespace's
        by_namespace: dict[str, list[tuple[str, Any]]] = {}
        for pod in pods():
            by_namespace.setdefault(pod["metadata"]["namespace"], []).append((pod["metadata"]["name"],
                                                                              pod.get("status")))
        return "\n".join(f"--- {ns}:\n{json.dumps(shown, indent=1)[-4000:]}" for ns, shown in by_namespace.items())

    def code_server_logs() -> str:
        return "\n".join(f"--- {p['metadata']['namespace']}/{p['metadata']['name']}:\n"
                         f"{cluster.log(p['metadata']['namespace'], p['metadata']['name'], 'codeserver')[-1500:]}"
                         for p in pods() if "codeserver" in p["metadata"]["name"])

    return "\n".join([
        _section("objects", lambda: cluster.kubectl("get", "codelocations,instances,deployments,jobs,pods", "-A",
                                                    "-o", "wide", check=False).stdout),
        _section("pods", statuses),
        _section("kubelet log", lambda: cluster.server_log("kubelet", tail=3000)),
        _section("code server logs", code_server_logs),
        _section("operator log", operator.log),
    ])


def wait_object(cluster: LocalCluster, operator: OperatorProcess, path: str, test: Callable[[dict[str, Any]], Any],
                timeout: float = 60, what: str = "") -> dict[str, Any]:
    """The object at ``path`` once it passes ``test``; failing with :func:`diagnose` after ``timeout`` s."""
    try:
        result: dict[str, Any] = cluster.api.wait_for(lambda: matching(cluster.api.get_or_none(path), test),
                                                       timeout=timeout, what=what or path)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{diagnose(cluster, operator)}") from None
    return result


def wait_location(cluster: LocalCluster, operator: OperatorProcess, name: str, test: Callable[[dict[str, Any]], Any],
                  timeout: float = 60) -> dict[str, Any]:
    """The CodeLocation ``name`` of the sample namespace, once it passes ``test``."""
    return wait_object(cluster, operator, f"{LOCATIONS}/{name}", test, timeout)


def wait_gone(cluster: LocalCluster, operator: OperatorProcess, path: str, timeout: float = 30) -> None:
    try:
        cluster.api.wait_for(lambda: cluster.api.get_or_none(path) is None, timeout=timeout, what=f"{path} gone")
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{diagnose(cluster, operator)}") from None
