"""N schedules of one code location, all due in the same minute: one scheduler pass, timed from its start
until every run is created (the issue's target: 1,000 runs within 2 s).

The code location runs in its own `locus api grpc` process under a workspace manager; the instance is
SQLite in the scratch folder (or ``--postgres-url``); the scheduler's clock is fake: a first, untimed pass
at hh:00:30 records each schedule's state (RUNNING by default), the timed pass a minute later finds every
schedule due.
Each run is evaluated in the code server, validated (its execution plan) and stored QUEUED with its tick.

Locus only: Dagster's scheduler has no comparable single-pass entry point here, so ``--system dagster``
fails with a message instead of measuring something else.
"""

import os
import sys
import time
from pathlib import Path

import _common

args = _common.parse_args()
if args.system != "locus":
    sys.exit("schedules_1000 measures Locus only (no comparable Dagster scheduler pass)")

from locus.daemon.scheduler import SchedulerLoop  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from locus.execution.runs import RunsFilter  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from locus.instance.instance import LocusInstance  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from locus.workspace.config import load_workspace  # type: ignore[import-not-found, unused-ignore]  # noqa: E402
from locus.workspace.manager import WorkspaceManager  # type: ignore[import-not-found, unused-ignore]  # noqa: E402

T0 = 1_780_000_000.0 - 1_780_000_000.0 % 60 + 30  # hh:mm:30 of some minute

source = ["import locus as dg", "", "@dg.op", "def noop():", "    return 1", "", "@dg.job", "def ticked():",
          "    noop()", "", "SCHEDULES = ["]
source += [f'    dg.ScheduleDefinition(name="s{i}", job=ticked, cron_schedule="* * * * *", default_status="RUNNING"),'
           for i in range(args.size)]
source += ["]", "defs = dg.Definitions(jobs=[ticked], schedules=SCHEDULES)", ""]
scratch = Path(args.scratch)
(scratch / "schedules.py").write_text("\n".join(source))
(scratch / "workspace.yaml").write_text("load_from:\n  - python_file: schedules.py\n")
os.chdir(scratch)
home = scratch / "home"
instance = LocusInstance.for_url(args.postgres_url or f"sqlite:///{scratch / 'locus.db'}", home)
with WorkspaceManager(load_workspace(scratch / "workspace.yaml"), instance) as manager:
    assert manager.wait_until_settled(120) and manager.get("schedules.py").is_loaded, manager.get("schedules.py")
    loop = SchedulerLoop(instance, manager)
    loop.tick(T0)  # untimed: records every schedule's state, nothing is due yet
    assert loop.wait_idle(600)
    assert instance.storage.count_runs() == 0

    start = time.perf_counter()
    loop.tick(T0 + 60)
    assert loop.wait_idle(600)
    seconds = time.perf_counter() - start
    loop.close()

    created = instance.storage.count_runs(RunsFilter(tags={"locus/schedule_name": "s0"}))
    assert created == 1, created
    created = instance.storage.count_runs()
    assert created == args.size, (created, args.size)
instance.dispose()
_common.emit(runs=created, seconds=seconds)
