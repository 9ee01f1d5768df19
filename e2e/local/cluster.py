"""``LocalCluster``: the emulated API server plus the local kubelet, for tests and benchmarks.

::

    from e2e.local.cluster import LocalCluster
    from e2e.local.images import ImageEnv

    with LocalCluster({"example/app:1": ImageEnv.current_python(paths={"/app": "/abs/dir"})}) as cluster:
        cluster.kubectl("apply", "-f", "deployment.yaml")
        cluster.api.wait_for(lambda: cluster.api.get(path)["status"].get("readyReplicas") == 1, timeout=20)
        print(cluster.log("default", pod_name, "app"))

Both servers run as subprocesses (``python -m e2e.local.apiserver`` and
``python -m e2e.local.kubelet``) in a work dir (a temporary one by default):
the kubeconfig, the image table (``images.yaml``), the servers' own logs
(``apiserver.log``, ``kubelet.log``), per pod ``pods/<ns>_<name>_<uid8>/``
(``volumes/<name>/``, a ``rootfs/`` scratch folder) and the container logs
``logs/<ns>/<pod>/<container>.log`` (+ ``.previous.log``), which the API
server serves as ``kubectl logs``.

Emulated: Pods (one local process per container in its own process group,
own loopback IP 127.0.X.Y, env incl. the downward API and ConfigMap/Secret
references, volumes as folders with paths rewritten, probes, restarts with
back-off, OOM kills by RSS polling, graceful deletion with a terminal phase,
``kubectl logs``), Deployments (RollingUpdate/Recreate, scaling, status and
conditions; Pods are managed directly, without ReplicaSet objects), Jobs
(backoffLimit, activeDeadlineSeconds, ttlSecondsAfterFinished,
parallelism/completions, 1.31-style conditions) and Services (a TCP proxy on
the clusterIP, round-robin over Ready pods). A pod's wildcard listeners
(``0.0.0.0`` in args/env, and default binds of Python servers) become its own
IP, so pods can share ports. Pod IPs start at a random 127.0.X.1 per cluster
so that clusters of test runs in parallel rarely collide.

Not emulated: a scheduler and nodes (one implicit node, ``local``), cluster
DNS (the operator uses Service clusterIPs), NodePorts, Endpoints objects,
ReplicaSets/StatefulSets/DaemonSets/CronJobs, mount/PID/user namespaces and
securityContext, CPU limits and requests, image pulling (the image table
decides), ConfigMap volume updates after start, lifecycle hooks, ephemeral and
sidecar containers, ``kubectl exec``/``port-forward``/``attach``, IPv6.

Timings are shortened: probe periods and initial delays capped at 1 s, grace
periods at 5 s, restart back-off 0.2 s doubling to 5 s (reset after 10 s of
running), image-pull back-off 0.5 s doubling to 5 s, Job retry back-off 0.2 s
doubling to 5 s, progress deadlines at 30 s (the probe and progress-deadline
caps are constructor arguments).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx

from e2e.local.images import ImageEnv, write_images

__all__ = ["Api", "ApiError", "KubectlError", "LocalCluster"]

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


class ApiError(Exception):
    """A non-2xx answer from the API server; ``status`` is the HTTP status, ``body`` the Status object."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


class KubectlError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


