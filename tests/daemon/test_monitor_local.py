"""Run monitoring and retries with real run processes: a run whose worker is
SIGKILLed fails with the reason within the monitoring interval, is retried
exactly once however often the retry loop passes, the retry points at its
parent and, from failure, re-runs only the steps that did not succeed; a
run past its ``locus/max_runtime`` is killed and failed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from test_queue_local import LocalDaemon

from dev.localmode import wait_until
from locus.daemon.retries import retry_run_id
from locus.execution.events import EventType, RunStatus
from locus.launchers.local import is_run_process, worker_pid

INTERVAL = 0.5
CONFIG = f"""
run_monitoring: {{poll_interval_seconds: {INTERVAL}}}
run_retries: {{enabled: true, max_retries: 1, retry_strategy: FROM_FAILURE}}
"""


def step_starts(daemon: LocalDaemon, run_id: str) -> list[str]:
    events = daemon.instance.get_events(run_id, event_types=[EventType.STEP_START])
    return [record.event.step_key or "" for record in events]


@pytest.mark.slow
def test_a_killed_worker_fails_the_run_and_it_is_retried_once_from_failure(tmp_path: Path) -> None:
    with LocalDaemon(tmp_path, CONFIG) as daemon:
        parent = daemon.submit("chain")
        wait_until(lambda: "block" in step_starts(daemon, parent), 30, "the run to reach its blocking step")
        pid = worker_pid(daemon.instance, parent)
        assert pid is not None and is_run_process(pid, parent)

        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        daemon.wait_finished(parent, timeout=10)
        noticed = time.monotonic() - killed
        assert daemon.status(parent) == RunStatus.FAILURE
        assert noticed < INTERVAL + 1.0, f"noticed after {noticed:.2f} s"
        (failure,) = daemon.instance.get_events(parent, event_types=[EventType.RUN_FAILURE])
        assert failure.event.message == f"run worker process {pid} exited without finishing the run"

        daemon.open("release")
        for _ in range(5):  # however often the loop passes: one retry
            daemon.retries.tick(time.time())
        children = [r for r in daemon.instance.storage.get_runs() if r.parent_run_id == parent]
        assert [c.run_id for c in children] == [retry_run_id(parent)]
        child = children[0]
        assert (child.parent_run_id, child.root_run_id) == (parent, parent)
        assert child.tags["locus/retry_number"] == "1"
        assert child.step_keys_to_execute == ("block", "after")

        assert daemon.wait_finished(child.run_id) == RunStatus.SUCCESS
        assert step_starts(daemon, child.run_id) == ["block", "after"]  # `first` came from the parent's output
        for _ in range(3):
            daemon.retries.tick(time.time())
        assert len(daemon.instance.storage.get_runs()) == 2


@pytest.mark.slow
def test_a_run_past_its_max_runtime_is_killed_and_failed(tmp_path: Path) -> None:
    with LocalDaemon(tmp_path, CONFIG) as daemon:
        run_id = daemon.submit("gated", **{"locus/max_runtime": "1"})
        wait_until(lambda: daemon.status(run_id) == RunStatus.STARTED, 30, "the run to start")
        pid = worker_pid(daemon.instance, run_id)
        assert pid is not None
        assert daemon.wait_finished(run_id, timeout=1 + INTERVAL + 5) == RunStatus.FAILURE
        message = daemon.instance.get_events(run_id, event_types=[EventType.RUN_FAILURE])[-1].event.message
        assert "maximum runtime of 1 s" in message
        wait_until(lambda: not is_run_process(pid, run_id), 5, "the worker to be gone")
