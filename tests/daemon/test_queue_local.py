"""The run queue with real code servers and real run processes: 20 runs
under ``max_concurrent_runs: 3`` never exceed 3 in progress and all finish;
a tag limit of 1 serialises the runs with that tag.

``LocalDaemon`` (also used by the monitoring tests) is the local mode's
daemon side in this process: a workspace manager, the local launcher, the
run queue in its thread and the run monitor in another; runs block in an op
until the test creates their gate file."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dev.localmode import wait_until
from locus.daemon.coordinator import IN_PROGRESS_STATUSES
from locus.daemon.monitor import RunMonitor
from locus.daemon.retries import RunRetries
from locus.daemon.run_queue import RunQueue
from locus.execution.events import FINISHED_STATUSES, RunStatus
from locus.execution.runs import RunsFilter
from locus.instance.config import load_instance_config
from locus.instance.instance import LocusInstance
from locus.launchers.local import LocalRunLauncher
from locus.workspace.config import load_workspace
from locus.workspace.manager import WorkspaceManager
from locus.workspace.submission import RunSubmission, submit_run

LOCATION = '''
import os
import time

from locus import Definitions, in_process_executor, job, op

GATES = {gates!r}


def _wait(name):
    deadline = time.time() + 60
    while not os.path.exists(os.path.join(GATES, name)):
        if time.time() > deadline:
            raise RuntimeError(f"gate {{name}} was never opened")
        time.sleep(0.02)


@op
def hold():
    _wait("open")
    return 1


@job(executor_def=in_process_executor)
def gated():
    hold()


@op
def first():
    return 1


@op
def block(x):
    _wait("release")
    return x + 1


@op
def after(x):
    return x + 1


@job(executor_def=in_process_executor)
def chain():
    after(block(first()))


defs = Definitions(jobs=[gated, chain])
'''


class LocalDaemon:
    def __init__(self, tmp_path: Path, config: str) -> None:
        self.home = tmp_path / "home"
        self.gates = tmp_path / "gates"
        self.home.mkdir()
        self.gates.mkdir()
        (self.home / "locus.yaml").write_text(config)  # the run processes read it too
        (tmp_path / "gated.py").write_text(LOCATION.format(gates=str(self.gates)))
        workspace = tmp_path / "workspace.yaml"
        workspace.write_text("load_from:\n  - python_file: {relative_path: gated.py, location_name: gated}\n")
        self.instance = LocusInstance.from_config(load_instance_config(self.home / "locus.yaml"), self.home)
        self.manager = WorkspaceManager(load_workspace(workspace), self.instance)
        self.launcher = LocalRunLauncher(self.manager, self.instance)
        self.queue = RunQueue(self.instance, self.launcher)
        self.monitor = RunMonitor(self.instance, self.launcher)
        self.retries = RunRetries(self.instance, self.manager)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self.queue.run, args=(self._stop,), daemon=True),
            threading.Thread(target=self._drive, args=(self.monitor.tick, self.monitor.interval), daemon=True),
        ]
        self.manager.start()
        assert self.manager.wait_until_settled(60), [s.status for s in self.manager.locations()]
        for thread in self._threads:
            thread.start()

    def _drive(self, tick: Callable[[float], None], interval: float) -> None:
        while not self._stop.wait(interval):
            tick(time.time())

    def submit(self, job_name: str = "gated", **tags: str) -> str:
        run = submit_run(self.manager, self.instance, RunSubmission("gated", job_name, tags=tags))
        self.queue.wake()
        return run.run_id

    def open(self, gate: str) -> None:
        (self.gates / gate).touch()

    def count(self, *statuses: RunStatus, **tags: str) -> int:
        return self.instance.storage.count_runs(RunsFilter(statuses=statuses, tags=tags or None))

    def status(self, run_id: str) -> RunStatus:
        run = self.instance.get_run(run_id)
        assert run is not None
        return run.status

    def wait_finished(self, run_id: str, timeout: float = 30) -> RunStatus:
        return wait_until(lambda: self.status(run_id) if self.status(run_id) in FINISHED_STATUSES else None,
                          timeout, f"run {run_id} to finish")

    def close(self) -> None:
        self._stop.set()
        self.queue.wake()
        for thread in self._threads:
            thread.join(10)
        self.manager.stop()
        self.instance.dispose()

    def __enter__(self) -> LocalDaemon:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def sample_until_done(daemon: LocalDaemon, run_ids: list[str], timeout: float = 60, **tags: str) -> int:
    """The most runs (with ``tags``) seen in progress at once, sampled until every run finished."""
    deadline = time.monotonic() + timeout
    most = 0
    while True:
        most = max(most, daemon.count(*IN_PROGRESS_STATUSES, **tags))
        if all(daemon.status(r) in FINISHED_STATUSES for r in run_ids):
            return most
        assert time.monotonic() < deadline, f"runs not finished after {timeout} s"
        time.sleep(0.01)


@pytest.mark.slow
def test_twenty_runs_under_max_concurrent_runs_3_never_exceed_3_and_all_finish(tmp_path: Path) -> None:
    with LocalDaemon(tmp_path, "run_coordinator: {max_concurrent_runs: 3}\n") as daemon:
        runs = [daemon.submit() for _ in range(20)]
        wait_until(lambda: daemon.count(RunStatus.STARTED) == 3, 30, "3 runs started")
        # While the first three hold their slots nothing else may start.
        held_until = time.monotonic() + 0.5
        while time.monotonic() < held_until:
            assert daemon.count(*IN_PROGRESS_STATUSES) == 3 and daemon.count(RunStatus.QUEUED) == 17
            time.sleep(0.02)
        daemon.open("open")
        assert sample_until_done(daemon, runs) == 3
        assert [daemon.status(r) for r in runs] == [RunStatus.SUCCESS] * 20


@pytest.mark.slow
def test_a_tag_limit_of_1_serialises_the_runs_with_that_tag(tmp_path: Path) -> None:
    config = "run_coordinator:\n  tag_concurrency_limits: [{key: database, value: main, limit: 1}]\n"
    with LocalDaemon(tmp_path, config) as daemon:
        tagged = [daemon.submit(database="main") for _ in range(4)]
        other = [daemon.submit(database="replica"), daemon.submit()]
        wait_until(lambda: daemon.count(RunStatus.STARTED) == 3, 30, "one tagged and two other runs started")
        assert daemon.count(RunStatus.QUEUED, database="main") == 3
        daemon.open("open")
        assert sample_until_done(daemon, tagged + other, database="main") == 1
        assert {daemon.status(r) for r in tagged + other} == {RunStatus.SUCCESS}
