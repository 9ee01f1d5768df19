"""The benchmark harness in smoke mode (Locus only, tiny sizes, one run), so the benchmarks cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HARNESS = Path(__file__).resolve().parent / "run.py"
POSTGRES_URL = os.environ.get("LOCUS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def workloads(postgres: bool) -> list[str]:
    listed = subprocess.run([sys.executable, str(HARNESS), "--list"], capture_output=True, text=True, check=True)
    return [w["name"] for w in json.loads(listed.stdout) if w["postgres"] == postgres]


def run_smoke(names: list[str], tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "smoke.json"
    command = [sys.executable, str(HARNESS), "--smoke", "--only", ",".join(names), "--json", str(out)]
    command += ["--locus-python", sys.executable]
    env = {**os.environ, "LOCUS_TEST_POSTGRES_URL": POSTGRES_URL}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, f"harness failed:\n{done.stdout}\n{done.stderr}"
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def assert_sane(results: dict[str, Any], names: list[str]) -> None:
    assert sorted(results) == sorted(names)
    for name in names:
        locus = results[name]["locus"]
        assert locus["error"] is None, f"{name}: {locus['error']}"
        (sample,) = locus["samples"]
        assert 0 < sample["seconds"] < 120, f"{name}: {sample}"
        assert 10 * 1024 < sample["peak_rss_kib"] < 4 * 1024 * 1024, f"{name}: {sample}"
        if sample["rows"] is not None:
            assert sample["rows"] >= sample["steps"] > 0, f"{name}: {sample}"


def test_every_workload_runs_on_locus(tmp_path: Path) -> None:
    names = workloads(postgres=False)
    assert_sane(run_smoke(names, tmp_path), names)


@pytest.mark.postgres
def test_postgres_workloads_run_on_locus(tmp_path: Path) -> None:
    try:
        import psycopg

        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except Exception as e:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL BENCHMARKS NOT RUN: {POSTGRES_URL} unreachable ({e}); set LOCUS_TEST_POSTGRES_URL")
    names = workloads(postgres=True)
    assert_sane(run_smoke(names, tmp_path), names)
