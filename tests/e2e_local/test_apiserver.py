"""The local harness's API server behaves like a real one for kubectl, kopf and
plain HTTP clients: it runs as a subprocess, kubectl applies the CRDs and the
samples and prints their columns, invalid resources are refused naming the
field, and writes, watches and deletions follow Kubernetes' rules."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import yaml
from e2e.local.apiserver import Cluster, LocalApiServer, LocalKubernetes, start_in_thread

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
SAMPLES = ROOT / "examples" / "k8s"
SHARED_SAMPLE = Path("/work/shared/examples/k8s/codelocation.yaml")
CODE_LOCATIONS = "/apis/locus.dev/v1alpha1/namespaces/{ns}/codelocations"
CONFIGMAPS = "/api/v1/namespaces/{ns}/configmaps"
DEPLOYMENTS = "/apis/apps/v1/namespaces/{ns}/deployments"


class ApiServerProcess(Protocol):
    """What the ``module_apiserver`` fixture of conftest.py yields."""

    url: str
    kubeconfig: Path

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        ...


@pytest.fixture(scope="module")
def server(module_apiserver: ApiServerProcess) -> ApiServerProcess:
    module_apiserver.kubectl("apply", "-f", str(CRDS))
    return module_apiserver


@pytest.fixture(scope="module")
def http(server: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def ns() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def code_location(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "locus.dev/v1alpha1", "kind": "CodeLocation", "metadata": {"name": name},
            "spec": {"image": "registry.example.com/app:1", "module": "app", **spec}}


def configmap(name: str, labels: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}, **meta},
            "data": {"key": "value"}}


def deployment(name: str) -> dict[str, Any]:
    container = {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


def create(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def merge_patch(http: httpx.Client, path: str, patch: Any, content_type: str = "application/merge-patch+json",
                status: int = 200) -> dict[str, Any]:
    response = http.patch(path, content=json.dumps(patch), headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


# kubectl
def test_kubectl_applies_the_samples_and_prints_the_printer_columns(server: ApiServerProcess,
                                                                      http: httpx.Client) -> None:
    sample = SHARED_SAMPLE if SHARED_SAMPLE.exists() else SAMPLES / "codelocation.yaml"
    server.kubectl("apply", "-f", str(sample))
    server.kubectl("apply", "-f", str(SAMPLES))
    status = {"conditions": [{"type": "Ready", "status": "True"}], "image": "numbers:1.4.2",
              "definitions": {"assets": 3, "jobs": 2}}
    merge_patch(http, CODE_LOCATIONS.format(ns="data-platform") + "/numbers/status", {"status": status})

    lines = server.kubectl("get", "codelocations", "-A").stdout.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "READY", "IMAGE", "ASSETS", "JOBS", "AGE"]
    assert lines[1].split()[:6] == ["data-platform", "numbers", "True", "numbers:1.4.2", "3", "2"]
    assert "ERROR" in server.kubectl("get", "cl", "-A", "-o", "wide").stdout
    assert "numbers" in server.kubectl("get", "cl", "-n", "data-platform").stdout
    by_category = server.kubectl("get", "locus", "-A").stdout
    assert "codelocation.locus.dev/numbers" in by_category and "instance.locus.dev/default" in by_category
    port = server.kubectl("get", "cl", "numbers", "-n", "data-platform", "-o", "jsonpath={.spec.port}").stdout
    assert port == "4000"  # the CRD's default


INVALID = [
    ("no image", {"image": None}, "spec.image: Required value"),
    ("module and pythonFile", {"pythonFile": "defs.py"}, "exactly one of spec.module, spec.pythonFile"),
    ("negative replicas", {"replicas": -1}, "spec.replicas"),
]


@pytest.mark.parametrize(("problem", "change", "message"), INVALID, ids=[case[0] for case in INVALID])
def test_kubectl_refuses_an_invalid_code_location_naming_the_field(
        server: ApiServerProcess, ns: str, problem: str, change: dict[str, Any], message: str) -> None:
    cr = code_location("broken", **change)
    cr["metadata"]["namespace"] = ns
    cr["spec"] = {k: v for k, v in cr["spec"].items() if v is not None}
    result = server.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(cr), check=False)
    assert result.returncode != 0
    assert 'The CodeLocation "broken" is invalid' in result.stderr and message in result.stderr


def test_kubectl_applies_gets_and_deletes_a_configmap(server: ApiServerProcess, ns: str) -> None:
    manifest = yaml.safe_dump({**configmap("settings"), "metadata": {"name": "settings", "namespace": ns}})
    server.kubectl("apply", "-f", "-", stdin=manifest)
    assert "settings" in server.kubectl("get", "configmap", "-n", ns).stdout
    server.kubectl("apply", "-f", "-", stdin=manifest.replace("value", "changed"))
    got = json.loads(server.kubectl("get", "configmap", "settings", "-n", ns, "-o", "json").stdout)
    assert got["data"] == {"key": "changed"}
    server.kubectl("delete", "configmap", "settings", "-n", ns)
    assert "settings" not in server.kubectl("get", "configmaps", "-n", ns).stdout


# Metadata, errors and updates
def test_create_sets_the_server_side_metadata(http: httpx.Client, ns: str) -> None:
    first = create(http, CONFIGMAPS.format(ns=ns), configmap("first"))
    second = create(http, CONFIGMAPS.format(ns=ns), configmap("", generateName="gen-"))
    meta = first["metadata"]
    assert meta["namespace"] == ns and meta["generation"] == 1 and len(meta["uid"]) == 36
    assert meta["creationTimestamp"].endswith("Z")
    assert int(second["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    assert second["metadata"]["name"].startswith("gen-") and len(second["metadata"]["name"]) == 9
    assert http.get(f"/api/v1/namespaces/{ns}").json()["status"]["phase"] == "Active"  # created on first use


def test_errors_are_kubernetes_status_objects(http: httpx.Client, ns: str) -> None:
    missing = http.get(CONFIGMAPS.format(ns=ns) + "/nothing")
    assert missing.status_code == 404
    assert missing.json() | {"details": None} == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 404,
        "reason": "NotFound", "message": 'configmaps "nothing" not found', "details": None}
    create(http, CONFIGMAPS.format(ns=ns), configmap("twice"))
    again = http.post(CONFIGMAPS.format(ns=ns), json=configmap("twice"))
    assert (again.status_code, again.json()["reason"]) == (409, "AlreadyExists")
    bad_name = http.post(CONFIGMAPS.format(ns=ns), json=configmap("Not_A_Name"))
    assert (bad_name.status_code, bad_name.json()["details"]["causes"][0]["field"]) == (422, "metadata.name")


def test_generation_grows_on_spec_changes_only(http: httpx.Client, ns: str) -> None:
    path = CODE_LOCATIONS.format(ns=ns)
    create(http, path, code_location("gen"))
    assert merge_patch(http, f"{path}/gen", {"metadata": {"labels": {"a": "b"}}})["metadata"]["generation"] == 1
    assert merge_patch(http, f"{path}/gen/status", {"status": {"image": "x"}})["metadata"]["generation"] == 1
    assert merge_patch(http, f"{path}/gen", {"spec": {"replicas": 2}})["metadata"]["generation"] == 2
    unchanged = merge_patch(http, f"{path}/gen", {"spec": {"replicas": 2}})
    assert unchanged["metadata"]["generation"] == 2
    assert unchanged["metadata"]["resourceVersion"] == http.get(f"{path}/gen").json()["metadata"]["resourceVersion"]


def test_status_is_written_through_the_status_subresource_only(http: httpx.Client, ns: str) -> None:
    path = CODE_LOCATIONS.format(ns=ns)
    create(http, path, code_location("split"))
    main = merge_patch(http, f"{path}/split", {"spec": {"replicas": 3}, "status": {"image": "ignored"}})
    assert "image" not in main.get("status", {})
    status = merge_patch(http, f"{path}/split/status", {"spec": {"replicas": 9}, "status": {"image": "kept"}})
    assert status["status"]["image"] == "kept" and status["spec"]["replicas"] == 3
    created_with_status = create(http, path, {**code_location("born"), "status": {"image": "dropped"}})
    assert "status" not in created_with_status


def test_put_with_a_stale_resource_version_conflicts(http: httpx.Client, ns: str) -> None:
    path = CONFIGMAPS.format(ns=ns)
    stale = create(http, path, configmap("cas"))
    merge_patch(http, f"{path}/cas", {"data": {"key": "newer"}})
    response = http.put(f"{path}/cas", json={**stale, "data": {"key": "older"}})
    assert (response.status_code, response.json()["reason"]) == (409, "Conflict")
    fresh = http.get(f"{path}/cas").json()
    assert http.put(f"{path}/cas", json={**fresh, "data": {"key": "latest"}}).json()["data"] == {"key": "latest"}


def test_patches_merge_like_the_real_server(http: httpx.Client, ns: str) -> None:
    path = DEPLOYMENTS.format(ns=ns)
    create(http, path, deployment("web"))
    containers = [{"name": "app", "env": [{"name": "B", "value": "2"}]}, {"name": "sidecar", "image": "proxy:1"}]
    strategic = {"spec": {"template": {"spec": {"containers": containers, "$setElementOrder/containers": []}}}}
    patched = merge_patch(http, f"{path}/web", strategic, "application/strategic-merge-patch+json")
    app, sidecar = patched["spec"]["template"]["spec"]["containers"]
    assert (app["image"], [e["name"] for e in app["env"]], sidecar["name"]) == ("app:1", ["A", "B"], "sidecar")
    patched = merge_patch(http, f"{path}/web", [{"op": "replace", "path": "/spec/replicas", "value": 4}],
                          "application/json-patch+json")
    assert patched["spec"]["replicas"] == 4
    patched = merge_patch(http, f"{path}/web", {"spec": {"template": {"spec": {"containers": [{"name": "only"}]}}}})
    assert [c["name"] for c in patched["spec"]["template"]["spec"]["containers"]] == ["only"]  # lists replaced
    patched = merge_patch(http, f"{path}/web", {"metadata": {"labels": {"x": "1"}}, "spec": {"paused": None}})
    assert "paused" not in patched["spec"] and patched["metadata"]["labels"] == {"x": "1"}


def test_label_and_field_selectors_filter_lists(http: httpx.Client, ns: str) -> None:
    path = CONFIGMAPS.format(ns=ns)
    for name, labels in (("a", {"tier": "web", "env": "prod"}), ("b", {"tier": "db"}), ("c", {})):
        create(http, path, configmap(name, labels))

    def names(**params: str) -> list[str]:
        body = http.get(path, params=params).json()
        assert body["kind"] == "ConfigMapList" and body["metadata"]["resourceVersion"]
        return [item["metadata"]["name"] for item in body["items"]]

    assert names(labelSelector="tier=web") == ["a"]
    assert names(labelSelector="tier!=web") == ["b", "c"]
    assert names(labelSelector="tier in (web,db),!env") == ["b"]
    assert names(labelSelector="tier notin (web)") == ["b", "c"]
    assert names(labelSelector="tier") == ["a", "b"]
    assert names(fieldSelector="metadata.name=c") == ["c"]
    assert names(limit="2") == ["a", "b"]


# Deletion
def test_deleting_an_owner_collects_its_dependents(http: httpx.Client, ns: str) -> None:
    owner = create(http, CODE_LOCATIONS.format(ns=ns), code_location("owner"))
    other = create(http, CONFIGMAPS.format(ns=ns), configmap("other-owner"))

    def ref(obj: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
                "uid": obj["metadata"]["uid"]}

    create(http, DEPLOYMENTS.format(ns=ns), {**deployment("child"), "metadata": {
        "name": "child", "ownerReferences": [ref(owner)]}})
    create(http, CONFIGMAPS.format(ns=ns), configmap("shared", ownerReferences=[ref(owner), ref(other)]))
    assert http.delete(CODE_LOCATIONS.format(ns=ns) + "/owner").status_code == 200
    assert http.get(DEPLOYMENTS.format(ns=ns) + "/child").status_code == 404
    shared = http.get(CONFIGMAPS.format(ns=ns) + "/shared").json()
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["other-owner"]


def test_finalizers_hold_an_object_until_they_are_removed(http: httpx.Client, ns: str) -> None:
    path = CONFIGMAPS.format(ns=ns)
    create(http, path, configmap("held", finalizers=["example.com/hold"]))
    deleting = http.delete(f"{path}/held").json()
    assert deleting["metadata"]["deletionTimestamp"]
    assert http.get(f"{path}/held").status_code == 200
    merge_patch(http, f"{path}/held", {"metadata": {"finalizers": None}})
    assert http.get(f"{path}/held").status_code == 404


def test_a_running_pod_terminates_gracefully_until_its_kubelet_deletes_it(http: httpx.Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "run"},
           "spec": {"terminationGracePeriodSeconds": 5, "containers": [{"name": "app", "image": "x"}]}}
    create(http, path, pod)
    merge_patch(http, f"{path}/run/status", {"status": {"phase": "Running", "hostIP": "127.0.0.1"}})
    terminating = http.delete(f"{path}/run").json()["metadata"]
    assert terminating["deletionTimestamp"] and terminating["deletionGracePeriodSeconds"] == 5
    merge_patch(http, f"{path}/run/status", {"status": {"phase": "Succeeded"}})  # the kubelet reports the end
    assert http.get(f"{path}/run").status_code == 200
    http.delete(f"{path}/run", params={"gracePeriodSeconds": "0"})  # the kubelet has stopped it
    assert http.get(f"{path}/run").status_code == 404
    create(http, path, {**pod, "metadata": {"name": "never-ran"}})
    http.delete(f"{path}/never-ran")
    assert http.get(f"{path}/never-ran").status_code == 404  # no kubelet took it: no grace period


def test_deletecollection_deletes_what_the_selector_picks(http: httpx.Client, ns: str) -> None:
    path = CONFIGMAPS.format(ns=ns)
    for name, run in (("r1", "1"), ("r2", "1"), ("r3", "2")):
        create(http, path, configmap(name, {"run": run}))
    assert http.delete(path, params={"labelSelector": "run=1"}).status_code == 200
    assert [i["metadata"]["name"] for i in http.get(path).json()["items"]] == ["r3"]


# Watching
def watch_events(http: httpx.Client, path: str, count: int | None = None, **params: str) -> list[dict[str, Any]]:
    """The events of a watch: the first ``count`` ones, or all until the server ends it (1 s)."""
    events = []
    with http.stream("GET", path, params={"watch": "true", "timeoutSeconds": "1", **params}) as response:
        for line in response.iter_lines():
            events += [json.loads(line)] if line else []
            if len(events) == count:
                break
    return events


def kinds_and_names(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


def test_watch_resumes_from_a_resource_version(http: httpx.Client, ns: str) -> None:
    path = CONFIGMAPS.format(ns=ns)
    create(http, path, configmap("before"))
    since = http.get(path).json()["metadata"]["resourceVersion"]
    create(http, path, configmap("after", {"pick": "yes"}))
    merge_patch(http, f"{path}/before", {"data": {"key": "changed"}})
    merge_patch(http, f"{path}/after", {"metadata": {"labels": {"pick": "no"}}})
    http.delete(f"{path}/before")
    resumed = watch_events(http, path, count=4, resourceVersion=since)
    assert kinds_and_names(resumed) == [
        ("ADDED", "after"), ("MODIFIED", "before"), ("MODIFIED", "after"), ("DELETED", "before")]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in resumed]
    assert versions == sorted(versions) and versions[0] > int(since)
    assert kinds_and_names(watch_events(http, path, resourceVersion=since, labelSelector="pick=yes")) == [
        ("ADDED", "after"), ("DELETED", "after")]  # it stopped matching, and nothing else came within 1 s
    assert kinds_and_names(watch_events(http, path, count=1)) == [("ADDED", "after")]  # current objects first


def test_watch_from_a_forgotten_version_answers_410_gone() -> None:
    async def watch_from_the_start() -> dict[str, Any]:
        handler = LocalKubernetes(cluster=Cluster(store_log_size=3))
        async with LocalApiServer.running(handler=handler) as server, httpx.AsyncClient(base_url=server.url) as client:
            for i in range(5):
                await client.post(CONFIGMAPS.format(ns="x"), json=configmap(f"c{i}"))
            params = {"watch": "true", "resourceVersion": "1"}
            async with client.stream("GET", CONFIGMAPS.format(ns="x"), params=params) as response:
                event: dict[str, Any] = json.loads(await anext(response.aiter_lines()))
                return event

    event = asyncio.run(watch_from_the_start())
    assert event["type"] == "ERROR", event
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")


# Discovery, services, logs
def test_discovery_describes_core_and_custom_resources(http: httpx.Client) -> None:
    core = http.get("/api/v1").json()
    assert core["groupVersion"] == "v1"
    pods = {r["name"]: r for r in core["resources"]}
    assert pods["namespaces"]["namespaced"] is False and "pods/status" in pods and "pods/log" in pods
    custom = {r["name"]: r for r in http.get("/apis/locus.dev/v1alpha1").json()["resources"]}
    assert custom["codelocations"]["shortNames"] == ["cl", "codeloc"]
    assert custom["codelocations"]["categories"] == ["locus"] and "codelocations/status" in custom
    crd = http.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/codelocations.locus.dev").json()
    assert {c["type"]: c["status"] for c in crd["status"]["conditions"]} == {"NamesAccepted": "True",
                                                                           "Established": "True"}


def test_services_get_a_cluster_ip_of_the_harness(http: httpx.Client, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
            "spec": {"selector": {"app": "x"}, "ports": [{"port": 4000}]}}
    service = create(http, f"/api/v1/namespaces/{ns}/services", body)
    assert service["spec"]["clusterIP"].startswith("127.1.") and service["spec"]["ports"][0]["targetPort"] == 4000


def test_pod_log_is_read_from_the_file_the_kubelet_names(http: httpx.Client, ns: str, tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    log_file.write_text("one\ntwo\nthree\n")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {
        "local.locus.dev/log-path": str(log_file)}}, "spec": {"containers": [{"name": "app", "image": "x"}]}}
    create(http, f"/api/v1/namespaces/{ns}/pods", pod)
    assert http.get(f"/api/v1/namespaces/{ns}/pods/p/log").text == "one\ntwo\nthree\n"
    assert http.get(f"/api/v1/namespaces/{ns}/pods/p/log", params={"tailLines": "1"}).text == "three\n"
    (tmp_path / "app.previous.log").write_text("the run before\n")
    assert http.get(f"/api/v1/namespaces/{ns}/pods/p/log", params={"previous": "true"}).text == "the run before\n"


def test_create_and_get_take_milliseconds(http: httpx.Client, ns: str) -> None:
    """200 validated custom resources, each created and read back; the median of the round trips
    (a median, so that a busy machine's scheduling hiccups do not decide the outcome)."""
    path, timings = CODE_LOCATIONS.format(ns=ns), []
    for i in range(200):
        started = time.perf_counter()
        create(http, path, code_location(f"loc-{i}"))
        created = time.perf_counter()
        assert http.get(f"{path}/loc-{i}").status_code == 200
        timings += [created - started, time.perf_counter() - created]
    median = statistics.median(timings)
    assert median < 0.005, f"{median * 1000:.2f} ms per request"


# Clients: kopf and the in-process API
OPERATOR = textwrap.dedent("""
    import kopf

    @kopf.on.startup()
    def configure(settings, **_):
        settings.watching.server_timeout = 5

    @kopf.on.create("locus.dev", "v1alpha1", "codelocations")
    def created(patch, **_):
        patch.status["image"] = "seen-by-kopf"
""")


def test_kopf_lists_watches_and_patches(server: ApiServerProcess, http: httpx.Client, ns: str,
                                        tmp_path: Path) -> None:
    path = CODE_LOCATIONS.format(ns=ns)
    create(http, path, code_location("early"))  # listed at startup
    operator = tmp_path / "operator.py"
    operator.write_text(OPERATOR)
    command = [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", ns, str(operator)]
    env = {"KUBECONFIG": str(server.kubeconfig), "PATH": "/usr/bin:/bin"}
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as kopf:
        try:
            create(http, path, code_location("late"))  # seen through the watch
            seen = _wait_for_status(http, path, {"early", "late"}, "seen-by-kopf", timeout=20)
        finally:
            kopf.terminate()
            _, stderr = kopf.communicate(timeout=10)
    assert seen == {"early", "late"}, stderr.decode()[-2000:]


def _wait_for_status(http: httpx.Client, path: str, names: set[str], image: str, timeout: float) -> set[str]:
    """Watch (not poll) until every named object carries the status image, or the timeout passes."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while seen != names and time.monotonic() < deadline:
        params = {"watch": "true", "timeoutSeconds": str(max(1, int(deadline - time.monotonic())))}
        with http.stream("GET", path, params=params) as response:
            for line in response.iter_lines():
                obj = json.loads(line)["object"] if line else {}
                if obj.get("status", {}).get("image") == image:
                    seen.add(obj["metadata"]["name"])
                if seen == names:
                    break
    return seen


def test_in_process_servers_serve_the_same_api(tmp_path: Path) -> None:
    url, stop = start_in_thread(kubeconfig=tmp_path / "kubeconfig")
    try:
        assert httpx.post(f"{url}{CONFIGMAPS.format(ns='x')}", json=configmap("a")).status_code == 201
        assert yaml.safe_load((tmp_path / "kubeconfig").read_text())["clusters"][0]["cluster"]["server"] == url
    finally:
        stop()

    async def roundtrip() -> int:
        async with LocalApiServer.running() as server, httpx.AsyncClient(base_url=server.url) as client:
            await client.post(CONFIGMAPS.format(ns="y"), json=configmap("b"))
            return (await client.get(CONFIGMAPS.format(ns="y") + "/b")).status_code

    assert asyncio.run(roundtrip()) == 200
