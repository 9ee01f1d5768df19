"""Issue 7's acceptance on the local cluster harness, with a real PostgreSQL
and a local S3 (moto): runs launched through the API become Kubernetes Jobs
(and, with k8s_job_executor, one Job per step); failures are explained in
seconds; termination leaves nothing behind; step output outlives its pod."""

from __future__ import annotations

import os
import pickle
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import tests.s3.conftest as s3_fixtures
import yaml
from e2e.local.cluster import LocalCluster
from tests.e2e_local.operator_support import (
    NS,
    NUMBERS_IMAGE,
    ROOT,
    Database,
    OperatorProcess,
    code_location,
    condition_true,
    harness_images,
    namespace_object,
    postgres_secret,
    wait_object,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

s3_endpoint = s3_fixtures.s3_endpoint
MISSING_IMAGE = "registry.example.com/data/never-pushed:0.0.1"
AWS = s3_fixtures.CREDENTIALS
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


def env_list(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in values.items()]


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> str:
    import boto3

    name = f"locus-runs-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    base = tmp_path_factory.mktemp("runs")
    images = harness_images(base, app_files=[Path(__file__).parent / "runs_location.py"])
    with LocalCluster(images=images, work_dir=base / "cluster") as local:
        local.kubectl("apply", "-f", str(ROOT / "crds"))
        yield local


@pytest.fixture(scope="module")
def stack(cluster: LocalCluster, database: Database, operator: OperatorProcess, s3_endpoint: str,
          bucket: str) -> Iterator[httpx.Client]:
    """Instance (S3 compute logs, at most 10 runs at once) and two CodeLocations, Ready; yields an API client."""
    aws = env_list(AWS)
    location_env = env_list({**AWS, "LOCUS_S3_BUCKET": bucket, "LOCUS_S3_ENDPOINT_URL": s3_endpoint})
    instance = {
        "apiVersion": "locus.dev/v1alpha1", "kind": "Instance",
        "metadata": {"name": "default", "namespace": NS},
        "spec": {
            "storage": {"postgres": {"host": database.host, "port": database.port, "database": database.name,
                                     "user": database.user,
                                     "passwordSecretRef": {"name": "locus-postgresql", "key": "password"}}},
            "runCoordinator": {"maxConcurrentRuns": 10},
            "runMonitoring": {"startTimeoutSeconds": 60, "pollIntervalSeconds": 1},
            "computeLogs": {"s3": {"bucket": bucket, "endpointUrl": s3_endpoint, "uploadInterval": 0.5}},
            "api": {"podTemplate": {"spec": {"containers": [{"name": "api", "env": aws}]}}},
        },
    }

    def location(name: str, **extra: Any) -> dict[str, Any]:
        return code_location(name, image=NUMBERS_IMAGE, workingDirectory="/opt/locus/app", env=location_env,
                             **extra)

    bad_runs = location("bad-runs", module="runs_location", runTemplate={
        "spec": {"containers": [{"name": "locus", "image": MISSING_IMAGE}]}})
    objects = [namespace_object(NS), postgres_secret(b"trust"), instance,
               location("numbers", module="numbers_k8s", attribute="defs"), location("runs", module="runs_location"),
               bad_runs]
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
    api = cluster.api
    base = f"/apis/locus.dev/v1alpha1/namespaces/{NS}"
    for path in ("instances/default", "codelocations/numbers", "codelocations/runs", "codelocations/bad-runs"):
        wait_object(cluster, operator, f"{base}/{path}", condition_true, timeout=90, what=path)
    service = api.get(f"/api/v1/namespaces/{NS}/services/locus-default-api")
    with httpx.Client(base_url=f"http://{service['spec']['clusterIP']}:3000/api", timeout=30) as http:
        api.wait_for(lambda: {loc["name"] for loc in http.get("/locations").json()["locations"]
                              if loc["status"] == "LOADED"} >= {"numbers", "runs", "bad-runs"},
                     timeout=30, what="the API to serve the registered locations")
        yield http


def launch(http: httpx.Client, location: str, job: str) -> str:
    created = http.post("/runs", json={"location": location, "job_name": job})
    assert created.status_code == 201, created.text
    run_id: str = created.json()["run_id"]
    return run_id


def run_of(http: httpx.Client, run_id: str) -> dict[str, Any]:
    body: dict[str, Any] = http.get(f"/runs/{run_id}").json()
    return body


def wait_finished(cluster: LocalCluster, http: httpx.Client, run_id: str, timeout: float) -> dict[str, Any]:
    try:
        body: dict[str, Any] = cluster.api.wait_for(
            lambda: (b := run_of(http, run_id))["run"]["status"] in FINISHED and b, timeout=timeout)
    except TimeoutError as error:
        events = [(e["event_type"], e["message"]) for e in run_of(http, run_id)["events"]]
        raise AssertionError(f"{error}\nevents: {events}\nkubelet:\n{cluster.server_log(tail=3000)}") from None
    return body


def run_objects(cluster: LocalCluster, kind: str, run_id: str) -> list[dict[str, Any]]:
    path = f"/apis/batch/v1/namespaces/{NS}/jobs" if kind == "Job" else f"/api/v1/namespaces/{NS}/pods"
    return cluster.api.list(path, label_selector={"locus.dev/run-id": run_id})


def test_numbers_k8s_runs_one_job_per_step_and_sums_to_55(cluster: LocalCluster, stack: httpx.Client,
                                                           s3_endpoint: str, bucket: str) -> None:
    run_id = launch(stack, "numbers", "process_numbers_asset_k8s")
    body = wait_finished(cluster, stack, run_id, timeout=120)
    assert body["run"]["status"] == "SUCCESS", [e["message"] for e in body["events"]][-10:]
    jobs = run_objects(cluster, "Job", run_id)
    components = sorted(j["metadata"]["labels"]["app.kubernetes.io/component"] for j in jobs)
    assert components == ["run"] + ["step"] * 6

    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    stored = s3.get_object(Bucket=bucket, Key="numbers/summed_two_sums")["Body"].read()
    assert pickle.loads(stored) == 55


def test_step_output_is_readable_after_its_pod_is_gone(cluster: LocalCluster, stack: httpx.Client) -> None:
    run_id = launch(stack, "runs", "printing")
    assert wait_finished(cluster, stack, run_id, timeout=60)["run"]["status"] == "SUCCESS"
    for job in run_objects(cluster, "Job", run_id):
        cluster.api.delete(f"/apis/batch/v1/namespaces/{NS}/jobs/{job['metadata']['name']}", "Background")
    cluster.api.wait_for(lambda: not run_objects(cluster, "Pod", run_id), timeout=15, what="the run's pods gone")
    logs = stack.get(f"/runs/{run_id}/logs")
    assert logs.status_code == 200, logs.text
    assert "hello from a step pod" in logs.text


def test_a_run_image_that_cannot_be_pulled_fails_the_run_within_5_seconds(cluster: LocalCluster,
                                                                           stack: httpx.Client) -> None:
    started = time.monotonic()
    run_id = launch(stack, "bad-runs", "tiny")
    body = wait_finished(cluster, stack, run_id, timeout=15)
    took = time.monotonic() - started
    assert body["run"]["status"] == "FAILURE"
    messages = " ".join(e["message"] for e in body["events"])
    assert MISSING_IMAGE in messages and "could not be pulled" in messages
    assert took < 5, f"failed after {took:.1f}s"
    cluster.api.wait_for(lambda: not run_objects(cluster, "Job", run_id) and not run_objects(cluster, "Pod", run_id),
                         timeout=5, what="no Job or pod of the run left")


def _running_pod(cluster: LocalCluster, run_id: str, component: str) -> dict[str, Any] | None:
    for pod in run_objects(cluster, "Pod", run_id):
        if (pod["metadata"]["labels"].get("app.kubernetes.io/component") == component
                and (pod.get("status") or {}).get("phase") == "Running"):
            return pod
    return None


def test_killing_the_run_pod_fails_the_run_with_the_reason_within_5_seconds(cluster: LocalCluster,
                                                                             stack: httpx.Client) -> None:
    run_id = launch(stack, "runs", "slow")
    cluster.api.wait_for(lambda: _running_pod(cluster, run_id, "step"), timeout=60, what="a step pod running")
    run_pod = _running_pod(cluster, run_id, "run")
    assert run_pod is not None
    pid = cluster.pid_of(NS, run_pod["metadata"]["name"])
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    body = wait_finished(cluster, stack, run_id, timeout=15)
    assert time.monotonic() - killed < 5
    assert body["run"]["status"] == "FAILURE"
    failure = next(e for e in body["events"] if e["event_type"] == "RUN_FAILURE")
    assert "137" in failure["message"] and run_pod["metadata"]["name"] in failure["message"]
    cluster.api.wait_for(lambda: not run_objects(cluster, "Pod", run_id), timeout=10, what="no pod left")


def test_terminating_a_multi_step_run_removes_every_job_and_pod_within_10_seconds(cluster: LocalCluster,
                                                                                    stack: httpx.Client) -> None:
    run_id = launch(stack, "runs", "slow")
    cluster.api.wait_for(lambda: _running_pod(cluster, run_id, "step") and
                         any(j["metadata"]["labels"].get("locus.dev/step-key") == "linger"
                             for j in run_objects(cluster, "Job", run_id)),
                         timeout=60, what="the lingering step's Job")
    assert stack.post(f"/runs/{run_id}/terminate").status_code == 200
    asked = time.monotonic()
    cluster.api.wait_for(lambda: not run_objects(cluster, "Job", run_id) and not run_objects(cluster, "Pod", run_id),
                         timeout=10, what="every Job and pod of the run gone")
    assert time.monotonic() - asked < 10
    assert wait_finished(cluster, stack, run_id, timeout=15)["run"]["status"] == "CANCELED"


def test_a_hundred_queued_runs_never_exceed_ten_jobs_at_once(cluster: LocalCluster, stack: httpx.Client) -> None:
    run_ids = [launch(stack, "runs", "tiny") for _ in range(100)]
    wanted = set(run_ids)
    peak = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        active = [j for j in cluster.api.list(f"/apis/batch/v1/namespaces/{NS}/jobs",
                                              label_selector={"app.kubernetes.io/component": "run"})
                  if j["metadata"]["labels"].get("locus.dev/run-id") in wanted
                  and not any(c["status"] == "True" and c["type"] in ("Complete", "Failed")
                              for c in (j.get("status") or {}).get("conditions") or ())]
        peak = max(peak, len(active))
        statuses = [r["status"] for r in stack.get("/runs", params={"limit": 200}).json()["runs"]
                    if r["run_id"] in wanted]
        if len(statuses) == 100 and all(s in FINISHED for s in statuses):
            break
        time.sleep(0.2)
    assert statuses.count("SUCCESS") == 100, {s: statuses.count(s) for s in set(statuses)}
    assert 1 < peak <= 10
