"""The kind e2e script and its inputs hang together. (It needs Docker, so CI
runs the same scenario on the local harness instead; here it is checked
without running.)"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from helm_support import REPO
from tests.operator.crd_support import api_server_errors

from locus.api.routers.runs import LaunchRun

RUN_SH = REPO / "e2e" / "kind" / "run.sh"
CODELOCATION = REPO / "e2e" / "kind" / "codelocation.yaml"


def script() -> str:
    return RUN_SH.read_text()


def test_run_sh_is_valid_strict_bash() -> None:
    result = subprocess.run(["bash", "-n", str(RUN_SH)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert script().startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in script()


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_run_sh_is_shellcheck_clean() -> None:
    result = subprocess.run(["shellcheck", str(RUN_SH)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_kind_config_makes_a_control_plane_and_a_worker() -> None:
    config = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    assert (config["kind"], config["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    assert [node["role"] for node in config["nodes"]] == ["control-plane", "worker"]


def test_every_file_the_script_names_exists() -> None:
    paths = set(re.findall(r"(?:images|charts|e2e)/[\w./-]+|kind-config\.yaml", script()))
    assert {"kind-config.yaml", "charts/locus", "e2e/kind/codelocation.yaml"} <= paths
    for path in paths:
        assert (REPO / path).exists(), f"run.sh names {path}, which does not exist"


def test_the_code_location_is_valid_and_serves_the_example_image() -> None:
    location = yaml.safe_load(CODELOCATION.read_text())
    assert api_server_errors(location) == []
    tag = re.search(r'^TAG="\$\{TAG:-(\w+)\}"', script(), re.MULTILINE)
    assert tag and location["spec"]["image"] == f"locus-examples:{tag.group(1)}"
    assert location["metadata"]["namespace"] == re.search(r'NAMESPACE="\$\{NAMESPACE:-(\S+)\}"', script()).group(1)
    module = REPO / "examples" / f"{location['spec']['module']}.py"
    assert module.is_file()
    job = re.search(r'JOB="\$\{JOB:-(\w+)\}"', script())
    assert job and f'name="{job.group(1)}"' in module.read_text()
    assert "def summed_two_sums(" in module.read_text()
    assert f"LOCATION={location['metadata']['name']}" in script()


def test_the_launch_request_is_what_the_api_takes() -> None:
    body = re.search(r"-d \"(\{.*\})\"", script())
    assert body
    keys = set(re.findall(r'\\"(\w+)\\":', body.group(1)))
    assert keys == {"location", "job_name"} and keys <= set(LaunchRun.model_fields)
    assert '"Authorization: Bearer $TOKEN"' in script()
    assert "svc/locus-default-api" in script() and '"$RELEASE-api-token"' in script()
