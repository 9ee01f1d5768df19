"""Every example behaves as its docstring says, through the Python API and
through the CLI, for the project's examples and the shared acceptance ones."""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import locus
from locus.execution.code_pointer import CodePointer, load_definitions
from support import example_roots, run_locus

ROOTS = example_roots()


@pytest.fixture(params=ROOTS, ids=[r.parent.name + "/examples" for r in ROOTS])
def examples(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A copy of an examples folder (untouched original), importable."""
    copy = tmp_path / "examples"
    shutil.copytree(request.param, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(copy)
    monkeypatch.setenv("IO_BASE_DIR", str(tmp_path / "io"))
    monkeypatch.syspath_prepend(str(copy))
    for name in ["hello", "numbers_ops", "numbers_assets", "module_location", "module_location.my_assets"]:
        sys.modules.pop(name, None)
    importlib.invalidate_caches()
    yield copy


# -- Python API ---------------------------------------------------------------


def test_hello_materialises_greeting(examples: Path) -> None:
    import hello

    result = locus.materialize(hello.defs.assets)
    assert result.success
    assert result.asset_value("my_asset") == "Hello, Locus!"


def test_numbers_ops_job_sums_to_55(examples: Path) -> None:
    import numbers_ops

    result = numbers_ops.process_numbers.execute_in_process()
    assert result.success
    assert result.output_for_node("sum_two_sums") == 55
    assert numbers_ops.process_numbers.tags == {"domain": "numbers"}


def test_numbers_assets_materialise_to_55(examples: Path) -> None:
    import numbers_assets

    result = locus.materialize(numbers_assets.defs.assets)
    assert result.asset_value("summed_two_sums") == 55
    job = numbers_assets.defs.get_job_def("process_numbers_asset")
    assert sorted(job.nodes) == sorted(a.node_name for a in numbers_assets.defs.assets)
    assert {s.name for s in numbers_assets.defs.schedules.values()} == {
        "process_numbers_schedule",
        "process_numbers_asset_schedule",
    }


def test_numbers_sensor_skips_until_marker_then_requests_one_keyed_run(
    examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numbers_assets

    marker = examples / "marker"
    monkeypatch.setenv("CHECK_FILE", str(marker))
    sensor = numbers_assets.check_file_sensor
    skipped = sensor.evaluate_tick(locus.build_sensor_context())
    assert skipped.run_requests == () and skipped.skip_message == "check file not exists"
    marker.write_text("")
    fired = sensor.evaluate_tick(locus.build_sensor_context())
    assert [r.run_key for r in fired.run_requests] == ["check_file_exists"]
    assert fired.run_requests[0].job_name == "process_numbers"


def test_module_location_has_two_assets(examples: Path) -> None:
    defs = load_definitions(CodePointer(module_name="module_location", working_directory=str(examples)))
    assert sorted(k.to_user_string() for k in defs.asset_graph.keys) == ["iris_rows", "iris_summary"]
    assert locus.materialize(defs.assets).asset_value("iris_summary") == 3


def test_two_definitions_need_an_attribute(examples: Path) -> None:
    with pytest.raises(locus.CodeLoadError) as caught:
        load_definitions(CodePointer(python_file="two_definitions.py"))
    assert "defs_a" in str(caught.value) and "defs_b" in str(caught.value)
    assert "--attribute" in str(caught.value)
    defs = load_definitions(CodePointer(python_file="two_definitions.py", attribute="defs_b"))
    assert [k.to_user_string() for k in defs.asset_graph.keys] == ["b"]


def test_broken_location_reports_its_traceback(examples: Path) -> None:
    with pytest.raises(locus.CodeLoadError) as caught:
        load_definitions(CodePointer(python_file="broken_location.py"))
    info = caught.value.error_info
    assert info is not None and info.cls_name == "RuntimeError"
    assert "deliberately broken" in info.message
    assert 'broken_location.py", line' in info.traceback


def test_departments_each_materialise_independently(examples: Path) -> None:
    folder = examples / "departments"
    expected = {
        "sales_code_location.py": ("sales_metrics", {"orders": 3, "revenue": 60}),
        "marketing_code_location.py": ("customer_segments", ["new", "returning"]),
        "inventory_code_location.py": ("reorder_alerts", ["widget"]),
    }
    for file, (asset_name, value) in expected.items():
        attribute = "marketing_defs" if file.startswith("marketing") else None
        defs = load_definitions(CodePointer(python_file=str(folder / file), attribute=attribute))
        assert locus.materialize(defs.assets).asset_value(asset_name) == value


# -- CLI ------------------------------------------------------------------------


def test_cli_materialises_numbers_and_records_the_run(examples: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run_locus(
        "asset", "materialize", "-f", "numbers_assets.py", "--select", "*", cwd=examples, home=home
    )
    assert done.code == 0, done.output
    assert "SUCCESS" in done.stdout and "summed_two_sums" in done.stderr
    listed = run_locus("run", "list", cwd=examples, home=home)
    assert "__ASSET_JOB" in listed.stdout and "SUCCESS" in listed.stdout


def test_cli_executes_op_job_with_multiprocess_executor(examples: Path, tmp_path: Path) -> None:
    done = run_locus(
        "job",
        "execute",
        "-f",
        "numbers_ops.py",
        "-j",
        "process_numbers",
        cwd=examples,
        home=tmp_path / "home",
    )
    assert done.code == 0, done.output
    assert "sum_two_sums succeeded" in done.stderr


def test_cli_hello_and_module_location(examples: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run_locus(
        "asset", "materialize", "-f", "hello.py", "--select", "my_asset", cwd=examples, home=home
    )
    assert done.code == 0, done.output
    done = run_locus(
        "asset", "materialize", "-m", "module_location", "--select", "key:iris_rows+", cwd=examples, home=home
    )
    assert done.code == 0, done.output
    assert "iris_summary" in done.stderr


def test_cli_validates_departments_workspace(examples: Path, tmp_path: Path) -> None:
    done = run_locus(
        "definitions", "validate", "-w", "departments/workspace.yaml", cwd=examples, home=tmp_path / "home"
    )
    assert done.code == 0, done.output
    for name in ("sales:", "marketing:", "inventory_code_location.py:"):
        assert name in done.stdout
    done = run_locus(
        "job",
        "execute",
        "-w",
        "departments/workspace.yaml",
        "-l",
        "inventory_code_location.py",
        "-j",
        "refresh",
        cwd=examples,
        home=tmp_path / "home",
    )
    assert done.code == 0, done.output


def test_cli_broken_location_shows_user_traceback_only(examples: Path, tmp_path: Path) -> None:
    done = run_locus("definitions", "validate", "-f", "broken_location.py", cwd=examples, home=tmp_path / "h")
    assert done.code != 0
    assert "RuntimeError: this code location is deliberately broken" in done.stderr
    assert 'broken_location.py", line 11' in done.stderr
    assert "locus/execution" not in done.stderr


def test_cli_two_definitions(examples: Path, tmp_path: Path) -> None:
    done = run_locus("definitions", "validate", "-f", "two_definitions.py", cwd=examples, home=tmp_path / "h")
    assert done.code != 0 and "defs_a" in done.stderr and "defs_b" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_locus(
        "definitions",
        "validate",
        "-f",
        "two_definitions.py",
        "-a",
        "defs_b",
        cwd=examples,
        home=tmp_path / "h",
    )
    assert done.code == 0 and "1 asset," in done.stdout
