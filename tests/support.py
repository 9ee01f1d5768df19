"""Helpers shared by tests: run the real `locus` command in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from locus.execution.events import Event, EventType
from locus.execution.runs import RunRecord
from locus.instance.instance import LocusInstance
from locus.launchers.base import WorkerHealth, WorkerStatus

REPO = Path(__file__).resolve().parent.parent
OWN_EXAMPLES = REPO / "examples"
SHARED_EXAMPLES = REPO.parent / "shared" / "examples"


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def example_roots() -> list[Path]:
    """The project's own examples always; the shared acceptance examples,
    untouched, whenever that folder exists beside the repository."""
    roots = [OWN_EXAMPLES]
    if SHARED_EXAMPLES.is_dir():
        roots.append(SHARED_EXAMPLES)
    return roots


@dataclass(frozen=True)
class Completed:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_locus(*args: str, cwd: Path, home: Path, env: dict[str, str] | None = None, timeout: float = 120) -> Completed:
    full_env = {**os.environ, "LOCUS_HOME": str(home), **(env or {})}
    full_env.pop("LOCUS_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "locus.cli.main", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Completed(proc.returncode, proc.stdout, proc.stderr)


class RecordingLauncher:
    """A launcher for queue tests: marks runs STARTING (as the local launcher
    does) without starting processes, and remembers the order."""

    def __init__(self, instance: LocusInstance) -> None:
        self.instance = instance
        self.launched: list[str] = []
        self.event = threading.Event()

    def launch(self, run: RunRecord) -> bool:
        self.launched.append(run.run_id)
        self.instance.store_event(Event(run.run_id, EventType.RUN_STARTING))
        self.event.set()
        return True

    def terminate(self, run_id: str) -> bool:
        return False

    def check_run_worker(self, run: RunRecord) -> WorkerHealth:
        return WorkerHealth(WorkerStatus.UNKNOWN)

    def kill_run_worker(self, run: RunRecord) -> bool:
        return False