class Api:
    """A tiny synchronous client (httpx) for tests: full API paths, JSON bodies."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, timeout=timeout, headers={"Accept": "application/json"})

    def close(self) -> None:
        self.client.close()

    def _send(self, method: str, path: str, body: Any = None, params: Mapping[str, str] | None = None,
              content_type: str = "application/json") -> Any:
        headers = {"Content-Type": content_type} if body is not None else {}
        response = self.client.request(method, path, content=json.dumps(body) if body is not None else None,
                                       params=params, headers=headers)
        try:
            payload = response.json() if response.content else None
        except ValueError:
            payload = response.text
        if response.status_code >= 400:
            message = payload.get("message") if isinstance(payload, dict) else response.text[:500]
            raise ApiError(response.status_code, f"{method} {path}: {message}", payload)
        return payload

    def get(self, path: str) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", path)
        return result

    def get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            return self.get(path)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path: str, label_selector: str | Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        params = {}
        if label_selector:
            if isinstance(label_selector, Mapping):
                label_selector = ",".join(f"{k}={v}" for k, v in label_selector.items())
            params["labelSelector"] = label_selector
        items: list[dict[str, Any]] = self._send("GET", path, params=params).get("items") or []
        return items

    def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._send("POST", path, dict(body))
        return result

    def patch(self, path: str, body: Mapping[str, Any],
              content_type: str = "application/merge-patch+json") -> dict[str, Any]:
        result: dict[str, Any] = self._send("PATCH", path, dict(body), content_type=content_type)
        return result

    def delete(self, path: str, propagation: str | None = None) -> dict[str, Any] | None:
        params = {"propagationPolicy": propagation} if propagation else None
        try:
            result: dict[str, Any] | None = self._send("DELETE", path, params=params)
            return result
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    @staticmethod
    def wait_for(fn: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1, what: str = "") -> T:
        """Call ``fn`` until it returns something truthy (returned) or ``timeout`` passes; then raise
        ``TimeoutError`` with the last value (or exception) seen. API errors and AssertionErrors
        raised by ``fn`` count as "not yet"."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                value = fn()
                last = value
                if value:
                    return value
            except (ApiError, httpx.HTTPError, AssertionError, KeyError, IndexError, TypeError) as exc:
                last = exc
            if time.monotonic() >= deadline:
                label = f" ({what})" if what else ""
                raise TimeoutError(f"condition{label} not met within {timeout}s; last value: {last!r}")
            time.sleep(interval)


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


