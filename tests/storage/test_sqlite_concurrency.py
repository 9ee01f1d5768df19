"""Several processes and threads share one SQLite file (locally the daemon,
the API and every run do): writers wait for each other instead of failing."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from locus.execution.events import Event, EventType
from locus.execution.runs import RunRecord
from locus.storage.sql_storage import SqlStorage

EVENTS_PER_WRITER = 300
TICK_KEYS = 50

# Each writer reports "ready", waits for "go" on stdin so both start together,
# then appends its events and races the other for the same ticks.
WRITER = """
import sys
from locus.execution.events import Event, EventType
from locus.storage.errors import DuplicateTickError
from locus.storage.records import TickRecord
from locus.storage.sql_storage import SqlStorage

url, name, count, ticks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
storage = SqlStorage(url)
print("ready", flush=True)
sys.stdin.readline()
for i in range(count):
    storage.store_event(Event("shared", EventType.LOG, f"{name}:{i}", step_key=name))
won = 0
for key in range(ticks):
    try:
        storage.create_tick(TickRecord("schedule", tick_key=str(key)))
        won += 1
    except DuplicateTickError:
        pass
print(won, flush=True)
storage.dispose()
"""


def test_two_processes_write_one_sqlite_file(sqlite_url: str) -> None:
    with SqlStorage(sqlite_url) as storage:
        storage.add_run(RunRecord(run_id="shared", job_name="job"))

    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, sqlite_url, name, str(EVENTS_PER_WRITER), str(TICK_KEYS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    outputs = [writer.communicate(timeout=120)[0] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0]

    with SqlStorage(sqlite_url) as storage:
        messages = [r.event.message for r in storage.get_events("shared")]
        # Every event is there, and each writer's own events kept their order.
        for name in ("a", "b"):
            assert [m for m in messages if m.startswith(f"{name}:")] == [
                f"{name}:{i}" for i in range(EVENTS_PER_WRITER)
            ]
        assert len(messages) == 2 * EVENTS_PER_WRITER
        # Each tick was claimed by exactly one of the two processes.
        assert sum(int(out.split()[-1]) for out in outputs) == TICK_KEYS
        assert len(storage.get_ticks("schedule")) == TICK_KEYS


def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    with SqlStorage(sqlite_url):
        pass
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_threads_share_one_storage(sqlite_url: str) -> None:
    with SqlStorage(sqlite_url) as storage:
        storage.add_run(RunRecord(run_id="r", job_name="job"))
        barrier = threading.Barrier(8)

        def write(worker: int) -> list[int]:
            barrier.wait()
            return [storage.store_event(Event("r", EventType.LOG, f"{worker}:{i}")) for i in range(50)]

        with ThreadPoolExecutor(8) as pool:
            ids = [i for batch in pool.map(write, range(8)) for i in batch]

        assert len(set(ids)) == 400
        assert [r.storage_id for r in storage.get_events("r")] == sorted(ids)


def test_processes_opening_a_new_file_together_all_succeed(sqlite_url: str) -> None:
    opener = (
        "import sys\nfrom locus.storage.sql_storage import SqlStorage\nSqlStorage(sys.argv[1]).dispose()\n"
    )
    openers = [subprocess.Popen([sys.executable, "-c", opener, sqlite_url]) for _ in range(4)]
    assert [p.wait(timeout=60) for p in openers] == [0, 0, 0, 0]
