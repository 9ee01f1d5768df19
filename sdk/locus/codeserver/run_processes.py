"""Runs started by a code server in local mode: each is ``locus execute run
RUN_ID`` as a child process in the location's environment. The server keeps
the children to cancel them (SIGTERM: the run records CANCELED), reaps them
when they end, and terminates the rest when it stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping


class RunProcesses:
    def __init__(self, working_directory: str | None) -> None:
        self.working_directory = working_directory
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def start(self, run_id: str, instance_home: str, env: Mapping[str, str] | None = None) -> int:
        """The child's pid. Starting a run that is still running here returns
        the running child (a launcher may retry after a lost answer)."""
        with self._lock:
            running = self._children.get(run_id)
            if running is not None and running.poll() is None:
                return running.pid
            child = subprocess.Popen(
                [sys.executable, "-m", "locus.cli.main", "execute", "run", run_id],
                cwd=self.working_directory,
                env={**os.environ, **(env or {}), "LOCUS_HOME": instance_home},
                stdin=subprocess.DEVNULL,
                # Same process group as the server: a supervisor that signals the
                # group (`locus dev` stopping with its runs) reaches runs too.
            )
            self._children[run_id] = child
            return child.pid

    def cancel(self, run_id: str) -> bool:
        """SIGTERM the run's child; False when no child of ours runs it."""
        with self._lock:
            child = self._children.get(run_id)
            if child is None or child.poll() is not None:
                return False
            child.send_signal(signal.SIGTERM)
            return True

    def reap(self) -> None:
        """Forget children that ended (``poll`` collects their exit status)."""
        with self._lock:
            for run_id in [r for r, c in self._children.items() if c.poll() is not None]:
                del self._children[run_id]

    def signal_all(self, signum: int = signal.SIGTERM) -> None:
        with self._lock:
            for child in self._children.values():
                if child.poll() is None:
                    child.send_signal(signum)

    def terminate_all(self, grace: float) -> None:
        """SIGTERM every child, then SIGKILL those still alive after ``grace`` seconds."""
        self.signal_all(signal.SIGTERM)
        self.wait_all(grace)

    def wait_all(self, grace: float) -> None:
        """Wait for every child (already signalled: a second SIGTERM could cut a
        run's own cancellation short), SIGKILL those alive after ``grace`` seconds."""
        with self._lock:
            children = [c for c in self._children.values() if c.poll() is None]
            deadline = time.monotonic() + grace
            for child in children:
                try:
                    child.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            self._children.clear()
