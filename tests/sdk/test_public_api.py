"""The public surface of ``locus``: exactly the names below, each importable,
and ``import locus`` pulls in none of the heavy libraries user code at every
process start would otherwise pay for."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import locus

PUBLIC_NAMES = [
    "AssetExecutionContext",
    "AssetGraph",
    "AssetIn",
    "AssetKey",
    "AssetSelection",
    "AssetsDefinition",
    "Backoff",
    "CodeLoadError",
    "Config",
    "ConfigurableIOManager",
    "ConfigurableResource",
    "DefaultScheduleStatus",
    "DefaultSensorStatus",
    "DefinitionError",
    "Definitions",
    "EnvVar",
    "Event",
    "EventType",
    "ExecutionError",
    "ExecutionResult",
    "ExecutorDefinition",
    "Field",
    "FilesystemIOManager",
    "GraphDefinition",
    "IOManager",
    "In",
    "InMemoryIOManager",
    "InitResourceContext",
    "InputContext",
    "Jitter",
    "JobDefinition",
    "LocusError",
    "LocusInstance",
    "MaterializeResult",
    "OpDefinition",
    "OpExecutionContext",
    "Out",
    "Output",
    "OutputContext",
    "PermissiveConfig",
    "ResourceDefinition",
    "RetryPolicy",
    "RunConfigError",
    "RunRequest",
    "RunStatus",
    "ScheduleDefinition",
    "ScheduleEvaluationContext",
    "SelectionError",
    "SensorDefinition",
    "SensorEvaluationContext",
    "SkipReason",
    "asset",
    "build_schedule_context",
    "build_sensor_context",
    "define_asset_job",
    "graph",
    "in_process_executor",
    "job",
    "k8s_job_executor",
    "load_assets_from_modules",
    "materialize",
    "multiprocess_executor",
    "op",
    "resource",
    "schedule",
    "sensor",
]

HEAVY_MODULES = ("grpc", "sqlalchemy", "kubernetes", "fastapi", "pydantic")


def _modules_after(statements: str) -> set[str]:
    """Which of HEAVY_MODULES a fresh interpreter has loaded after ``statements``."""
    code = (
        f"import sys, json\n{statements}\nprint(json.dumps([m for m in {list(HEAVY_MODULES)!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_public_names_are_exactly_the_pinned_list() -> None:
    # A change here is a change to the product's interface: update the list on purpose.
    assert locus.__all__ == PUBLIC_NAMES


def test_public_names_are_listed_in_sorted_order() -> None:
    assert locus.__all__ == sorted(locus.__all__)


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(locus, name) is not None


def test_star_import_gives_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from locus import *", namespace)
    assert set(PUBLIC_NAMES) <= set(namespace)


def test_unknown_attribute_raises_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = locus.no_such_thing  # type: ignore[attr-defined]


def test_import_locus_loads_no_heavy_library() -> None:
    assert _modules_after("import locus") == set()


def test_defining_assets_jobs_and_schedules_loads_no_heavy_library() -> None:
    statements = (
        "import locus as dg\n"
        "@dg.asset\n"
        "def a(): return 1\n"
        "@dg.op\n"
        "def o(): return 1\n"
        "@dg.job\n"
        "def j(): o()\n"
        "s = dg.ScheduleDefinition(job=j, cron_schedule='0 * * * *')\n"
        "dg.Definitions(assets=[a], jobs=[j], schedules=[s])"
    )
    assert _modules_after(statements) == set()


@pytest.mark.parametrize("name", ["Config", "ConfigurableResource", "FilesystemIOManager"])
def test_pydantic_backed_names_load_pydantic_on_first_use(name: str) -> None:
    assert _modules_after(f"import locus\nlocus.{name}") == {"pydantic"}


def test_errors_share_one_base_class_users_can_catch() -> None:
    for error in (
        locus.DefinitionError,
        locus.RunConfigError,
        locus.CodeLoadError,
        locus.SelectionError,
        locus.ExecutionError,
    ):
        assert issubclass(error, locus.LocusError)


def test_error_message_carries_the_fix() -> None:
    error = locus.DefinitionError("asset 'x' is broken", "rename it")
    assert str(error) == "asset 'x' is broken\n  fix: rename it"
    assert error.message == "asset 'x' is broken"
    assert error.hint == "rename it"
