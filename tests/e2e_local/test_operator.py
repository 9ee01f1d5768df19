"""Issue 6's acceptance on the local cluster harness: the operator, a real
subprocess, reconciles the sample Instance and CodeLocation; the kubelet
runs the migration Job, the daemon, the API and the code server as local
processes against a real PostgreSQL; `kubectl get codelocations` tells the
truth through every scenario below."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from e2e.local.cluster import LocalCluster
from tests.e2e_local.operator_support import (
    BROKEN_IMAGE,
    EXAMPLES_IMAGE,
    INSTANCE,
    LOCATIONS,
    NS,
    NUMBERS_IMAGE,
    ROOT,
    Database,
    OperatorProcess,
    apply,
    code_location,
    condition,
    condition_true,
    harness_images,
    instance_for,
    is_ready,
    namespace_object,
    postgres_secret,
    sample,
    wait_gone,
    wait_location,
    wait_object,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
SERVICES = f"/api/v1/namespaces/{NS}/services"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    base = tmp_path_factory.mktemp("harness")
    with LocalCluster(images=harness_images(base), work_dir=base / "cluster") as local:
        local.kubectl("apply", "-f", str(ROOT / "crds"))
        yield local


@pytest.fixture(scope="module")
def ready_instance(cluster: LocalCluster, operator: OperatorProcess, database: Database) -> dict[str, Any]:
    apply(cluster, namespace_object(NS), postgres_secret(b"unused-with-trust-auth"), instance_for(database))
    return wait_object(cluster, operator, INSTANCE, condition_true, timeout=90)


def test_the_sample_instance_migrates_and_starts_its_services(cluster: LocalCluster, ready_instance: dict[str, Any],
                                                               database: Database) -> None:
    status = ready_instance["status"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True", "StorageReady": "True", "DaemonReady": "True", "ApiReady": "True"}
    assert status["schemaVersion"]
    names = {d["metadata"]["name"] for d in cluster.api.list(DEPLOYMENTS)}
    assert {"locus-default-daemon", "locus-default-api"} <= names
    config = cluster.api.get_or_none(f"/api/v1/namespaces/{NS}/configmaps/locus-default-config")
    assert config is not None
    assert "LOCUS_PG_PASSWORD" in config["data"]["locus.yaml"]  # the password only by reference
    assert "unused-with-trust-auth" not in json.dumps(config)


def test_the_sample_code_location_is_ready_with_its_definitions(
    cluster: LocalCluster, operator: OperatorProcess, ready_instance: dict[str, Any], database: Database
) -> None:
    apply(cluster, sample("codelocation.yaml"))
    location = wait_location(cluster, operator, "numbers", is_ready)
    assert location["status"]["definitions"] == {"assets": 6, "jobs": 1, "schedules": 0, "sensors": 0}
    assert location["status"]["image"] == NUMBERS_IMAGE
    shown = cluster.kubectl("get", "codelocations", "-n", NS).stdout
    row = next(line.split() for line in shown.splitlines() if line.startswith("numbers"))
    assert row[1:5] == ["True", NUMBERS_IMAGE, "6", "1"], shown

    import psycopg

    with psycopg.connect(database.url) as conn:
        status, body = conn.execute("SELECT status, body FROM code_locations WHERE name = 'numbers'").fetchone()
    assert status == "LOADED"
    assert json.loads(body)["counts"]["assets"] == 6


def test_a_broken_location_reports_its_traceback_and_spares_its_neighbour(
    cluster: LocalCluster, operator: OperatorProcess, ready_instance: dict[str, Any]
) -> None:
    apply(cluster, code_location("broken", image=EXAMPLES_IMAGE, pythonFile="broken_location.py",
                                 workingDirectory="/opt/locus/app"))
    location = wait_location(cluster, operator, "broken", lambda o: condition(o, "Ready").get("reason") == "LoadFailed")
    assert condition(location, "Ready")["status"] == "False"
    assert "deliberately broken" in location["status"]["loadError"]["message"]
    assert "broken_location.py" in location["status"]["loadError"]["traceback"]
    neighbour = cluster.api.get_or_none(f"{LOCATIONS}/numbers")
    assert neighbour is not None and is_ready(neighbour)
    events = cluster.kubectl("get", "events", "-n", NS, "-o", "json").stdout
    assert "LoadFailed" in events


def test_a_failing_new_image_leaves_the_old_pods_serving_until_reverted(
    cluster: LocalCluster, operator: OperatorProcess, ready_instance: dict[str, Any]
) -> None:
    wait_location(cluster, operator, "numbers", is_ready)
    cluster.kubectl("patch", "codelocation", "numbers", "-n", NS, "--type", "merge",
                    "-p", json.dumps({"spec": {"image": BROKEN_IMAGE}}))
    degraded = wait_location(cluster, operator, "numbers",
                             lambda o: condition_true(o, "Degraded"))
    assert condition(degraded, "Ready")["status"] == "True"
    assert degraded["status"]["image"] == NUMBERS_IMAGE  # the old revision serves
    assert "numbers 1.5.0 is broken" in degraded["status"]["loadError"]["message"]
    pods = cluster.api.list(f"/api/v1/namespaces/{NS}/pods", label_selector="locus.dev/location=numbers")
    assert any(p["spec"]["containers"][0]["image"] == NUMBERS_IMAGE and condition_true(p) for p in pods)

    cluster.kubectl("patch", "codelocation", "numbers", "-n", NS, "--type", "merge",
                    "-p", json.dumps({"spec": {"image": NUMBERS_IMAGE}}))
    healed = wait_location(cluster, operator, "numbers",
                           lambda o: is_ready(o) and condition(o, "Degraded").get("status") == "False"
                           and not o["status"].get("loadError"))
    assert healed["status"]["definitions"]["assets"] == 6


def test_restarting_the_operator_adopts_instead_of_duplicating(
    cluster: LocalCluster, operator: OperatorProcess, ready_instance: dict[str, Any]
) -> None:
    wait_location(cluster, operator, "numbers", is_ready)
    service = f"{SERVICES}/locus-codeserver-numbers"

    def inventory() -> dict[str, str]:
        paths = {"Deployment": DEPLOYMENTS, "Service": SERVICES, "Job": f"/apis/batch/v1/namespaces/{NS}/jobs",
                 "ConfigMap": f"/api/v1/namespaces/{NS}/configmaps"}
        return {f"{kind}/{o['metadata']['name']}": o["metadata"]["uid"]
                for kind, path in paths.items() for o in cluster.api.list(path)}

    before = inventory()
    operator.stop()
    # Something for the restarted operator to repair, so the test knows it has reconciled.
    cluster.api.delete(service)
    operator.start()
    wait_object(cluster, operator, service, bool, timeout=30, what="the Service recreated")
    after = inventory()
    assert after.keys() == before.keys()
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {"Service/locus-codeserver-numbers"}  # everything else adopted as it was
    wait_location(cluster, operator, "numbers", is_ready)


def test_a_location_deleted_leaves_the_registry_and_takes_its_children(
    cluster: LocalCluster, operator: OperatorProcess, ready_instance: dict[str, Any], database: Database
) -> None:
    apply(cluster, code_location("short-lived", image=EXAMPLES_IMAGE, pythonFile="hello.py",
                                 workingDirectory="/opt/locus/app"))
    wait_location(cluster, operator, "short-lived", is_ready)
    cluster.kubectl("delete", "codelocation", "short-lived", "-n", NS, "--wait=true", "--timeout=30s")
    wait_gone(cluster, operator, f"{DEPLOYMENTS}/locus-codeserver-short-lived", timeout=10)

    import psycopg

    with psycopg.connect(database.url) as conn:
        rows = conn.execute("SELECT name FROM code_locations").fetchall()
    assert ("short-lived",) not in rows


def test_a_location_in_another_namespace_registers_with_the_named_instance(
    cluster: LocalCluster, operator: OperatorProcess, ready_instance: dict[str, Any], database: Database
) -> None:
    other = "team-b"
    apply(cluster, namespace_object(other), code_location(
        "hello", other, image=EXAMPLES_IMAGE, pythonFile="hello.py", workingDirectory="/opt/locus/app",
        instanceRef={"name": "default", "namespace": NS}))
    wait_object(cluster, operator, f"/apis/locus.dev/v1alpha1/namespaces/{other}/codelocations/hello", is_ready)
    assert cluster.api.get_or_none(f"/apis/apps/v1/namespaces/{other}/deployments/locus-codeserver-hello")

    import psycopg

    def registered() -> bool:
        with psycopg.connect(database.url) as conn:
            row = conn.execute("SELECT status FROM code_locations WHERE name = 'hello'").fetchone()
        return row is not None and row[0] == "LOADED"

    cluster.api.wait_for(registered, timeout=15, what="hello registered in data-platform's Instance")
    shown = wait_object(cluster, operator, f"/apis/locus.dev/v1alpha1/namespaces/{other}/codelocations/hello",
                        lambda o: condition_true(o, "Registered"))
    assert f"Instance {NS}/default" in condition(shown, "Registered")["message"]


def test_a_location_whose_instance_is_missing_serves_but_says_it_is_not_registered(
    cluster: LocalCluster, operator: OperatorProcess, ready_instance: dict[str, Any]
) -> None:
    apply(cluster, code_location("orphan", image=EXAMPLES_IMAGE, pythonFile="hello.py",
                                 workingDirectory="/opt/locus/app", instanceRef="nowhere"))
    shown = wait_location(cluster, operator, "orphan",
                          lambda o: is_ready(o) and condition(o, "Registered").get("reason") == "InstanceNotReady")
    assert condition(shown, "Registered")["status"] == "False"
    assert "nowhere" in condition(shown, "Registered")["message"]
