"""One measured run of a workload: a fresh interpreter, its wall time and peak RSS, the storage it left."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from registry import Workload

WORKLOADS_DIR = Path(__file__).resolve().parent / "workloads"
TIMEOUT_S = 900
_database_numbers = itertools.count()


class RunFailed(Exception):
    """A workload process failed; ``str()`` is one line for the table, ``detail`` the stderr tail."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.detail = detail


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_rss_kib: int
    steps: int  # 0 when per-step figures mean nothing for the workload
    rows: int | None  # rows left in storage, for workloads that persist
    # Every number of the result line, plus the whole process's own wall time and peak RSS; ``seconds``
    # and ``peak_rss_kib`` above come from the result line for workloads that measure them (``timed``, ``rss``).
    figures: dict[str, float] = field(default_factory=dict)


def measure(python: str, workload: Workload, system: str, cache: str, smoke: bool, postgres_url: str) -> Sample:
    size = workload.smoke_size if smoke else workload.size
    width = max(1, size // 4) if smoke else workload.width  # tiny graphs still get a few layers
    database = scratch_database(postgres_url, system) if workload.postgres else nullcontext("")
    with tempfile.TemporaryDirectory(prefix="locus-bench-") as scratch, database as db_url:
        command = [python, str(WORKLOADS_DIR / workload.path), "--system", system]
        command += ["--size", str(size), "--width", str(width), "--cache", cache, "--scratch", scratch]
        if db_url:
            command += ["--postgres-url", db_url]
        seconds, peak_rss_kib, stdout = run_process(command, cwd=scratch)
        result = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
        if not result.get("ok"):
            raise RunFailed("no result line on stdout", stdout[-2000:])
        figures = {k: v for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        figures |= {"process_seconds": seconds, "process_peak_rss_kib": peak_rss_kib}
        try:
            seconds = float(result["seconds"]) if workload.timed else seconds
            peak_rss_kib = int(result["rss_kib"]) if workload.rss else peak_rss_kib
        except KeyError as e:
            raise RunFailed(f"result line lacks {e}", stdout[-2000:]) from None
        rows = (postgres_rows(db_url) if db_url else sqlite_rows(scratch)) if workload.persists else None
    steps = int(result.get("steps", 0))
    if rows is not None and rows < steps:
        raise RunFailed(f"only {rows} storage rows left for {steps} steps: nothing persisted?")
    return Sample(seconds, peak_rss_kib, steps, rows, figures)


def run_process(command: list[str], cwd: str) -> tuple[float, int, str]:
    """Run ``command`` to its end: wall seconds, its own peak RSS in KiB, its stdout."""
    # Measure as users run: with bytecode caching (the warm-up writes the .pyc files), whatever the
    # calling shell says; otherwise every run would recompile the generated modules and the sources.
    dropped = ("DAGSTER_HOME", "LOCUS_HOME", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        timer = threading.Timer(TIMEOUT_S, process.kill)
        timer.start()
        try:
            # wait4 gives this child's own rusage; getrusage(RUSAGE_CHILDREN) only keeps the maximum
            # over every child reaped so far, so a small run after a big one would report the big one.
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if process.returncode != 0:
        lines = stderr.strip().splitlines() or [f"exit status {process.returncode}"]
        raise RunFailed(lines[-1][:200], "\n".join(lines[-30:]))
    return seconds, usage.ru_maxrss, stdout  # ru_maxrss is in KiB on Linux


@contextmanager
def scratch_database(admin_url: str, system: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one run, dropped afterwards; yields its URL."""
    import psycopg
    from psycopg import sql

    name = f"locus_bench_{system}_{os.getpid()}_{next(_database_numbers)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def postgres_rows(url: str) -> int:
    """Rows in every user table of the database at ``url``."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, connect_timeout=5) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        query = sql.SQL("SELECT count(*) FROM {}.{}")
        counts = (conn.execute(query.format(sql.Identifier(s), sql.Identifier(t))).fetchone() for s, t in tables)
        return sum(c[0] for c in counts if c)


def sqlite_rows(directory: str) -> int:
    """Rows in every table of every SQLite database file under ``directory``."""
    total = 0
    for path in Path(directory).rglob("*"):
        if not path.is_file():
            continue
        with path.open("rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                continue
        conn = sqlite3.connect(path)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                total += conn.execute(f'SELECT count(*) FROM "{table.replace(chr(34), chr(34) * 2)}"').fetchone()[0]
        finally:
            conn.close()
    return total
