"""Snapshots without a server: built from Definitions, encoded, decoded back
identically, with stable ids, lookups and counts; and no grpc import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from codeserver_support import EXAMPLES

import locus as dg
from locus.codeserver.snapshot import (
    LocationSnapshot,
    build_snapshot,
    decode_snapshot,
    encode_definitions,
    encode_snapshot,
    snapshot_id,
)
from locus.execution.code_pointer import CodePointer, load_definitions

POINTER = {"python_file": "/code/x.py", "module_name": None, "package_name": None, "attribute": None,
           "working_directory": None}


@pytest.fixture(scope="module")
def numbers() -> LocationSnapshot:
    defs = load_definitions(CodePointer(python_file=str(EXAMPLES / "numbers_assets.py")))
    return build_snapshot(defs, "numbers", POINTER, "img:1")


def test_numbers_snapshot_lists_its_definitions(numbers: LocationSnapshot) -> None:
    assert numbers.counts == {"assets": 6, "jobs": 2, "schedules": 2, "sensors": 1}
    assert numbers.location_name == "numbers" and numbers.image == "img:1" and numbers.code_pointer == POINTER
    schedule = numbers.schedule("process_numbers_schedule")
    assert schedule is not None and schedule.cron_schedules == ("* * * * *",) and schedule.job_name == "process_numbers"
    sensor = numbers.sensor("check_file_sensor")
    assert sensor is not None and sensor.job_names == ("process_numbers",) and sensor.minimum_interval_seconds == 5
    asset = numbers.asset("filtered_even_numbers")
    assert asset is not None and asset.group_name == "numbers" and asset.kinds == ("python",)
    assert asset.upstream == (("generated_numbers",),) and asset.resource_keys == ("io_manager",)
    job = numbers.job("process_numbers")
    assert job is not None and ("generate_numbers", "filter_even_numbers") in job.edges
    asset_job = numbers.job("process_numbers_asset")
    assert asset_job is not None and len(asset_job.asset_keys) == 6
    assert [r.key for r in numbers.resources] == ["io_manager"]
    assert numbers.job("nope") is None and numbers.asset(["nope"]) is None


def test_encoding_round_trips_and_ids_are_stable(numbers: LocationSnapshot) -> None:
    data = encode_snapshot(numbers)
    assert decode_snapshot(data) == numbers
    assert encode_snapshot(decode_snapshot(data)) == data
    assert snapshot_id(data) == snapshot_id(encode_snapshot(numbers)) and len(snapshot_id(data)) == 16


def test_deps_config_schemas_and_odd_metadata_survive() -> None:
    @dg.asset(metadata={"when": object(), "nested": {"n": (1, 2)}}, owners=["team:data"], code_version="3")
    def upstream() -> int:
        return 1

    @dg.asset(deps=[upstream], key_prefix=["warehouse"], tags={"tier": "gold"})
    def orders() -> int:
        return 2

    @dg.op(config_schema={"limit": int, "name": dg.Field(str, default_value="n", description="a name")})
    def configured(context: dg.OpExecutionContext) -> None:
        pass

    @dg.job
    def op_job() -> None:
        configured()

    defs = dg.Definitions(assets=[upstream, orders], jobs=[op_job])
    snap = build_snapshot(defs, "odd", POINTER, None)
    orders_snap = snap.asset(("warehouse", "orders"))
    assert orders_snap is not None and orders_snap.order_only_deps == (("upstream",),)
    assert orders_snap.upstream == (("upstream",),) and orders_snap.tags == {"tier": "gold"}
    upstream_snap = snap.asset("upstream")
    assert upstream_snap is not None and upstream_snap.metadata["nested"] == {"n": [1, 2]}
    assert isinstance(upstream_snap.metadata["when"], str)
    assert upstream_snap.owners == ("team:data",) and upstream_snap.code_version == "3"
    job = snap.job("op_job")
    assert job is not None and job.op_config_schemas["configured"]["limit"] == "int"
    assert job.op_config_schemas["configured"]["name"] == {"type": "str", "required": False, "default": "n",
                                                           "description": "a name"}
    assert encode_definitions(defs, "odd", POINTER, None) == encode_snapshot(snap)


def test_a_snapshot_of_another_format_is_refused() -> None:
    with pytest.raises(ValueError, match="another Locus version"):
        decode_snapshot(b'{"format": 99}')


def test_importing_snapshots_imports_no_grpc(tmp_path: Path) -> None:
    code = "import sys, locus.codeserver.snapshot, locus.codeserver.results; assert 'grpc' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
