"""Shared pieces of the operator workloads: the local API server, the CRDs, the operator, watches.

``running_cluster`` starts the local cluster harness's API server (``python -m e2e.local.apiserver``, no
kubelet: nothing runs the pods, so reconciling means the operator creating the children and writing the
status), creates the CRDs from ``crds/*.yaml``, then starts ``locus operator run`` on namespace ``bench``
and waits for its ``/healthz``. Both processes are stopped when the block ends, failed or not; their logs
go to the scratch directory and the tail of each is attached to a failure.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import _common
import httpx
import yaml

REPO = Path(__file__).resolve().parents[3]
NAMESPACE = "bench"
GROUP_VERSION = "locus.dev/v1alpha1"
LOCATIONS = f"/apis/{GROUP_VERSION}/namespaces/{NAMESPACE}/codelocations"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
SERVICES = f"/api/v1/namespaces/{NAMESPACE}/services"
START_TIMEOUT_S = 60


def code_location(name: str) -> dict[str, Any]:
    """A CodeLocation like ``examples/k8s/codelocation.yaml``, in namespace ``bench``."""
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "CodeLocation",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "instanceRef": "default",
            "image": "example/numbers:1",
            "imagePullPolicy": "IfNotPresent",
            "module": "numbers",
            "attribute": "defs",
            "workingDirectory": "/opt/locus/app",
            "replicas": 1,
            "env": [{"name": "LOCUS_S3_BUCKET", "value": "numbers-io"}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
        },
    }


def deployment_name(location: str) -> str:
    return f"locus-codeserver-{location}"


def peak_rss_kib(pid: int) -> int:
    """The process's VmHWM (peak resident set) in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for pid {pid}")


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when this script dies, even by SIGKILL (the harness's timeout)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _locus_command() -> list[str]:
    script = Path(sys.executable).parent / "locus"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from locus.cli.main import main; sys.exit(main())"]


@dataclass
class Cluster:
    url: str
    client: httpx.Client
    operator: subprocess.Popen[bytes]


def _wait_until(what: str, check: Callable[[], bool], processes: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not check():
        for name, process in processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with status {process.returncode} before {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {START_TIMEOUT_S} s")
        time.sleep(0.02)


def _create_crds(client: httpx.Client) -> None:
    for path in sorted((REPO / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        response = client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
        assert response.status_code == 201, (path.name, response.status_code, response.text[:500])


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def running_cluster(scratch: str) -> Iterator[Cluster]:
    """The API server with the CRDs, and the operator watching namespace ``bench``, both healthy."""
    work = Path(scratch)
    kubeconfig, ready = work / "kubeconfig.yaml", work / "apiserver.url"
    logs: dict[str, Path] = {"API server": work / "apiserver.log", "operator": work / "operator.log"}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    files: list[TextIO] = []
    client: httpx.Client | None = None

    def spawn(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = logs[name].open("w")
        files.append(log)
        processes[name] = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        return processes[name]

    try:
        ready.unlink(missing_ok=True)  # the API server writes it once it listens
        env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "PYTHONPATH")}
        server = ["-m", "e2e.local.apiserver", "--port", "0", "--kubeconfig", str(kubeconfig)]
        spawn("API server", [sys.executable, *server, "--ready-file", str(ready)], env)
        _wait_until("the API server listens", ready.exists, processes)
        url = ready.read_text().strip()
        client = httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_connections=64))
        _create_crds(client)

        port = _common.free_port()
        health = ["--health-host", "127.0.0.1", "--health-port", str(port)]
        command = [*_locus_command(), "operator", "run", *health, "--namespace", NAMESPACE]
        operator = spawn("operator", command, {**env, "KUBECONFIG": str(kubeconfig)})
        _wait_until("the operator's /healthz answers 200", lambda: _healthy(port), processes)
        yield Cluster(url, client, operator)
    except BaseException as error:
        tails = "\n".join(f"--- {name} log (tail) ---\n{_tail(path)}" for name, path in logs.items())
        print(tails, file=sys.stderr, flush=True)
        if isinstance(error, Exception):
            raise RuntimeError(f"{type(error).__name__}: {error}") from error
        raise
    finally:
        for process in reversed(list(processes.values())):
            _stop(process)
        if client is not None:
            client.close()
        for file in files:
            file.close()


class Watch:
    """A watch on one collection in a daemon thread: ``on_event(type, object, received_at)`` per event."""

    def __init__(self, url: str, path: str, on_event: Callable[[str, dict[str, Any], float], None]) -> None:
        self.url, self.path, self.on_event = url, path, on_event
        self.opened = threading.Event()
        self.error: BaseException | None = None
        self._client = httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=None))
        self._thread = threading.Thread(target=self._run, name=f"watch {path}", daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        if not self.opened.wait(START_TIMEOUT_S):
            raise RuntimeError(f"the watch on {self.path} did not open")
        if self.error is not None:
            raise RuntimeError(f"the watch on {self.path} failed: {self.error}")
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close()  # ends the stream; the thread is a daemon either way

    def _run(self) -> None:
        try:
            with self._client.stream("GET", self.path, params={"watch": "true"}) as response:
                assert response.status_code == 200, (response.status_code, response.read()[:500])
                self.opened.set()
                for line in response.iter_lines():
                    received = time.perf_counter()
                    if line:
                        event = json.loads(line)
                        self.on_event(event["type"], event["object"], received)
        except BaseException as error:  # reported by __enter__ or by the workload's checks
            self.error = error
            self.opened.set()
