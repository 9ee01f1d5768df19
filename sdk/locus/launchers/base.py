"""What the run queue and run monitoring need from a launcher, whichever it
is (local now, Kubernetes later): start a run, stop it, kill its worker, and
say whether its worker is still alive."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from locus.execution.runs import RunRecord


class WorkerStatus(StrEnum):
    RUNNING = "RUNNING"
    # The worker is gone (exited, killed, a zombie): the run will never finish by itself.
    DEAD = "DEAD"
    # The launcher cannot tell (no worker recorded yet, or one on another host).
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class WorkerHealth:
    status: WorkerStatus
    pid: int | None = None
    message: str = ""


class RunLauncher(Protocol):
    def launch(self, run: RunRecord) -> bool:
        """Start the run; False when it could not start (and was failed)."""
        ...

    def terminate(self, run_id: str) -> bool:
        """Ask the run to stop (it records CANCELED); False when nothing runs it."""
        ...

    def check_run_worker(self, run: RunRecord) -> WorkerHealth:
        """Whether the process executing ``run`` is alive."""
        ...

    def kill_run_worker(self, run: RunRecord) -> bool:
        """Stop the run's worker at once, giving it no chance to record
        anything more; False when there was none to kill."""
        ...