class LocalCluster:
    """The API server and the kubelet as subprocesses; a context manager (see the module docstring).

    ``images``: image reference (or glob) -> :class:`ImageEnv`; more can be added while running
    with :meth:`add_images` (a pod in ImagePullBackOff then starts). ``work_dir``: where everything
    goes (default: a temporary folder, removed on exit unless ``keep_work_dir``). ``kubelet_args`` and
    ``apiserver_args``: more command-line arguments for either server (``("--log-level", "INFO")``
    logs every request the API server answers, with its User-Agent, in ``apiserver.log``)."""

    def __init__(self, images: Mapping[str, ImageEnv] | None = None, *, work_dir: str | os.PathLike[str] | None = None,
                 keep_work_dir: bool = False, startup_timeout: float = 30.0, pass_env: Iterable[str] = (),
                 probe_period_cap: float = 1.0, probe_delay_cap: float = 1.0, progress_deadline_cap: float = 30.0,
                 pod_ip_start: str | None = None, kubelet_args: Sequence[str] = (),
                 apiserver_args: Sequence[str] = ()) -> None:
        self.images: dict[str, ImageEnv] = dict(images or {})
        self.apiserver_args = list(apiserver_args)  # e.g. ("--log-level", "INFO"): every request in apiserver.log
        self._given_work_dir = Path(work_dir) if work_dir is not None else None
        self.keep_work_dir = keep_work_dir or work_dir is not None
        self.startup_timeout = startup_timeout
        if pod_ip_start is None:  # clusters of concurrent test runs should not hand out the same pod IPs
            pod_ip_start = f"127.0.{random.randint(1, 200)}.1"
        self.kubelet_args = [
            "--pod-ip-start", pod_ip_start,
            "--probe-period-cap", str(probe_period_cap), "--probe-delay-cap", str(probe_delay_cap),
            "--progress-deadline-cap", str(progress_deadline_cap),
            *(arg for name in pass_env for arg in ("--pass-env", name)), *kubelet_args,
        ]
        self.work_dir = Path()
        self.url = ""
        self._api: Api | None = None
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def kubeconfig(self) -> Path:
        return self.work_dir / "kubeconfig"

    @property
    def images_file(self) -> Path:
        return self.work_dir / "images.yaml"

    @property
    def api(self) -> Api:
        if self._api is None:
            raise RuntimeError("the cluster is not started")
        return self._api

    def start(self) -> LocalCluster:
        if self._given_work_dir is not None:
            self.work_dir = self._given_work_dir.resolve()
            self.work_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.work_dir = Path(tempfile.mkdtemp(prefix="locus-cluster-"))
        write_images(self.images_file, self.images)
        try:
            url = self._spawn("apiserver", ["-m", "e2e.local.apiserver", "--port", "0",
                                            "--kubeconfig", str(self.kubeconfig), *self.apiserver_args])
            self.url = url.strip()
            self._api = Api(self.url)
            self._spawn("kubelet", self._kubelet_command())
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, args: list[str]) -> str:
        ready = self.work_dir / f"{name}.ready"
        ready.unlink(missing_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        with open(self.work_dir / f"{name}.log", "ab") as log:
            process = subprocess.Popen([sys.executable, *args, "--ready-file", str(ready)], cwd=ROOT, env=env,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       preexec_fn=_die_with_parent)
        self._processes[name] = process
        deadline = time.monotonic() + self.startup_timeout
        while not ready.exists():
            if process.poll() is not None:
                raise RuntimeError(f"the local {name} exited with {process.returncode}:\n{self.server_log(name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local {name} was not ready within {self.startup_timeout}s:\n"
                                   f"{self.server_log(name)}")
            time.sleep(0.05)
        return ready.read_text()

    def _terminate(self, name: str) -> None:
        process = self._processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart_kubelet(self) -> None:
        """Stop the kubelet (its container processes die with it) and start a new one, which adopts
        the existing Pods, Deployments and Jobs -- what a node or controller-manager restart looks like."""
        self._terminate("kubelet")
        self._spawn("kubelet", self._kubelet_command())

    def _kubelet_command(self) -> list[str]:
        return ["-m", "e2e.local.kubelet", "--kubeconfig", str(self.kubeconfig), "--images", str(self.images_file),
                "--work-dir", str(self.work_dir), *self.kubelet_args]

    def stop(self) -> None:
        for name in ("kubelet", "apiserver"):  # the kubelet first: it kills every container process
            self._terminate(name)
        if self._api is not None:
            self._api.close()
            self._api = None
        if not self.keep_work_dir and self.work_dir != Path():
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # ------------------------------------------------------------ conveniences

    def add_images(self, images: Mapping[str, ImageEnv]) -> None:
        """Add or replace image table entries; the kubelet re-reads the table before each pull."""
        self.images.update(images)
        write_images(self.images_file, self.images)

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        from e2e.local.tools import kubectl

        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        result = subprocess.run([kubectl(), *args], input=input, capture_output=True, text=True, env=env,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, result.args, result.stdout, result.stderr)
        return result

    def log_path(self, namespace: str, pod: str, container: str, previous: bool = False) -> Path:
        return self.work_dir / "logs" / namespace / pod / f"{container}{'.previous' if previous else ''}.log"

    def log(self, namespace: str, pod: str, container: str, previous: bool = False) -> str:
        path = self.log_path(namespace, pod, container, previous)
        return path.read_text(errors="replace") if path.exists() else ""

    def server_log(self, name: str = "kubelet", tail: int = 8000) -> str:
        """The tail of ``kubelet.log`` or ``apiserver.log`` (for assertion messages)."""
        path = self.work_dir / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def pid_of(self, namespace: str, pod: str, container: str | None = None) -> int | None:
        """The local process id of a running container (its ``containerID`` is ``local://<pid>``)."""
        obj = self.api.get_or_none(f"/api/v1/namespaces/{namespace}/pods/{pod}")
        for status in ((obj or {}).get("status") or {}).get("containerStatuses") or []:
            if container in (None, status.get("name")) and "running" in (status.get("state") or {}):
                container_id = str(status.get("containerID") or "")
                if container_id.startswith("local://"):
                    return int(container_id.removeprefix("local://"))
        return None

    def create_namespace(self, name: str) -> None:
        with contextlib.suppress(ApiError):
            self.api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": name}})
