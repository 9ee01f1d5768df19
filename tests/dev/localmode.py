"""Helpers for the local-mode tests (workspace manager, API, `locus dev`):
free ports, waiting on conditions with deadlines, example copies, and a
`locus dev` subprocess driven over HTTP."""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from support import free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None], timeout: float = 30.0, what: str = "condition", interval: float = 0.05
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
        except Exception as exc:  # e.g. the server not listening yet
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def copy_departments(dest: Path) -> Path:
    """The departments example (and broken_location.py) copied into ``dest``."""
    target = dest / "departments"
    shutil.copytree(EXAMPLES / "departments", target, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(EXAMPLES / "broken_location.py", target / "broken_location.py")
    return target


def code_server_pids(home: Path) -> list[int]:
    """Live `locus api grpc` processes serving the instance at ``home``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z" or b"locus.cli.main" not in cmdline or b"grpc" not in cmdline:
            continue
        if f"LOCUS_HOME={home}".encode() in environ:
            found.append(int(entry.name))
    return found


def parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def locus_env(home: Path) -> dict[str, str]:
    env = {**os.environ, "LOCUS_HOME": str(home)}
    env.pop("LOCUS_DEBUG", None)
    return env


class RunsClient:
    """Launching and following runs through the REST API (``self.http``):
    shared by the harnesses below."""

    http: Any

    def launch(self, **body: Any) -> str:
        response = self.http.post("/api/runs", json=body)
        assert response.status_code == 201, response.text
        run_id: str = response.json()["run_id"]
        return run_id

    def run(self, run_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get(f"/api/runs/{run_id}").json()
        return body

    def wait_run(self, run_id: str, timeout: float = 60) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            body = self.run(run_id)
            return body if body["run"]["status"] in FINISHED else None

        return wait_until(finished, timeout, f"run {run_id} to finish", interval=0.05)


class LocusDev(RunsClient):
    """`locus dev` (or ``command``, e.g. "api serve") as a subprocess on a
    free port, with its output in a file."""

    def __init__(self, args: list[str], cwd: Path, home: Path, command: str = "dev") -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = home.parent / f"locus-dev-{self.port}.out"
        home.mkdir(parents=True, exist_ok=True)
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "locus.cli.main", *command.split(), *args, "--port", str(self.port)],
                cwd=cwd,
                env=locus_env(home),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.http = httpx.Client(base_url=self.url, timeout=60)
        wait_until(lambda: self.http.get("/healthz").status_code == 200, 30, f"locus dev on {self.url}")

    def locations(self) -> dict[str, dict[str, Any]]:
        body = self.http.get("/api/locations").json()
        return {loc["name"]: loc for loc in body["locations"]}

    def wait_statuses(self, expected: dict[str, str], timeout: float = 60) -> dict[str, dict[str, Any]]:
        def check() -> dict[str, dict[str, Any]] | None:
            found = self.locations()
            return found if all(found[n]["status"] == s for n, s in expected.items()) else None

        return wait_until(check, timeout, f"locations {expected}")

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def stop(self, signum: int = signal.SIGINT, timeout: float = 30) -> int:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"locus dev did not stop on signal {signum}:\n{self.text()}") from None

    def __enter__(self) -> LocusDev:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.stop()
        for pid in code_server_pids(self.home):  # never leave a server behind, even when a test fails
            os.kill(pid, signal.SIGKILL)


class LocalApi(RunsClient):
    """Manager, launcher, run queue and API in this process (what `locus dev`
    wires together), with a TestClient on the API. Storage is SQLite in
    ``home`` unless ``url`` names another (e.g. a PostgreSQL schema)."""

    def __init__(
        self,
        workspace_file: Path,
        home: Path,
        settle: bool = True,
        url: str | None = None,
        auth_token: str | None = None,
    ) -> None:
        from fastapi.testclient import TestClient

        from locus.api.app import create_app
        from locus.daemon.run_queue import RunQueue
        from locus.instance.instance import LocusInstance
        from locus.launchers.local import LocalRunLauncher
        from locus.workspace.config import load_workspace
        from locus.workspace.manager import WorkspaceManager

        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        url = url or f"sqlite:///{home / 'locus.db'}"
        if url.startswith("postgres"):
            # Runs are separate processes that read the instance from $LOCUS_HOME/locus.yaml.
            (home / "locus.yaml").write_text(f'storage:\n  postgres:\n    url: "{url}"\n')
        self.instance = LocusInstance.for_url(url, home)
        self.manager = WorkspaceManager(load_workspace(workspace_file), self.instance)
        self.queue = RunQueue(self.instance, LocalRunLauncher(self.manager, self.instance), poll_interval=0.1)
        self.app = create_app(self.instance, self.manager, self.queue, auth_token=auth_token)
        self.http = TestClient(self.app)
        self._stop = threading.Event()
        self._queue_thread = threading.Thread(target=self.queue.run, args=(self._stop,), daemon=True)
        self.manager.start()
        self._queue_thread.start()
        if settle:
            assert self.manager.wait_until_settled(60), [s.status for s in self.manager.locations()]

    def close(self) -> None:
        self._stop.set()
        self.queue.wake()
        self._queue_thread.join(10)
        self.manager.stop()
        self.http.close()
        self.instance.dispose()

    def __enter__(self) -> LocalApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stored_value(home: Path, *key: str) -> Any:
    """An asset's value as the default filesystem IO manager stored it."""
    return pickle.loads(home.joinpath("storage", *key).read_bytes())
