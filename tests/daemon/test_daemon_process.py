"""`locus daemon run` as a process: a heartbeat per loop, `locus daemon
status`, a clean stop on SIGTERM, and one active daemon per instance (a
second stands by and takes over when the first is SIGKILLed)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dev.localmode import code_server_pids, locus_env, wait_until
from locus.daemon.heartbeat import heartbeat_statuses
from locus.daemon.scheduler import origin_id
from locus.instance.instance import LocusInstance
from locus.storage.records import DaemonHeartbeat
from locus.storage.sql_storage import SqlStorage

LOOPS = {"scheduler", "sensors", "run_queue", "run_monitor", "run_retries"}
LOCATION = textwrap.dedent('''
    from locus import Definitions, SkipReason, job, op, sensor


    @op
    def noop():
        return 1


    @job
    def some_job():
        noop()


    @sensor(job=some_job, minimum_interval_seconds=1, default_status="RUNNING")
    def ticking():
        return SkipReason("nothing to do")


    defs = Definitions(jobs=[some_job], sensors=[ticking])
''')


class Daemon:
    """`locus daemon run -f ticking.py` in ``home``, its output in a file."""

    def __init__(self, folder: Path, home: Path, heartbeat_interval: float = 0.5) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.output = home / "daemon.out"
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "locus.cli.main", "daemon", "run", "-f", "ticking.py",
                 "--heartbeat-interval", str(heartbeat_interval)],
                cwd=folder, env=locus_env(home), stdout=out, stderr=subprocess.STDOUT,
            )
        found = wait_until(lambda: re.search(r"Locus daemon (\S+)", self.text()), 30, "the daemon's id")
        self.daemon_id = found.group(1)

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in code_server_pids(self.home):
            os.kill(pid, signal.SIGKILL)


@contextmanager
def daemons(folder: Path, *homes: Path) -> Iterator[list[Daemon]]:
    (folder / "ticking.py").write_text(LOCATION)
    started: list[Daemon] = []
    try:
        for home in homes:
            started.append(Daemon(folder, home))
        yield started
    finally:
        for daemon in started:
            daemon.close()


def beating(storage: SqlStorage, daemon_id: str) -> dict[str, DaemonHeartbeat] | None:
    """The heartbeats, once every loop has one from ``daemon_id``."""
    beats = storage.get_daemon_heartbeats()
    ok = set(beats) >= LOOPS and all(beats[name].daemon_id == daemon_id for name in LOOPS)
    return beats if ok else None


def test_heartbeat_statuses_report_age_and_staleness() -> None:
    beats = {
        "sensors": DaemonHeartbeat("sensors", "d1", 100.0, {"error": None}),
        "scheduler": DaemonHeartbeat("scheduler", "d1", 30.0, {}),
        "run_queue": DaemonHeartbeat("run_queue", "d1", 99.0, {"error": "boom"}),
    }
    statuses = heartbeat_statuses(beats, now=101.0, tolerance=60)
    assert [(s.daemon_type, s.age, s.healthy, s.error) for s in statuses] == [
        ("run_queue", 2.0, False, "boom"),
        ("scheduler", 71.0, False, None),
        ("sensors", 1.0, True, None),
    ]


@pytest.mark.slow
def test_daemon_run_beats_for_every_loop_reports_status_and_stops_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with daemons(tmp_path, home) as (daemon,):
        with LocusInstance.for_url(f"sqlite:///{home / 'locus.db'}", home) as instance:
            wait_until(lambda: beating(instance.storage, daemon.daemon_id), 30, "a heartbeat from every loop")  # type: ignore[arg-type]
            wait_until(lambda: len(instance.storage.get_ticks(origin_id("ticking.py", "ticking"))) >= 2, 20,
                       "the default-RUNNING sensor to tick twice")
        status = subprocess.run([sys.executable, "-m", "locus.cli.main", "daemon", "status"], env=locus_env(home),
                                capture_output=True, text=True, timeout=30)
        assert status.returncode == 0, status.stderr
        rows = {line.split()[0]: line for line in status.stdout.splitlines()[1:]}
        assert set(rows) == LOOPS, status.stdout
        assert all(" RUNNING " in row and daemon.daemon_id in row and re.search(r"\d+\.\ds ago", row)
                   for row in rows.values()), status.stdout

        servers = code_server_pids(home)
        assert servers
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(30) == 0, daemon.text()
        assert "stopped" in daemon.text()
        wait_until(lambda: not code_server_pids(home), 10, "the daemon's code servers to exit")


@pytest.mark.slow
@pytest.mark.postgres
def test_a_standby_daemon_takes_over_when_the_active_one_is_killed(tmp_path: Path, postgres_url: str) -> None:
    homes = [tmp_path / "a", tmp_path / "b"]
    for home in homes:
        home.mkdir()
        (home / "locus.yaml").write_text(f'storage:\n  postgres:\n    url: "{postgres_url}"\n')
    storage = SqlStorage(postgres_url)
    try:
        with daemons(tmp_path, homes[0]) as (first,), daemons(tmp_path, homes[1]) as (second,):
            wait_until(lambda: beating(storage, first.daemon_id), 30, "the first daemon's heartbeats")
            wait_until(lambda: "stands by" in second.text(), 10, "the second daemon to stand by")
            # Only one daemon ticks: for a while, every heartbeat stays the first one's.
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                assert beating(storage, first.daemon_id), storage.get_daemon_heartbeats()
                time.sleep(0.2)
            assert not code_server_pids(homes[1])  # a standby starts no code servers

            first.proc.kill()
            killed_at = time.monotonic()
            wait_until(lambda: beating(storage, second.daemon_id), 30, "the standby to take over")
            took = time.monotonic() - killed_at
            assert took < 10, took  # well within the 60 s heartbeat tolerance
            ticks = storage.get_ticks(origin_id("ticking.py", "ticking"))
            assert ticks and ticks[0].timestamp > time.time() - 5
    finally:
        storage.dispose()
