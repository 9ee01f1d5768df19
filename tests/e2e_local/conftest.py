"""Fixtures for tests against the local harness's API server, run as a real
subprocess (``python -m e2e.local.apiserver``), exactly as the harness runs it.

* ``apiserver`` — a fresh server for one test;
* ``module_apiserver`` — one server for a whole module (starting one takes about
  half a second), for tests that keep to their own namespaces.

Both yield an :class:`ApiServerProcess`: ``.url``, ``.kubeconfig``, and
``.kubectl(...)`` running the pinned kubectl against it (with its own discovery
cache, so CRDs applied by a test are seen at once).

And, for the operator's tests on the local cluster harness (helpers in
``operator_support.py``), one of each per test module:

* ``database`` — a fresh PostgreSQL database, dropped afterwards;
* ``operator`` — ``locus operator run`` as a subprocess against the module's own
  ``cluster`` fixture (a :class:`LocalCluster` with the CRDs applied), which each
  such module defines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from e2e.local.cluster import LocalCluster
from e2e.local.tools import kubectl
from tests.e2e_local.operator_support import Database, OperatorProcess, fresh_database, running_operator

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 20.0


@dataclass
class ApiServerProcess:
    url: str
    kubeconfig: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig),
               "KUBECACHEDIR": str(self.kubeconfig.parent / "kubectl-cache")}
        result = subprocess.run([kubectl(), *args], env=env, input=stdin, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _wait_until_ready(process: subprocess.Popen[bytes], ready: Path, log_path: Path) -> str:
    """Poll the ready file, failing as soon as the process dies or the deadline passes."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not ready.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the API server exited with {process.returncode}:\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the API server was not ready within {STARTUP_TIMEOUT}s:\n{log_path.read_text()}")
        time.sleep(0.02)
    return ready.read_text().strip()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_apiserver(work_dir: Path) -> Iterator[ApiServerProcess]:
    """Run the server in ``work_dir`` (kubeconfig, ready file, log) until the generator is closed."""
    work_dir.mkdir(parents=True, exist_ok=True)
    kubeconfig, ready, log_path = work_dir / "kubeconfig", work_dir / "apiserver.ready", work_dir / "apiserver.log"
    ready.unlink(missing_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "e2e.local.apiserver", "--port", "0", "--kubeconfig", str(kubeconfig),
             "--ready-file", str(ready)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        url = _wait_until_ready(process, ready, log_path)
        yield ApiServerProcess(url, kubeconfig, log_path, process)
    finally:
        _stop(process)


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[ApiServerProcess]:
    yield from start_apiserver(tmp_path / "apiserver")


@pytest.fixture(scope="module")
def module_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    yield from start_apiserver(tmp_path_factory.mktemp("apiserver"))


@pytest.fixture(scope="module")
def database(postgres_server_url: str) -> Iterator[Database]:
    with fresh_database(postgres_server_url) as db:
        yield db


@pytest.fixture(scope="module")
def operator(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorProcess]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    with running_operator(Path(cluster.kubeconfig), log) as process:
        yield process
