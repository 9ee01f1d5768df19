"""The CLI on bad input and failing runs: one clear message naming the
culprit and the fix, a non-zero exit code, and never a Locus traceback."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from support import run_locus

BAD_LOCATIONS = {
    "cycle": ("""
        import locus as dg
        @dg.asset
        def a(c): return 1
        @dg.asset
        def b(a): return 1
        @dg.asset
        def c(b): return 1
        defs = dg.Definitions(assets=[a, b, c])
    """, ["cycle", "a <- c <- b <- a", "fix:"]),
    "unknown_upstream": ("""
        import locus as dg
        @dg.asset
        def orders(customers): return 1
        defs = dg.Definitions(assets=[orders])
    """, ["'orders' depends on 'customers'", "fix:"]),
    "duplicate_jobs": ("""
        import locus as dg
        @dg.asset
        def a(): return 1
        defs = dg.Definitions(assets=[a], jobs=[dg.define_asset_job("j"), dg.define_asset_job("j")])
    """, ["two different jobs are named 'j'"]),
    "bad_cron": ("""
        import locus as dg
        @dg.asset
        def a(): return 1
        job = dg.define_asset_job("j")
        schedule = dg.ScheduleDefinition(job=job, cron_schedule="every day")
        defs = dg.Definitions(assets=[a], jobs=[job], schedules=[schedule])
    """, ["'every day' is not a valid cron string", "*/15 * * * *"]),
    "no_definitions": ("""
        x = 1
    """, ["defines no Definitions object", "defs = Definitions("]),
}


@pytest.mark.parametrize("name", sorted(BAD_LOCATIONS))
def test_bad_definitions_fail_with_one_clear_message(name: str, tmp_path: Path) -> None:
    source, expected = BAD_LOCATIONS[name]
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    done = run_locus("definitions", "validate", "-f", f"{name}.py", cwd=tmp_path, home=tmp_path / "home")
    assert done.code != 0
    for fragment in expected:
        assert fragment in done.stderr
    assert "Traceback" not in done.stderr


WORKING = """
import locus as dg

class LimitConfig(dg.Config):
    limit: int

@dg.op
def take(config: LimitConfig) -> list:
    return list(range(config.limit))

@dg.op
def divide(numbers: list) -> float:
    print("about to divide")
    return 1 / (len(numbers) - len(numbers))

@dg.job
def maths():
    divide(take())
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "maths.py").write_text(WORKING)
    (tmp_path / "good.yaml").write_text("ops:\n  take:\n    config:\n      limit: 3\n")
    (tmp_path / "bad.yaml").write_text("ops:\n  take:\n    config:\n      limit: ten\n")
    return tmp_path


def test_run_config_of_the_wrong_type_names_the_path(workdir: Path) -> None:
    done = run_locus("job", "execute", "-f", "maths.py", "-j", "maths", "-c", "bad.yaml", cwd=workdir,
                     home=workdir / "home")
    assert done.code == 2
    assert "ops.take.config.limit" in done.stderr and "'ten'" in done.stderr
    assert "Traceback" not in done.stderr
    listed = run_locus("run", "list", cwd=workdir, home=workdir / "home")
    assert "no runs" in listed.stdout


def test_failing_step_ends_with_summary_and_logs_show_traceback_and_output(workdir: Path) -> None:
    home = workdir / "home"
    done = run_locus("job", "execute", "-f", "maths.py", "-j", "maths", "-c", "good.yaml", cwd=workdir, home=home)
    assert done.code == 1
    assert "FAILURE" in done.stderr and "divide: ZeroDivisionError: division by zero" in done.stderr
    run_id = done.stderr.split("locus run logs ")[1].split()[0]
    logs = run_locus("run", "logs", run_id[:8], cwd=workdir, home=home)
    assert logs.code == 0
    assert "STEP_FAILURE" in logs.stdout
    assert "return 1 / (len(numbers) - len(numbers))" in logs.stdout
    assert "about to divide" in logs.stdout
    shown = run_locus("run", "show", run_id, cwd=workdir, home=home)
    assert "FAILURE" in shown.stdout and "take" in shown.stdout and "SUCCESS" in shown.stdout


def test_unknown_run_and_job_are_explained(workdir: Path) -> None:
    home = workdir / "home"
    done = run_locus("run", "logs", "does-not-exist", cwd=workdir, home=home)
    assert done.code == 2 and "no run with id 'does-not-exist'" in done.stderr
    done = run_locus("job", "execute", "-f", "maths.py", "-j", "nope", cwd=workdir, home=home)
    assert done.code == 2 and "no job named 'nope'" in done.stderr and "maths" in done.stderr
    done = run_locus("asset", "materialize", "-f", "maths.py", "--select", "key:(", cwd=workdir, home=home)
    assert done.code == 2 and "Traceback" not in done.stderr


def test_bad_instance_file_is_explained(workdir: Path) -> None:
    home = workdir / "home"
    home.mkdir()
    (home / "locus.yaml").write_text("storage:\n  postgres:\n    prot: 5432\n")
    done = run_locus("run", "list", cwd=workdir, home=home)
    assert done.code == 2
    assert "storage.postgres.prot" in done.stderr and "Traceback" not in done.stderr
