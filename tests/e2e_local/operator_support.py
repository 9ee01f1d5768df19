"""The operator as a real subprocess against the local cluster harness, and
the PostgreSQL database an Instance of the harness points at."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SYSTEM_IMAGE = "ghcr.io/locus/locus:0.1.0"
NUMBERS_IMAGE = "registry.example.com/data/numbers:1.4.2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
