"""What the API tests run against: the pieces `locus dev` wires together
(workspace manager with real code-server processes, local launcher, run
queue, API) on any storage URL, with a TestClient, and optionally the app
under a real uvicorn server for streaming clients. Also the user code the
tests launch, and storage seeding helpers."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from dev.localmode import LocalApi, free_port, wait_until
from locus.execution.events import Event, EventType, RunStatus
from locus.execution.runs import RunRecord
from locus.instance.instance import LocusInstance

# Assets with lineage, groups and kinds; an op job whose middle step fails
# until a flag file exists; one that blocks until a file exists; a schedule
# and a sensor. Flag files live beside the code (the run's working folder
# may differ).
PIPELINE = """
import os
import time
from pathlib import Path

from locus import Definitions, ScheduleDefinition, SkipReason, asset, job, op, sensor

HERE = Path(__file__).resolve().parent


@asset(group_name="raw", kinds={"python"}, description="orders as they arrive")
def orders():
    return [1, 2, 3]


@asset(group_name="reports")
def order_count(orders):
    return len(orders)


@asset(group_name="reports", deps=[orders])
def audit():
    return "ok"


@op
def extract():
    print("extracting to stdout")
    return 20


@op
def transform(x):
    if not (HERE / "fixed.flag").exists():
        raise RuntimeError("transform is broken until fixed.flag exists")
    return x + 1


@op
def load(x):
    return x * 2


@job
def etl():
    load(transform(extract()))


@op
def wait_for_release():
    deadline = time.time() + 120
    while not (HERE / "release.flag").exists() and time.time() < deadline:
        time.sleep(0.05)
    return 1


@job
def blocking():
    wait_for_release()


nightly = ScheduleDefinition(name="nightly", job=etl, cron_schedule="0 3 * * *", execution_timezone="UTC")


@sensor(job=etl, minimum_interval_seconds=45)
def new_files(context):
    return SkipReason("nothing new")


defs = Definitions(assets=[orders, order_count, audit], jobs=[etl, blocking], schedules=[nightly],
                   sensors=[new_files])
"""


def write_workspace(root: Path) -> Path:
    code = root / "code"
    code.mkdir(parents=True, exist_ok=True)
    (code / "pipeline.py").write_text(PIPELINE)
    (code / "broken.py").write_text('raise RuntimeError("this location is broken on purpose")\n')
    workspace = code / "workspace.yaml"
    workspace.write_text(
        textwrap.dedent("""\
        load_from:
          - python_file: {relative_path: pipeline.py, location_name: pipeline}
          - python_file: {relative_path: broken.py, location_name: broken}
        """)
    )
    return workspace


class Stack(LocalApi):
    """The local stack on ``url``, whose test locations' blocking assets wait
    for a release flag that closing the stack sets."""

    def __init__(self, workspace_file: Path, home: Path, url: str, auth_token: str | None = None) -> None:
        self.code = workspace_file.parent
        super().__init__(workspace_file, home, url=url, auth_token=auth_token)

    def close(self) -> None:
        (self.code / "release.flag").touch()
        super().close()


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` under a real uvicorn server on a free loopback port; yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/healthz").status_code == 200, 10, "uvicorn")
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


def seed_run(
    instance: LocusInstance,
    run_id: str,
    *,
    job: str = "etl",
    location: str = "pipeline",
    status: RunStatus = RunStatus.SUCCESS,
    tags: dict[str, str] | None = None,
    created_at: float | None = None,
) -> RunRecord:
    """A stored run with the events that give it ``status``."""
    at = created_at if created_at is not None else time.time()
    run = instance.add_run(
        RunRecord(
            run_id, job, RunStatus.NOT_STARTED, tags=tags or {}, location_name=location, created_at=at, updated_at=at
        )
    )
    path = {
        RunStatus.QUEUED: [EventType.RUN_ENQUEUED],
        RunStatus.STARTED: [EventType.RUN_ENQUEUED, EventType.RUN_STARTING, EventType.RUN_START],
        RunStatus.SUCCESS: [EventType.RUN_ENQUEUED, EventType.RUN_START, EventType.RUN_SUCCESS],
        RunStatus.FAILURE: [EventType.RUN_ENQUEUED, EventType.RUN_START, EventType.RUN_FAILURE],
        RunStatus.CANCELED: [EventType.RUN_ENQUEUED, EventType.RUN_CANCELED],
    }.get(status, [])
    for event_type in path:
        instance.store_event(Event(run_id, event_type, f"{event_type.value} (seeded)", timestamp=at))
    return run
