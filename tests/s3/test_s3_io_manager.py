"""S3PickleIOManager against a real S3 endpoint (moto's server): outputs
land where Dagster puts them, inputs come back from the bucket, in this
process, in step processes, and for the Kubernetes example's definitions."""

from __future__ import annotations

import importlib
import json
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import locus
from locus import AssetKey, EnvVar, InputContext, OutputContext
from locus.execution.code_pointer import CodePointer, load_definitions
from locus.s3 import S3PickleIOManager, S3Resource
from locus.s3.errors import S3Error
from support import OWN_EXAMPLES, run_locus

NUMBER_ASSETS = [
    "filtered_even_numbers",
    "filtered_odd_numbers",
    "generated_numbers",
    "summed_even_numbers",
    "summed_odd_numbers",
    "summed_two_sums",
]


@pytest.fixture
def examples(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The project's examples folder, importable (and imported afresh)."""
    monkeypatch.syspath_prepend(str(OWN_EXAMPLES))
    for name in ["numbers_ops", "numbers_assets", "numbers_k8s"]:
        sys.modules.pop(name, None)
    importlib.invalidate_caches()
    yield OWN_EXAMPLES
    for name in ["numbers_ops", "numbers_assets", "numbers_k8s"]:
        sys.modules.pop(name, None)


@pytest.fixture
def numbers_assets(examples: Path) -> ModuleType:
    return importlib.import_module("numbers_assets")


def io_manager(endpoint: str, bucket: str, prefix: str = "numbers") -> S3PickleIOManager:
    return S3PickleIOManager(s3_resource=S3Resource(endpoint_url=endpoint), s3_bucket=bucket, s3_prefix=prefix)


def load_asset(manager: S3PickleIOManager, name: str) -> Any:
    """An asset's stored value, read the way a downstream step reads it."""
    key = AssetKey(name)
    upstream = OutputContext(name="result", step_key=name, run_id="", asset_key=key)
    return manager.load_input(InputContext(name="value", upstream_output=upstream, asset_key=key))


def test_numbers_assets_round_trip_through_the_bucket(
    numbers_assets: ModuleType, s3_endpoint: str, bucket: str, object_keys: Callable[..., list[str]]
) -> None:
    manager = io_manager(s3_endpoint, bucket)

    result = locus.materialize(numbers_assets.defs.assets, resources={"io_manager": manager})

    assert result.success
    # Dagster's layout: <prefix>/<asset key path>.
    assert object_keys(bucket) == [f"numbers/{name}" for name in NUMBER_ASSETS]
    assert load_asset(manager, "summed_two_sums") == 55


def test_a_later_run_loads_its_upstream_assets_from_the_bucket(
    numbers_assets: ModuleType, s3_endpoint: str, bucket: str, s3_client: Any
) -> None:
    manager = io_manager(s3_endpoint, bucket)
    assert locus.materialize(numbers_assets.defs.assets, resources={"io_manager": manager}).success
    # Change an upstream value behind the run's back: the next run must read it from S3.
    s3_client.put_object(Bucket=bucket, Key="numbers/summed_odd_numbers", Body=pickle.dumps(100))

    again = locus.materialize(
        numbers_assets.defs.assets,
        resources={"io_manager": io_manager(s3_endpoint, bucket)},
        selection=["summed_two_sums"],
    )

    assert again.success
    assert load_asset(manager, "summed_two_sums") == 130


def test_op_outputs_are_stored_per_run_and_step(
    examples: Path, s3_endpoint: str, bucket: str, object_keys: Callable[..., list[str]]
) -> None:
    numbers_ops = importlib.import_module("numbers_ops")
    manager = io_manager(s3_endpoint, bucket, prefix="ops")

    result = numbers_ops.process_numbers.execute_in_process(resources={"io_manager": manager})

    assert result.success and result.output_for_node("sum_two_sums") == 55
    steps = [
        "filter_even_numbers",
        "filter_odd_numbers",
        "generate_numbers",
        "sum_even_numbers",
        "sum_odd_numbers",
        "sum_two_sums",
    ]
    assert object_keys(bucket) == [f"ops/storage/{result.run_id}/{step}/result" for step in steps]


LOCATION = """
from locus import Definitions, EnvVar, job, multiprocess_executor, op
from locus.s3 import S3PickleIOManager, S3Resource


@op
def ten():
    return list(range(1, 11))


@op
def total(numbers):
    return sum(numbers)


@job(executor_def=multiprocess_executor)
def add_up():
    total(ten())


defs = Definitions(
    jobs=[add_up],
    resources={"io_manager": S3PickleIOManager(
        s3_resource=S3Resource(endpoint_url=EnvVar("LOCUS_S3_ENDPOINT_URL")),
        s3_bucket=EnvVar("LOCUS_S3_BUCKET"),
        s3_prefix="mp",
    )},
)
"""


def test_step_processes_hand_outputs_over_through_the_bucket(
    tmp_path: Path, s3_endpoint: str, bucket: str, s3_client: Any, object_keys: Callable[..., list[str]]
) -> None:
    (tmp_path / "location.py").write_text(LOCATION)
    env = {"LOCUS_S3_ENDPOINT_URL": s3_endpoint, "LOCUS_S3_BUCKET": bucket}

    done = run_locus("job", "execute", "-f", "location.py", "-j", "add_up", cwd=tmp_path, home=tmp_path / "h", env=env)

    assert done.code == 0, done.stderr
    run_id = done.stdout.split("Run ", 1)[1].split()[0]
    assert object_keys(bucket) == [f"mp/storage/{run_id}/ten/result", f"mp/storage/{run_id}/total/result"]
    stored = s3_client.get_object(Bucket=bucket, Key=f"mp/storage/{run_id}/total/result")["Body"].read()
    assert pickle.loads(stored) == 55


def test_the_k8s_example_loads_and_materialises_against_s3(
    examples: Path,
    s3_endpoint: str,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    object_keys: Callable[..., list[str]],
    tmp_path: Path,
) -> None:
    # Loading needs neither the variables nor a reachable endpoint: EnvVars are read when a run starts.
    validated = run_locus("definitions", "validate", "-f", "numbers_k8s.py", cwd=examples, home=tmp_path / "h")
    assert validated.code == 0, validated.stderr

    monkeypatch.setenv("LOCUS_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("LOCUS_S3_BUCKET", bucket)
    pointer = CodePointer(python_file=str(examples / "numbers_k8s.py"), working_directory=str(examples))
    defs = load_definitions(pointer)
    job = defs.get_job_def("process_numbers_asset_k8s")
    assert job.executor_def is locus.k8s_job_executor

    # k8s_job_executor needs a cluster; in-process execution runs the same steps and IO manager.
    result = job.execute_in_process(resources=defs.resources_for(job))

    assert result.success
    assert object_keys(bucket) == [f"numbers/{name}" for name in NUMBER_ASSETS]
    manager = defs.resources["io_manager"]
    assert isinstance(manager, S3PickleIOManager)
    assert manager.env_var_fields() == {"s3_bucket": "LOCUS_S3_BUCKET"}
    assert load_asset(manager, "summed_two_sums") == 55


def test_a_missing_bucket_names_the_bucket_and_the_endpoint(numbers_assets: ModuleType, s3_endpoint: str) -> None:
    manager = io_manager(s3_endpoint, "no-such-bucket")

    with pytest.raises(S3Error) as info:
        locus.materialize(numbers_assets.defs.assets, resources={"io_manager": manager})

    assert f"S3 bucket 'no-such-bucket' does not exist at {s3_endpoint}" in info.value.message
    assert "storing output 'result' of generated_numbers" in info.value.message
    assert info.value.hint is not None and "create the bucket" in info.value.hint


def test_an_asset_not_yet_stored_says_so(s3_endpoint: str, bucket: str) -> None:
    with pytest.raises(
        S3Error,
        match=f"asset summed_two_sums has not been materialised yet: no object s3://{bucket}/numbers/summed_two_sums",
    ):
        load_asset(io_manager(s3_endpoint, bucket), "summed_two_sums")


def test_an_unreachable_endpoint_is_named() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    manager = S3PickleIOManager(s3_resource=S3Resource(endpoint_url=dead, max_attempts=1), s3_bucket="b", s3_prefix="p")
    context = OutputContext(name="result", step_key="a", run_id="r", asset_key=AssetKey("a"))

    with pytest.raises(S3Error, match=f"cannot reach the S3 endpoint {dead}"):
        manager.handle_output(context, 1)


def test_env_vars_survive_run_config_and_are_read_at_run_time(monkeypatch: pytest.MonkeyPatch) -> None:
    manager = S3PickleIOManager(
        s3_resource=S3Resource(endpoint_url=EnvVar("ENDPOINT")), s3_bucket=EnvVar("BUCKET"), s3_prefix="a"
    )
    changed = manager.configured({"s3_prefix": "b"})
    assert changed.s3_prefix == "b"
    assert changed.env_var_fields() == {"s3_bucket": "BUCKET"}
    assert changed.s3_resource.env_var_fields() == {"endpoint_url": "ENDPOINT"}

    monkeypatch.setenv("ENDPOINT", "http://s3.internal:9000")
    monkeypatch.setenv("BUCKET", "data")
    resolved = changed.with_resolved_env("resources.io_manager")
    assert isinstance(resolved, S3PickleIOManager)
    assert (resolved.s3_bucket, resolved.s3_resource.endpoint_url) == ("data", "http://s3.internal:9000")
    output = OutputContext(name="result", step_key="a", run_id="r", asset_key=AssetKey(["x", "y"]))
    assert resolved.uri_for(output) == "s3://data/b/x/y"
    assert changed.uri_for(output) == "s3://data/b/x/y"  # read from the environment when used directly


def test_locus_and_locus_s3_load_without_boto3() -> None:
    code = (
        "import sys, json, locus\n"
        "before = 'boto3' in sys.modules or 'botocore' in sys.modules\n"
        "from locus.s3 import S3PickleIOManager, S3Resource, S3ComputeLogManager\n"
        "print(json.dumps([before, 'boto3' in sys.modules or 'botocore' in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == [False, False]
