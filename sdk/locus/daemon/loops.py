"""The daemon's loops, built once for `locus daemon run` and `locus dev`.

A loop is any object with ``name`` (its heartbeat's daemon_type),
``interval`` (seconds between passes) and ``tick(now)`` (one pass, never
raising for one bad location or run). A loop may also drive itself with
``run(stop, on_tick)`` (the run queue does, to wake on notifications), and
may have ``wake()`` and ``close()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from locus.daemon.monitor import RunMonitor
from locus.daemon.retries import RunRetries
from locus.daemon.run_queue import RunQueue
from locus.daemon.scheduler import SchedulerLoop
from locus.daemon.sensors import SensorLoop
from locus.instance.instance import LocusInstance
from locus.launchers.base import RunLauncher
from locus.workspace.manager import WorkspaceManager


@runtime_checkable
class Loop(Protocol):
    name: str
    interval: float

    def tick(self, now: float) -> None: ...


def hosts_run_loops(instance: LocusInstance) -> bool:
    """Whether the daemon hosts the run queue and run monitoring: with the
    local launcher yes; with the Kubernetes launcher the operator does (it
    alone can create and watch Jobs), so that there is exactly one dequeuer
    and one monitor per instance."""
    return instance.config.run_launcher.kind == "local"


def build_loops(
    instance: LocusInstance,
    manager: WorkspaceManager,
    launcher: RunLauncher | None,
    queue: RunQueue | None = None,
    clock: Callable[[], float] = time.time,
) -> list[Loop]:
    """Scheduler, sensors, run queue (``queue``, e.g. the one the API wakes,
    or a new one), run monitor and retries. Without the run queue and run
    monitor when the instance's run launcher is ``k8s`` (see
    ``hosts_run_loops``; ``launcher`` may then be None): schedules, sensors
    and retries only create QUEUED runs, which the operator's queue launches."""
    loops: list[Loop] = [
        SchedulerLoop(instance, manager, clock),
        SensorLoop(instance, manager, clock),
    ]
    if hosts_run_loops(instance):
        if launcher is None:
            raise ValueError("the run queue and run monitor need a launcher with run_launcher: local")
        loops += [
            queue if queue is not None else RunQueue(instance, launcher),
            RunMonitor(instance, launcher, instance.config.run_monitoring, clock=clock),
        ]
    loops.append(RunRetries(instance, manager, instance.config.run_retries, clock=clock))
    return loops
