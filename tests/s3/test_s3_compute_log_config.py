"""`compute_logs.s3` in locus.yaml, in the Instance resource and in the
locus.yaml the operator renders from it: the same settings everywhere, and
the instance picks its compute-log manager from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from locus.execution.compute_logs import LocalComputeLogManager
from locus.instance.config import ComputeLogsConfig, S3ComputeLogsConfig, parse_instance_config
from locus.instance.instance import LocusInstance
from locus.k8s.instance import render_locus_yaml
from locus.s3 import S3ComputeLogManager
from locus_operator.instances import instance_spec
from locus_operator.resources.instance import Instance

S3_SECTION = """
compute_logs:
  base_dir: /var/tmp/locus-logs
  s3: {bucket: logs, prefix: team-a/, endpoint_url: 'http://minio:9000', region_name: eu-west-1}
"""


def test_locus_yaml_s3_section_with_defaults() -> None:
    config = parse_instance_config(S3_SECTION).compute_logs
    assert config == ComputeLogsConfig(
        base_dir="/var/tmp/locus-logs",
        s3=S3ComputeLogsConfig(
            bucket="logs", prefix="team-a/", endpoint_url="http://minio:9000", region_name="eu-west-1"
        ),
    )
    assert config.s3 is not None and config.s3.upload_interval == 1.0
    # The local-only shape still means what it meant.
    assert parse_instance_config("compute_logs: {base_dir: logs}").compute_logs == ComputeLogsConfig(base_dir="logs")


def test_the_instance_builds_its_manager_from_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCUS_HOME", str(tmp_path))
    with LocusInstance.get() as instance:
        manager = instance.compute_log_manager
        assert isinstance(manager, LocalComputeLogManager) and manager.base_dir == tmp_path / "logs"
        assert instance.compute_log_manager is manager

    (tmp_path / "locus.yaml").write_text(S3_SECTION)
    with LocusInstance.get() as instance:
        s3 = instance.compute_log_manager
        assert isinstance(s3, S3ComputeLogManager)
        assert (s3.bucket, s3.prefix, s3.endpoint) == ("logs", "team-a", "http://minio:9000")
        assert s3.local.base_dir == Path("/var/tmp/locus-logs")  # written through, then uploaded
        assert s3.key("run-1", "extract", ".out") == "team-a/run-1/extract.out"
        assert s3.describe().startswith("s3://logs/team-a at http://minio:9000")


def test_the_instance_resource_maps_to_the_same_locus_yaml_section() -> None:
    resource = Instance.model_validate(
        {
            "metadata": {"name": "default"},
            "spec": {
                "storage": {"postgres": {"host": "pg", "database": "locus", "user": "locus"}},
                "computeLogs": {"s3": {"bucket": "logs", "endpointUrl": "http://minio:9000", "uploadInterval": 2}},
            },
        }
    )

    spec = instance_spec(resource, "locus", "default", "uid-1", "locus:1")

    expected = S3ComputeLogsConfig(bucket="logs", endpoint_url="http://minio:9000", upload_interval=2)
    assert spec.compute_logs == ComputeLogsConfig(s3=expected)
    # ...and so in the locus.yaml every pod of the instance reads.
    assert parse_instance_config(render_locus_yaml(spec)).compute_logs == ComputeLogsConfig(s3=expected)
