"""The scheduler against a real code server, driven by a fake clock: one run
per cron tick, the right wall-clock time across a DST change, catch-up after
downtime, and exactly one run for a tick whose daemon was SIGKILLed mid-tick."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dev.localmode import code_server_pids, locus_env
from locus.daemon.scheduler import (
    KILL_AFTER_SUBMIT_ENV,
    SchedulerLoop,
    origin_id,
    start_schedule,
    stop_schedule,
)
from locus.execution.runs import RunRecord, RunsFilter
from locus.instance.instance import LocusInstance
from locus.storage.records import TickRecord, TickStatus
from locus.workspace.config import load_workspace
from locus.workspace.manager import WorkspaceManager

LOCATION = textwrap.dedent('''
    from locus import Definitions, ScheduleDefinition, job, op


    @op
    def noop():
        return 1


    @job
    def tick_job():
        noop()


    def every_minute(name):
        return ScheduleDefinition(name=name, job=tick_job, cron_schedule="* * * * *")


    defs = Definitions(
        jobs=[tick_job],
        schedules=[
            every_minute("per_minute"),
            every_minute("catch_up_one"),
            every_minute("catch_up_three"),
            every_minute("killed"),
            ScheduleDefinition(name="ny_morning", job=tick_job, cron_schedule="0 9 * * *",
                               execution_timezone="America/New_York"),
        ],
    )
''')
LOC = "sched"


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()  # type: ignore[misc]


def write_location(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sched_location.py").write_text(LOCATION)
    workspace = folder / "workspace.yaml"
    workspace.write_text(f"load_from:\n  - python_file: {{relative_path: sched_location.py, location_name: {LOC}}}\n")
    return workspace


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocusInstance, WorkspaceManager]]:
    folder = tmp_path_factory.mktemp("scheduler")
    home = folder / "home"
    instance = LocusInstance.for_url(f"sqlite:///{folder / 'locus.db'}", home)
    with WorkspaceManager(load_workspace(write_location(folder)), instance) as manager:
        assert manager.wait_until_settled(60) and manager.get(LOC).is_loaded, manager.get(LOC)
        yield instance, manager
    instance.dispose()


def runs_of(instance: LocusInstance, schedule: str) -> list[RunRecord]:
    runs = instance.storage.get_runs(RunsFilter(tags={"locus/schedule_name": schedule}))
    return sorted(runs, key=lambda r: r.tags["locus/scheduled_execution_time"])


def ticks_of(instance: LocusInstance, schedule: str) -> list[TickRecord]:
    return instance.storage.get_ticks(origin_id(LOC, schedule))[::-1]


def tick(loop: SchedulerLoop, now: float) -> None:
    loop.tick(now)
    assert loop.wait_idle(30)


def test_an_every_minute_schedule_runs_once_per_minute(served: tuple[LocusInstance, WorkspaceManager]) -> None:
    instance, manager = served
    t0 = utc(2026, 1, 5, 12, 0, 10)
    start_schedule(instance, LOC, "per_minute", now=t0)
    loop = SchedulerLoop(instance, manager)
    try:
        for seconds in (0, 30, 55, 65, 95, 125, 185, 200, 245):  # several passes per minute
            tick(loop, t0 + seconds)
    finally:
        stop_schedule(instance, LOC, "per_minute")
        loop.close()

    runs = runs_of(instance, "per_minute")
    assert [r.tags["locus/scheduled_execution_time"] for r in runs] == [
        f"2026-01-05T12:0{m}:00+00:00" for m in (1, 2, 3, 4)
    ]
    ticks = ticks_of(instance, "per_minute")
    assert [t.status for t in ticks] == [TickStatus.SUCCESS] * 4
    assert [t.run_ids for t in ticks] == [(r.run_id,) for r in runs]
    assert all(r.tags["locus/tick"] == str(t.tick_id) for r, t in zip(runs, ticks, strict=True))


def test_a_timezone_schedule_keeps_its_wall_clock_time_across_dst(
    served: tuple[LocusInstance, WorkspaceManager],
) -> None:
    instance, manager = served
    start_schedule(instance, LOC, "ny_morning", now=utc(2026, 3, 6, 0, 0))
    loop = SchedulerLoop(instance, manager)
    try:
        for day in (6, 7, 8, 9):  # New York springs forward on Sunday 2026-03-08 at 2:00
            tick(loop, utc(2026, 3, day, 15, 0))
    finally:
        stop_schedule(instance, LOC, "ny_morning")
        loop.close()

    fired = [datetime.fromtimestamp(float(t.tick_key), UTC).strftime("%m-%d %H:%M") for t in ticks_of(instance,
                                                                                                     "ny_morning")]
    assert fired == ["03-06 14:00", "03-07 14:00", "03-08 13:00", "03-09 13:00"]
    assert [r.tags["locus/scheduled_execution_time"][-14:] for r in runs_of(instance, "ny_morning")] == [
        "09:00:00-05:00", "09:00:00-05:00", "09:00:00-04:00", "09:00:00-04:00"
    ]


@pytest.mark.parametrize(("schedule", "catchup"), [("catch_up_one", 1), ("catch_up_three", 3)])
def test_after_downtime_only_the_latest_ticks_run(
    served: tuple[LocusInstance, WorkspaceManager], schedule: str, catchup: int
) -> None:
    instance, manager = served
    t0 = utc(2026, 2, 2, 8, 0, 5)
    start_schedule(instance, LOC, schedule, now=t0)
    loop = SchedulerLoop(instance, manager, max_catchup_runs=catchup)
    try:
        tick(loop, t0 + 60)  # 08:01 runs; then the daemon is down for ten minutes
        tick(loop, t0 + 60 + 600)
        tick(loop, t0 + 60 + 610)  # nothing new is due
    finally:
        stop_schedule(instance, LOC, schedule)
        loop.close()

    ticks = ticks_of(instance, schedule)
    assert len(ticks) == 11
    assert [t.status for t in ticks] == [TickStatus.SUCCESS] + [TickStatus.SKIPPED] * (10 - catchup) + [
        TickStatus.SUCCESS
    ] * catchup
    assert all("max_catchup_runs" in (t.skip_reason or "") for t in ticks if t.status == TickStatus.SKIPPED)
    minutes = [r.tags["locus/scheduled_execution_time"][11:16] for r in runs_of(instance, schedule)]
    assert minutes == ["08:01", *[f"08:{m:02d}" for m in range(12 - catchup, 12)]]


DAEMON_SCRIPT = textwrap.dedent('''
    """One scheduler pass at a fixed time, as a daemon process would make it."""
    import sys

    from locus.daemon.scheduler import SchedulerLoop, start_schedule
    from locus.instance.instance import LocusInstance
    from locus.workspace.config import load_workspace
    from locus.workspace.manager import WorkspaceManager

    db, home, workspace, start, now = sys.argv[1:6]
    instance = LocusInstance.for_url(db, __import__("pathlib").Path(home))
    with WorkspaceManager(load_workspace(workspace), instance) as manager:
        assert manager.wait_until_settled(60)
        if instance.storage.get_instigator_state("sched:killed") is None:
            start_schedule(instance, "sched", "killed", now=float(start))
        loop = SchedulerLoop(instance, manager)
        loop.tick(float(now))
        assert loop.wait_idle(60)
        loop.close()
    print("pass done", flush=True)
''')


@pytest.mark.slow
def test_a_daemon_killed_mid_tick_makes_exactly_one_run(tmp_path: Path) -> None:
    workspace = write_location(tmp_path)
    script = tmp_path / "one_pass.py"
    script.write_text(DAEMON_SCRIPT)
    home = tmp_path / "home"
    db = f"sqlite:///{tmp_path / 'locus.db'}"
    t0 = utc(2026, 4, 1, 6, 0, 30)
    argv = [sys.executable, str(script), db, str(home), str(workspace), str(t0), str(t0 + 60)]
    env = locus_env(home)
    try:
        killed = subprocess.run(argv, env={**env, KILL_AFTER_SUBMIT_ENV: "1"}, capture_output=True, timeout=90)
        assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
        for pid in code_server_pids(home):  # the dead daemon's orphaned code server, as a restarted pod would lose
            os.kill(pid, signal.SIGKILL)
        with LocusInstance.for_url(db, home) as instance:
            (half_done,) = ticks_of(instance, "killed")
            assert half_done.status == TickStatus.STARTED and len(runs_of(instance, "killed")) == 1

        restarted = subprocess.run(argv, env=env, capture_output=True, timeout=90)
        assert restarted.returncode == 0, restarted.stderr.decode()
    finally:
        for pid in code_server_pids(home):
            os.kill(pid, signal.SIGKILL)

    with LocusInstance.for_url(db, home) as instance:
        runs = runs_of(instance, "killed")
        (done,) = ticks_of(instance, "killed")
        assert len(runs) == 1 and runs[0].tags["locus/scheduled_execution_time"] == "2026-04-01T06:01:00+00:00"
        assert done.status == TickStatus.SUCCESS and done.run_ids == (runs[0].run_id,)
