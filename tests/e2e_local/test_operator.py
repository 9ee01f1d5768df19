"""Issue 6's acceptance on the local cluster harness: the operator, a real
subprocess, reconciles the sample Instance and CodeLocation; the kubelet
runs the migration Job, the daemon, the API and the code server as local
processes against a real PostgreSQL; `kubectl get codelocations` tells the
truth through every scenario below."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e.local.cluster import LocalCluster
from e2e.local.images import ImageEnv
from tests.e2e_local.operator_support import (
    NUMBERS_IMAGE,
    ROOT,
    SYSTEM_IMAGE,
    Database,
    broken_app,
    fresh_database,
    numbers_app,
    running_operator,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

NS = "data-platform"
BROKEN_IMAGE = "registry.example.com/data/numbers:1.5.0-broken"
EXAMPLES_IMAGE = "ghcr.io/locus/locus-examples:0.1.0"
LOCATIONS = f"/apis/locus.dev/v1alpha1/namespaces/{NS}/codelocations"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
SERVICES = f"/api/v1/namespaces/{NS}/services"


def sample(name: str) -> dict[str, Any]:
    """A sample custom resource: the shared one when ../shared is beside the repository, else our copy."""
    shared = ROOT.parent / "shared" / "examples" / "k8s" / name
    loaded: dict[str, Any] = yaml.safe_load((shared if shared.exists() else ROOT / "examples" / "k8s" / name)
                                            .read_text())
    return loaded


def instance_for(db: Database) -> dict[str, Any]:
    """The sample Instance, its storage pointed at the test's database (the
    harness has no cluster DNS for `postgresql.data-platform.svc`)."""
    instance = sample("instance.yaml")
    postgres = instance["spec"]["storage"]["postgres"]
    postgres.update(host=db.host, port=db.port, database=db.name, user=db.user)
    return instance


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or () if c["type"] == type_), {})


def apply(cluster: LocalCluster, *objects: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input="\n---\n".join(yaml.safe_dump(o) for o in objects))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    base = tmp_path_factory.mktemp("harness")
    images = {
        SYSTEM_IMAGE: ImageEnv.current_python(),
        NUMBERS_IMAGE: ImageEnv.current_python(paths={"/opt/locus/app": str(numbers_app(base / "numbers"))}),
        BROKEN_IMAGE: ImageEnv.current_python(paths={"/opt/locus/app": str(broken_app(base / "broken"))}),
        EXAMPLES_IMAGE: ImageEnv.current_python(paths={"/opt/locus/app": str(ROOT / "examples")}),
    }
    with LocalCluster(images=images, work_dir=base / "cluster") as local:
        local.kubectl("apply", "-f", str(ROOT / "crds"))
        yield local


@pytest.fixture(scope="module")
def database(postgres_server_url: str) -> Iterator[Database]:
    with fresh_database(postgres_server_url) as db:
        yield db


@pytest.fixture(scope="module")
def operator(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    with running_operator(Path(cluster.kubeconfig), log) as process:
        yield process


@pytest.fixture(scope="module")
def ready_instance(cluster: LocalCluster, operator: Any, database: Database) -> dict[str, Any]:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "locus-postgresql", "namespace": NS},
        "data": {"password": base64.b64encode(b"unused-with-trust-auth").decode()},
    }
    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, secret, instance_for(database))
    path = f"/apis/locus.dev/v1alpha1/namespaces/{NS}/instances/default"
    try:
        ready = cluster.api.wait_for(
            lambda: _if(cluster.api.get_or_none(path), lambda o: condition(o, "Ready").get("status") == "True"),
            timeout=90,
        )
        return ready
    except TimeoutError:
        raise AssertionError(f"Instance not Ready; operator log:\n{operator.log()}") from None


def _if(obj: dict[str, Any] | None, test: Any) -> dict[str, Any] | None:
    return obj if obj is not None and test(obj) else None


def wait_location(cluster: LocalCluster, operator: Any, name: str, test: Any, timeout: float = 60) -> dict[str, Any]:
    try:
        result: dict[str, Any] = cluster.api.wait_for(lambda: _if(cluster.api.get_or_none(f"{LOCATIONS}/{name}"), test),
                                                       timeout=timeout)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{diagnose(cluster, operator)}") from None
    return result


def diagnose(cluster: LocalCluster, operator: Any) -> str:
    """What a user would look at: objects, statuses, the operator's and kubelet's logs."""
    shown = cluster.kubectl("get", "codelocations,instances,deployments,jobs,pods", "-A", "-o", "wide",
                            check=False).stdout
    statuses = json.dumps([(p["metadata"]["name"], p.get("status")) for p in
                           cluster.api.list(f"/api/v1/namespaces/{NS}/pods")], indent=1)[-4000:]
    kubelet = cluster.server_log("kubelet", tail=3000)
    pods = [p["metadata"]["name"] for p in cluster.api.list(f"/api/v1/namespaces/{NS}/pods")]
    logs = "\n".join(f"--- {pod}:\n{cluster.log(NS, pod, c)[-1500:]}" for pod in pods if "codeserver" in pod
                     for c in ("codeserver",))
    return (f"{shown}\npods:\n{statuses}\nkubelet log:\n{kubelet}\ncode server logs:\n{logs}\n"
            f"operator log:\n{operator.log()}")


def is_ready(obj: dict[str, Any]) -> bool:
    generation = obj["metadata"].get("generation")
    return condition(obj, "Ready").get("status") == "True" and obj["status"].get("observedGeneration") == generation


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
    cluster: LocalCluster, operator: Any, ready_instance: dict[str, Any], database: Database
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
    cluster: LocalCluster, operator: Any, ready_instance: dict[str, Any]
) -> None:
    broken = {
        "apiVersion": "locus.dev/v1alpha1",
        "kind": "CodeLocation",
        "metadata": {"name": "broken", "namespace": NS},
        "spec": {"image": EXAMPLES_IMAGE, "pythonFile": "broken_location.py", "workingDirectory": "/opt/locus/app"},
    }
    apply(cluster, broken)
    location = wait_location(cluster, operator, "broken", lambda o: condition(o, "Ready").get("reason") == "LoadFailed")
    assert condition(location, "Ready")["status"] == "False"
    assert "deliberately broken" in location["status"]["loadError"]["message"]
    assert "broken_location.py" in location["status"]["loadError"]["traceback"]
    neighbour = cluster.api.get_or_none(f"{LOCATIONS}/numbers")
    assert neighbour is not None and is_ready(neighbour)
    events = cluster.kubectl("get", "events", "-n", NS, "-o", "json").stdout
    assert "LoadFailed" in events


def test_a_failing_new_image_leaves_the_old_pods_serving_until_reverted(
    cluster: LocalCluster, operator: Any, ready_instance: dict[str, Any]
) -> None:
    wait_location(cluster, operator, "numbers", is_ready)
    cluster.kubectl("patch", "codelocation", "numbers", "-n", NS, "--type", "merge",
                    "-p", json.dumps({"spec": {"image": BROKEN_IMAGE}}))
    degraded = wait_location(cluster, operator, "numbers",
                             lambda o: condition(o, "Degraded").get("status") == "True")
    assert condition(degraded, "Ready")["status"] == "True"
    assert degraded["status"]["image"] == NUMBERS_IMAGE  # the old revision serves
    assert "numbers 1.5.0 is broken" in degraded["status"]["loadError"]["message"]
    pods = cluster.api.list(f"/api/v1/namespaces/{NS}/pods", label_selector="locus.dev/location=numbers")
    assert any(p["spec"]["containers"][0]["image"] == NUMBERS_IMAGE and _ready(p) for p in pods)

    cluster.kubectl("patch", "codelocation", "numbers", "-n", NS, "--type", "merge",
                    "-p", json.dumps({"spec": {"image": NUMBERS_IMAGE}}))
    healed = wait_location(cluster, operator, "numbers",
                           lambda o: is_ready(o) and condition(o, "Degraded").get("status") == "False"
                           and not o["status"].get("loadError"))
    assert healed["status"]["definitions"]["assets"] == 6


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_restarting_the_operator_adopts_instead_of_duplicating(
    cluster: LocalCluster, operator: Any, ready_instance: dict[str, Any]
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
    cluster.api.wait_for(lambda: cluster.api.get_or_none(service), timeout=30, what="the Service recreated")
    after = inventory()
    assert after.keys() == before.keys()
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {"Service/locus-codeserver-numbers"}  # everything else adopted as it was
    wait_location(cluster, operator, "numbers", is_ready)


def test_a_location_deleted_leaves_the_registry_and_takes_its_children(
    cluster: LocalCluster, operator: Any, ready_instance: dict[str, Any], database: Database
) -> None:
    apply(cluster, {
        "apiVersion": "locus.dev/v1alpha1", "kind": "CodeLocation",
        "metadata": {"name": "short-lived", "namespace": NS},
        "spec": {"image": EXAMPLES_IMAGE, "pythonFile": "hello.py", "workingDirectory": "/opt/locus/app"},
    })
    wait_location(cluster, operator, "short-lived", is_ready)
    cluster.kubectl("delete", "codelocation", "short-lived", "-n", NS, "--wait=true", "--timeout=30s")
    cluster.api.wait_for(lambda: cluster.api.get_or_none(f"{DEPLOYMENTS}/locus-codeserver-short-lived") is None,
                         timeout=10)

    import psycopg

    with psycopg.connect(database.url) as conn:
        rows = conn.execute("SELECT name FROM code_locations").fetchall()
    assert ("short-lived",) not in rows


def test_a_location_in_another_namespace_registers_with_the_named_instance(
    cluster: LocalCluster, operator: Any, ready_instance: dict[str, Any], database: Database
) -> None:
    other = "team-b"
    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": other}}, {
        "apiVersion": "locus.dev/v1alpha1", "kind": "CodeLocation",
        "metadata": {"name": "hello", "namespace": other},
        "spec": {"image": EXAMPLES_IMAGE, "pythonFile": "hello.py", "workingDirectory": "/opt/locus/app",
                 "instanceRef": {"name": "default", "namespace": NS}},
    })
    path = f"/apis/locus.dev/v1alpha1/namespaces/{other}/codelocations/hello"
    try:
        cluster.api.wait_for(lambda: _if(cluster.api.get_or_none(path), is_ready), timeout=60)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{diagnose(cluster, operator)}") from None
    assert cluster.api.get_or_none(f"/apis/apps/v1/namespaces/{other}/deployments/locus-codeserver-hello")

    import psycopg

    def registered() -> bool:
        with psycopg.connect(database.url) as conn:
            row = conn.execute("SELECT status FROM code_locations WHERE name = 'hello'").fetchone()
        return row is not None and row[0] == "LOADED"

    cluster.api.wait_for(registered, timeout=15, what="hello registered in data-platform's Instance")
