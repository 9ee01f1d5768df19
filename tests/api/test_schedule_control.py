"""Starting and stopping a schedule through the API is what the scheduler
obeys: stopping one that runs by default stops it, and starting it again
does not fire the ticks missed while it was stopped."""

from __future__ import annotations

import time
from pathlib import Path

from api.stack import Stack
from locus.daemon.scheduler import SchedulerLoop

LOCATION = """
import locus as dg

@dg.op
def noop():
    return 1

@dg.job
def ping():
    noop()

every_minute = dg.ScheduleDefinition(job=ping, cron_schedule="* * * * *", default_status="RUNNING")
defs = dg.Definitions(jobs=[ping], schedules=[every_minute])
"""


def test_api_stop_and_start_govern_a_default_running_schedule(tmp_path: Path) -> None:
    (tmp_path / "pinger.py").write_text(LOCATION)
    (tmp_path / "workspace.yaml").write_text("load_from:\n  - python_file: pinger.py\n")
    stack = Stack(tmp_path / "workspace.yaml", tmp_path / "home", f"sqlite:///{tmp_path / 'locus.db'}")
    scheduler = SchedulerLoop(stack.instance, stack.manager)
    path = "/api/schedules/pinger.py/ping_schedule"
    try:
        now = time.time()
        scheduler.tick(now)  # first sight: running because the code says so
        assert scheduler.wait_idle(30)
        assert stack.http.get("/api/schedules").json()["schedules"][0]["status"] == "RUNNING"

        assert stack.http.post(f"{path}/stop").json()["status"] == "STOPPED"
        scheduler.tick(now + 180)
        assert scheduler.wait_idle(30)
        assert stack.instance.storage.count_runs() == 0
        assert stack.http.get("/api/schedules").json()["schedules"][0]["status"] == "STOPPED"

        started_at = time.time()
        assert stack.http.post(f"{path}/start").json()["status"] == "RUNNING"
        scheduler.tick(started_at + 61)  # one minute after the start: exactly that minute's tick
        assert scheduler.wait_idle(30)
        assert stack.instance.storage.count_runs() == 1
    finally:
        scheduler.close()
        stack.close()
