"""The local cluster's kubelet, controllers and Service proxy.

Pure rules first (env, paths, selectors, rollout decisions), then the real
thing: an API server and a kubelet as subprocesses (one per module), with
pods that are local Python processes.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import os
import sys
from pathlib import Path
from typing import Any

import cluster_fixtures
import httpx
import pytest
from e2e.local._kubelet_env import (
    ContainerConfigError,
    PathMap,
    PodNetwork,
    build_argv,
    expand,
    resolve_container_env,
    rewrite_any_address,
)
from e2e.local._kubelet_rollout import PodView, deployment_status, max_surge_unavailable, plan_rollout
from e2e.local._kubelet_util import (
    int_or_percent,
    map_selector_matches,
    memory_bytes,
    selector_matches,
    template_hash,
)
from e2e.local.cluster import LocalCluster
from e2e.local.images import ImageEnv, ImageTable, load_images, write_images
from e2e.local.kubelet import IpAllocator

# The harness's fixtures (tests/e2e_local/cluster_fixtures.py), exposed to this module.
local_cluster_images = cluster_fixtures.local_cluster_images
local_cluster = cluster_fixtures.local_cluster
cluster_namespace = cluster_fixtures.cluster_namespace
PYTHON_IMAGE = cluster_fixtures.PYTHON_IMAGE

# ---------------------------------------------------------------------------- pure rules


def test_expansion_follows_kubernetes() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)", env.get) == "1-two"
    assert expand("$$(A)", env.get) == "$(A)"  # escaped
    assert expand("$(MISSING)", env.get) == "$(MISSING)"  # unknown stays
    assert expand("$(A", env.get) == "$(A"  # unterminated
    assert expand("cost $5 $", env.get) == "cost $5 $"


def test_path_map_longest_prefix_at_path_boundaries() -> None:
    paths = PathMap({"/opt/app": "/local/app", "/opt/app/data": "/local/data", "/etc/cfg/x.yaml": "/vol/x.yaml"})
    assert paths.rewrite("/opt/app") == "/local/app"
    assert paths.rewrite("/opt/app/main.py") == "/local/app/main.py"
    assert paths.rewrite("/opt/app/data/f.csv") == "/local/data/f.csv"
    assert paths.rewrite("/opt/application") == "/opt/application"  # not a boundary
    assert paths.rewrite("--config=/etc/cfg/x.yaml") == "--config=/vol/x.yaml"
    assert paths.rewrite("/opt/app:/usr/lib") == "/local/app:/usr/lib"
    assert paths.rewrite("relative/opt/app") == "relative/opt/app"
    assert paths.rewrite("http://h/opt/app") == "http://h/opt/app"
    assert paths.map_path("/nowhere") is None
    on_host = {"/tmp/pytest-of-me", "/tmp/pytest-of-me/run"}
    tmp = PathMap({"/tmp": "/pod/tmp"}, host_exists=on_host.__contains__)
    assert tmp.rewrite("/tmp") == "/pod/tmp"
    assert tmp.rewrite("/tmp/scratch.txt") == "/pod/tmp/scratch.txt"
    assert tmp.rewrite("/tmp/work/a") == "/pod/tmp/work/a"
    assert tmp.rewrite("/tmp/pytest-of-me/run/data.db") == "/tmp/pytest-of-me/run/data.db"  # a host path


def test_any_address_becomes_the_pod_ip() -> None:
    assert rewrite_any_address("0.0.0.0", "127.0.1.7") == "127.0.1.7"
    assert rewrite_any_address("--bind=0.0.0.0:4000", "127.0.1.7") == "--bind=127.0.1.7:4000"
    assert rewrite_any_address("10.0.0.0/8", "127.0.1.7") == "10.0.0.0/8"
    assert rewrite_any_address("[::]:50051", "127.0.1.7") == "127.0.1.7:50051"


class FakeLookups:
    def __init__(self, configmaps: dict[str, Any], secrets: dict[str, Any]) -> None:
        self.configmaps, self.secrets = configmaps, secrets

    async def configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.configmaps.get(name)

    async def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.secrets.get(name)


POD = {"metadata": {"name": "p1", "namespace": "ns", "uid": "u-1", "labels": {"app": "web"},
                    "annotations": {"team": "data"}},
       "spec": {"serviceAccountName": "runner"}}


def test_env_resolution_order_and_sources() -> None:
    lookups = FakeLookups(
        configmaps={"cm": {"data": {"MODE": "fast", "LEVEL": "3"}}},
        secrets={"db": {"data": {"password": base64.b64encode(b"s3cret").decode()}}},
    )
    container = {
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
        "env": [
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "TEAM", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['team']"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "LEVEL"}}},
            {"name": "URL", "value": "http://$(IP):80/$(POD)?mode=$(CM_MODE)&x=$(LATER)"},
            {"name": "LATER", "value": "late"},
            {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": True}}},
        ],
    }
    env = asyncio.run(resolve_container_env(POD, container, PodNetwork("127.0.1.9"), lookups))
    assert env["CM_MODE"] == "fast" and env["CM_LEVEL"] == "3"
    assert (env["POD"], env["APP"], env["TEAM"], env["IP"], env["SA"]) == ("p1", "web", "data", "127.0.1.9", "runner")
    assert env["PASSWORD"] == "s3cret" and env["LEVEL"] == "3"
    assert env["URL"] == "http://127.0.1.9:80/p1?mode=fast&x=$(LATER)"  # only earlier variables expand
    assert "OPT" not in env
    missing = {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": "absent"}}}]}
    with pytest.raises(ContainerConfigError, match="couldn't find key absent"):
        asyncio.run(resolve_container_env(POD, missing, PodNetwork("127.0.1.9"), lookups))


def test_command_and_args_override_entrypoint_and_cmd() -> None:
    env = {"N": "3"}
    assert build_argv({"command": ["run", "$(N)"]}, ["ep"], ["cmd"], env) == ["run", "3"]
    assert build_argv({"args": ["--n=$(N)"]}, ["ep"], ["cmd"], env) == ["ep", "--n=3"]
    assert build_argv({}, ["ep"], ["cmd"], env) == ["ep", "cmd"]
    assert build_argv({"command": ["only"]}, ["ep"], ["cmd"], env) == ["only"]


def test_selectors() -> None:
    labels = {"app": "web", "tier": "front"}
    assert selector_matches({"matchLabels": {"app": "web"}}, labels)
    assert not selector_matches({"matchLabels": {"app": "db"}}, labels)
    assert selector_matches({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]},
                                                  {"key": "gone", "operator": "DoesNotExist"}]}, labels)
    assert not selector_matches({"matchExpressions": [{"key": "tier", "operator": "NotIn",
                                                       "values": ["front"]}]}, labels)
    assert selector_matches({}, labels) and not selector_matches(None, labels)
    assert map_selector_matches({"app": "web"}, labels)
    assert not map_selector_matches({}, labels)  # a Service without selector selects nothing


def test_quantities_and_percentages() -> None:
    assert memory_bytes("50Mi") == 50 * 2**20
    assert memory_bytes("1G") == 10**9
    assert memory_bytes("129e6") == 129_000_000
    assert memory_bytes(1024) == 1024
    assert int_or_percent("25%", 3, "25%", round_up=True) == 1
    assert int_or_percent("25%", 3, "25%", round_up=False) == 0
    assert int_or_percent(2, 3, "25%", round_up=True) == 2
    assert max_surge_unavailable({}, 1) == (1, 0)
    assert max_surge_unavailable({"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}, 4) == (0, 1)
    assert template_hash({"a": 1}) == template_hash({"a": 1}) != template_hash({"a": 2})
    assert len(template_hash({"a": 1})) == 10


def pv(name: str, new: bool, ready: bool, terminating: bool = False) -> PodView:
    return PodView(name, new=new, ready=ready, available=ready, created=name, terminating=terminating)


def test_rollout_keeps_old_pods_while_the_new_revision_is_not_ready() -> None:
    surge, unavailable = max_surge_unavailable({}, 1)
    # The template changed: one new pod is created beside the old one...
    plan = plan_rollout("RollingUpdate", 1, surge, unavailable, [pv("old", False, True)])
    assert (plan.create, plan.delete) == (1, [])
    # ...which never becomes ready: the old pod stays.
    plan = plan_rollout("RollingUpdate", 1, surge, unavailable, [pv("old", False, True), pv("new", True, False)])
    assert (plan.create, plan.delete) == (0, [])
    # Once it is ready, the old one goes.
    plan = plan_rollout("RollingUpdate", 1, surge, unavailable, [pv("old", False, True), pv("new", True, True)])
    assert (plan.create, plan.delete) == (0, ["old"])


def test_rollout_surge_unhealthy_first_scaling_and_recreate() -> None:
    old = [pv(f"o{i}", False, True) for i in range(4)]
    surge, unavailable = max_surge_unavailable({}, 4)  # 25% -> surge 1, unavailable 1
    plan = plan_rollout("RollingUpdate", 4, surge, unavailable, old)
    assert plan.create == 1 and len(plan.delete) == 1  # one up, one down: 3 stay available
    plan = plan_rollout("RollingUpdate", 2, 1, 1, [pv("o1", False, False), pv("o2", False, True)])
    assert plan.create == 1 and plan.delete == ["o1"]  # the unready old pod is cleaned up first, o2 serves
    assert plan_rollout("RollingUpdate", 3, 1, 0, [pv("n1", True, True)]).create == 2
    scale_down = plan_rollout("RollingUpdate", 1, 1, 0, [pv("n1", True, True), pv("n2", True, False)])
    assert scale_down.delete == ["n2"]  # the unready one goes first
    recreate = plan_rollout("Recreate", 2, 0, 0, [pv("o1", False, True), pv("o2", False, False, terminating=True)])
    assert (recreate.create, recreate.delete) == (0, ["o1"])
    waiting = plan_rollout("Recreate", 2, 0, 0, [pv("o2", False, False, terminating=True)])
    assert (waiting.create, waiting.delete) == (0, [])
    assert plan_rollout("Recreate", 2, 0, 0, []).create == 2


def test_deployment_status_and_progress_deadline() -> None:
    start = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    deployment: dict[str, Any] = {"metadata": {"generation": 2},
                                  "spec": {"replicas": 1, "progressDeadlineSeconds": 600}}
    pods = [pv("old", False, True), pv("new", True, False)]
    status, until = deployment_status(deployment, pods, "d-abc", deadline_cap=10, now=start)
    assert status["observedGeneration"] == 2 and status["updatedReplicas"] == 1 and status["availableReplicas"] == 1
    assert {c["type"]: c["reason"] for c in status["conditions"]} == {
        "Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetCreated"}
    assert until == 10  # the cap, not 600 s
    deployment["status"] = status
    later, until = deployment_status(deployment, pods, "d-abc", deadline_cap=10,
                                     now=start + datetime.timedelta(seconds=11))
    progressing = next(c for c in later["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    done, _ = deployment_status(deployment, [pv("new", True, True)], "d-abc", 10, start)
    assert next(c for c in done["conditions"] if c["type"] == "Progressing")["reason"] == "NewReplicaSetAvailable"


def test_image_table_exact_before_glob(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    write_images(path, {
        "registry.example.com/data/*": ImageEnv(bin="/g"),
        "registry.example.com/data/numbers:1": ImageEnv(bin="/exact", paths={"/opt/app": "/x"}, env={"A": "1"}),
    })
    table = ImageTable.from_file(path)
    assert table.lookup("registry.example.com/data/numbers:1").bin == "/exact"  # type: ignore[union-attr]
    assert table.lookup("registry.example.com/data/other:2").bin == "/g"  # type: ignore[union-attr]
    assert table.lookup("docker.io/library/python:3") is None
    assert load_images(path)["registry.example.com/data/numbers:1"].paths == {"/opt/app": "/x"}


def test_ip_allocator_unique_and_reused_after_release() -> None:
    ips = IpAllocator()
    first, second = ips.allocate("a"), ips.allocate("b")
    assert (first, second) == ("127.0.1.1", "127.0.1.2")
    assert ips.allocate("a") == first
    ips.release("a")
    assert ips.allocate("c", preferred="127.0.1.1") == "127.0.1.1"
    assert len({ips.allocate(str(i)) for i in range(300)}) == 300
    assert IpAllocator("127.0.9.254").allocate("x") == "127.0.9.254"
    with pytest.raises(ValueError):
        IpAllocator("10.0.0.1")


def test_probe_checks_against_real_servers() -> None:
    import grpc
    from e2e.local import _kubelet_probes as probes
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    async def scenario() -> None:
        server = grpc.aio.server()
        servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        await servicer.set("locus", health_pb2.HealthCheckResponse.SERVING)
        await servicer.set("down", health_pb2.HealthCheckResponse.NOT_SERVING)
        kept = probes.GrpcCheck("127.0.0.1", port, "", 1)  # one channel across checks, as the kubelet does
        try:
            assert await probes.check_grpc("127.0.0.1", port, "", 2)
            assert await probes.check_grpc("127.0.0.1", port, "locus", 2)
            assert not await probes.check_grpc("127.0.0.1", port, "down", 2)
            assert await probes.check_tcp("127.0.0.1", port, 1)
            assert await kept()
        finally:
            await server.stop(None)
        assert not await probes.check_tcp("127.0.0.1", port, 1)
        assert not await probes.check_grpc("127.0.0.1", port, "", 1)
        assert not await kept()
        server = grpc.aio.server()  # the server comes back on the same port: the kept channel redials
        health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        deadline = asyncio.get_running_loop().time() + 5
        while not await kept():
            assert asyncio.get_running_loop().time() < deadline, "the kept gRPC channel did not reconnect"
            await asyncio.sleep(0.1)
        await kept.close()
        await server.stop(None)

        from aiohttp import ClientSession, web

        app = web.Application()
        async def ok(_: web.Request) -> web.Response:
            return web.Response(text="ok")

        async def bad(_: web.Request) -> web.Response:
            return web.Response(status=500)

        app.router.add_get("/ok", ok)
        app.router.add_get("/bad", bad)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        http_port = runner.addresses[0][1]
        async with ClientSession() as session:
            container = {"name": "c", "ports": [{"name": "http", "containerPort": http_port}]}
            assert await probes.check_http(session, {"path": "/ok"}, "127.0.0.1",
                                           probes.container_port("http", container), 1)
            assert not await probes.check_http(session, {"path": "/bad"}, "127.0.0.1", http_port, 1)
        await runner.cleanup()

        flips: list[bool] = []
        results = [False, True, True, False, False, False]

        class Done(Exception):
            pass

        async def check() -> bool:
            if not results:
                raise Done
            return results.pop(0)

        with pytest.raises(Done):  # the check ran out of scripted answers
            await probes.run_probe({"successThreshold": 2, "failureThreshold": 3, "periodSeconds": 30}, check,
                                   probes.ProbeTiming(period_cap=0.01, delay_cap=0), flips.append)
        assert flips == [True, False]

    asyncio.run(scenario())


def test_wildcard_binds_of_python_servers_become_the_pod_ip(tmp_path: Path) -> None:
    import subprocess

    from e2e.local import _kubelet_netns

    site = _kubelet_netns.install(str(tmp_path / "site"))
    code = """if True:
        import asyncio, socket
        s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[0])
        s6 = socket.socket(socket.AF_INET6); s6.bind(("::", 8000)); print(s6.getsockname()[:2] != ("::", 8000))
        async def main():
            server = await asyncio.start_server(lambda r, w: None, None, 0)
            print(sorted({sock.getsockname()[0] for sock in server.sockets}))  # IPv4: the pod IP; IPv6: any port
        asyncio.run(main())
    """
    env = {**os.environ, "PYTHONPATH": site, _kubelet_netns.ENV: "127.0.3.3"}
    output = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert output.split("\n")[:3] == ["127.0.3.3", "True", "['127.0.3.3', '::']"]


# ---------------------------------------------------------------------------- the local cluster

PY = sys.executable


def deployment(name: str, command: list[str], image: str = PYTHON_IMAGE, **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "main", "image": image, "command": command,
                                                       **container}]}}},
    }


def http_server(name: str, bind: bool = True) -> dict[str, Any]:
    """``python -m http.server 8000``, listening on ``--bind 0.0.0.0`` (rewritten to the pod IP) or, without
    ``bind``, on its default wildcard address (made the pod IP by the kubelet's sitecustomize)."""
    return deployment(name, ["python", "-m", "http.server", "8000", *(["--bind", "0.0.0.0"] if bind else [])],
                      ports=[{"name": "http", "containerPort": 8000}],
                      readinessProbe={"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10})


def service(name: str, port: int = 18080) -> dict[str, Any]:  # unprivileged, and rarely taken
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": port, "targetPort": "http"}]}}


def job(name: str, code: str, backoff_limit: int = 0, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"backoffLimit": backoff_limit, **spec,
                     "template": {"spec": {"restartPolicy": "Never", "containers": [
                         {"name": "main", "image": PYTHON_IMAGE, "command": ["python", "-c", code]}]}}}}


def apps(ns: str) -> str:
    return f"/apis/apps/v1/namespaces/{ns}/deployments"


def jobs(ns: str) -> str:
    return f"/apis/batch/v1/namespaces/{ns}/jobs"


def pods(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods"


def wait_ready(cluster: LocalCluster, ns: str, name: str, timeout: float = 20) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        obj = cluster.api.get(f"{apps(ns)}/{name}")
        status = obj.get("status") or {}
        return obj if status.get("readyReplicas") == 1 and status.get("updatedReplicas") == 1 else None
    try:
        return cluster.api.wait_for(ready, timeout, what=f"deployment {name} ready")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{cluster.server_log()}") from exc


def job_condition(cluster: LocalCluster, ns: str, name: str, kind: str, timeout: float = 20) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for cond in (cluster.api.get(f"{jobs(ns)}/{name}").get("status") or {}).get("conditions") or []:
            if cond["type"] == kind and cond["status"] == "True":
                return dict(cond)
        return None
    try:
        return cluster.api.wait_for(find, timeout, what=f"job {name} {kind}")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{cluster.server_log()}") from exc


def is_ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_http_deployments_on_the_same_port_are_ready_behind_their_services(
        local_cluster: LocalCluster, cluster_namespace: str) -> None:
    api, ns = local_cluster.api, cluster_namespace
    for name in ("web-a", "web-b"):
        api.create(apps(ns), http_server(name, bind=name == "web-a"))
        api.create(f"/api/v1/namespaces/{ns}/services", service(name))
    for name in ("web-a", "web-b"):
        wait_ready(local_cluster, ns, name)
        ip = api.get(f"/api/v1/namespaces/{ns}/services/{name}")["spec"]["clusterIP"]
        assert ip.startswith("127.1.")
        assert httpx.get(f"http://{ip}:18080/", timeout=5).status_code == 200
    listed = api.list(pods(ns), label_selector={"app": "web-a"}) + api.list(pods(ns), label_selector="app=web-b")
    assert len({p["status"]["podIP"] for p in listed}) == 2  # each pod has its own IP, both on port 8000
    pod = listed[0]
    assert pod["metadata"]["name"].startswith("web-a-") and pod["metadata"]["labels"]["pod-template-hash"]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    assert {c["type"] for c in pod["status"]["conditions"]} >= {"PodScheduled", "Initialized", "ContainersReady",
                                                                "Ready"}
    assert pod["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    logs = local_cluster.kubectl("logs", "-n", ns, pod["metadata"]["name"]).stdout
    assert "GET / HTTP/1.1" in logs  # the readiness probe's requests, through `kubectl logs`


@pytest.mark.slow
def test_rolling_update_to_a_missing_image_keeps_the_old_pod_serving(
        local_cluster: LocalCluster, cluster_namespace: str) -> None:
    api, ns = local_cluster.api, cluster_namespace
    api.create(apps(ns), http_server("roll"))
    api.create(f"/api/v1/namespaces/{ns}/services", service("roll"))
    wait_ready(local_cluster, ns, "roll")
    (old,) = api.list(pods(ns), label_selector="app=roll")
    containers = api.get(f"{apps(ns)}/roll")["spec"]["template"]["spec"]["containers"]
    containers[0]["image"] = "registry.example.com/missing:2"
    api.patch(f"{apps(ns)}/roll", {"spec": {"template": {"spec": {"containers": containers}}}})

    def new_pod_backing_off() -> dict[str, Any] | None:
        for pod in api.list(pods(ns), label_selector="app=roll"):
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                if (status["state"].get("waiting") or {}).get("reason") == "ImagePullBackOff":
                    return pod
        return None

    new = api.wait_for(new_pod_backing_off, 15)
    waiting = new["status"]["containerStatuses"][0]["state"]["waiting"]
    assert new["status"]["phase"] == "Pending"
    assert waiting["message"] == 'Back-off pulling image "registry.example.com/missing:2"'
    assert is_ready(api.get(f"{pods(ns)}/{old['metadata']['name']}"))
    status = api.get(f"{apps(ns)}/roll")["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (2, 1, 1)
    ip = api.get(f"/api/v1/namespaces/{ns}/services/roll")["spec"]["clusterIP"]
    assert httpx.get(f"http://{ip}:18080/", timeout=5).status_code == 200  # still served by the old pod
    events = api.list(f"/api/v1/namespaces/{ns}/events")
    assert any(e["reason"] == "Failed" and "image not found in the local image table" in e["message"]
               for e in events)


def test_jobs_complete_or_fail_with_backoff_limit(local_cluster: LocalCluster, cluster_namespace: str) -> None:
    api, ns = local_cluster.api, cluster_namespace
    api.create(jobs(ns), job("ok", "print('done')"))
    api.create(jobs(ns), job("bad", "raise SystemExit(3)", backoff_limit=1))
    api.create(jobs(ns), job("brief", "pass", ttlSecondsAfterFinished=1))
    complete = job_condition(local_cluster, ns, "ok", "Complete")
    assert complete["reason"] == "CompletionsReached"
    status = api.get(f"{jobs(ns)}/ok")["status"]
    assert status["succeeded"] == 1 and status["completionTime"] and status["active"] == 0
    assert {c["type"] for c in status["conditions"]} == {"SuccessCriteriaMet", "Complete"}
    (pod,) = api.list(pods(ns), label_selector="job-name=ok")
    assert pod["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == api.get(f"{jobs(ns)}/ok")[
        "metadata"]["uid"]
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (pod["status"]["phase"], terminated["exitCode"], terminated["reason"]) == ("Succeeded", 0, "Completed")
    assert local_cluster.log(ns, pod["metadata"]["name"], "main") == "done\n"

    failed = job_condition(local_cluster, ns, "bad", "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    attempts = api.list(pods(ns), label_selector="job-name=bad")
    assert len(attempts) == 2 and api.get(f"{jobs(ns)}/bad")["status"]["failed"] == 2
    for attempt in attempts:
        terminated = attempt["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (attempt["status"]["phase"], terminated["exitCode"], terminated["reason"]) == ("Failed", 3, "Error")
    # ttlSecondsAfterFinished: the finished Job goes, and its pod with it.
    api.wait_for(lambda: api.get_or_none(f"{jobs(ns)}/brief") is None, 10, what="job deleted after its TTL")
    api.wait_for(lambda: not api.list(pods(ns), label_selector="job-name=brief"), 10)


def test_deleting_a_job_kills_its_running_process(local_cluster: LocalCluster, cluster_namespace: str) -> None:
    api, ns = local_cluster.api, cluster_namespace
    api.create(jobs(ns), job("sleeper", "import time; time.sleep(120)"))
    (pod,) = api.wait_for(lambda: api.list(pods(ns), label_selector="job-name=sleeper"), 10)
    pid = api.wait_for(lambda: local_cluster.pid_of(ns, pod["metadata"]["name"]), 10)
    assert alive(pid)
    api.delete(f"{jobs(ns)}/sleeper", propagation="Background")
    api.wait_for(lambda: not alive(pid), 10, what=f"process {pid} gone")
    # The kubelet removes the pod once its process has gone: a moment later, not at once.
    api.wait_for(lambda: api.get_or_none(f"{pods(ns)}/{pod['metadata']['name']}") is None, 10, what="pod gone")


def test_active_deadline_fails_the_job(local_cluster: LocalCluster, cluster_namespace: str) -> None:
    api, ns = local_cluster.api, cluster_namespace
    api.create(jobs(ns), job("slow", "import time; time.sleep(120)", activeDeadlineSeconds=1))
    (pod,) = api.wait_for(lambda: api.list(pods(ns), label_selector="job-name=slow"), 10)
    pid = api.wait_for(lambda: local_cluster.pid_of(ns, pod["metadata"]["name"]), 10)
    failed = job_condition(local_cluster, ns, "slow", "Failed")
    assert failed["reason"] == "DeadlineExceeded"
    assert failed["message"] == "Job was active longer than specified deadline"
    api.wait_for(lambda: not alive(pid), 10, what=f"process {pid} gone")


def test_memory_limit_oom_kills(local_cluster: LocalCluster, cluster_namespace: str) -> None:
    api, ns = local_cluster.api, cluster_namespace
    hog = "import time; block = bytearray(200 * 1024 * 1024); time.sleep(60)"
    api.create(pods(ns), {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hog"}, "spec": {
        "restartPolicy": "Never", "containers": [{"name": "main", "image": PYTHON_IMAGE,
                                                  "command": ["python", "-c", hog],
                                                  "resources": {"limits": {"memory": "50Mi"}}}]}})

    def terminated() -> dict[str, Any] | None:
        status = api.get(f"{pods(ns)}/hog")["status"]
        state = ((status.get("containerStatuses") or [{}])[0].get("state") or {}).get("terminated")
        return {**state, "phase": status["phase"]} if state else None

    state = api.wait_for(terminated, 15)
    assert (state["reason"], state["exitCode"], state["phase"]) == ("OOMKilled", 137, "Failed")


def test_env_sources_and_subpath_mounts_resolve(local_cluster: LocalCluster, cluster_namespace: str) -> None:
    api, ns = local_cluster.api, cluster_namespace
    api.create(f"/api/v1/namespaces/{ns}/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                                                    "data": {"password": base64.b64encode(b"hunter2").decode()}})
    api.create(f"/api/v1/namespaces/{ns}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                       "metadata": {"name": "cfg"},
                                                       "data": {"app.yaml": "answer: 42\n", "other": "x"}})
    code = ("import os, sys; e = os.environ; print(e['POD'], e['APP'], e['PASSWORD'], e['DATA'], "
            "'KUBECONFIG' in e, e['KUBERNETES_SERVICE_HOST']); print(open(sys.argv[1]).read(), end=''); "
            "print(os.path.isdir(e['DATA']), os.getcwd() == e['DATA'])")
    api.create(pods(ns), {"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": "envy", "labels": {"app": "envy"}}, "spec": {
        "restartPolicy": "Never",
        "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "scratch", "emptyDir": {}}],
        "containers": [{
            "name": "main", "image": PYTHON_IMAGE, "command": ["python", "-c", code, "/etc/app/app.yaml"],
            "workingDir": "/data",
            "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                    {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                    {"name": "DATA", "value": "/data"}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app/app.yaml", "subPath": "app.yaml"},
                             {"name": "scratch", "mountPath": "/data"}],
        }]}})
    phase = api.wait_for(lambda: api.get(f"{pods(ns)}/envy")["status"].get("phase") in ("Succeeded", "Failed")
                         and api.get(f"{pods(ns)}/envy")["status"]["phase"], 15)
    output = local_cluster.log(ns, "envy", "main")
    assert phase == "Succeeded", output
    first, config, checks = output.splitlines()
    pod_name, app, password, data, has_kubeconfig, api_host = first.split()
    assert (pod_name, app, password, has_kubeconfig, api_host) == ("envy", "envy", "hunter2", "True", "127.0.0.1")
    assert data.startswith(str(local_cluster.work_dir)) and data.endswith("/volumes/scratch")
    assert config == "answer: 42"
    assert checks == "True True"

    api.create(pods(ns), {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sealed"}, "spec": {
        "restartPolicy": "Never", "automountServiceAccountToken": False, "containers": [{
            "name": "main", "image": PYTHON_IMAGE, "command": [
                "python", "-c", "import os; e = os.environ; print('KUBECONFIG' in e, 'KUBERNETES_SERVICE_HOST' in e)"],
        }]}})
    api.wait_for(lambda: api.get(f"{pods(ns)}/sealed")["status"].get("phase") == "Succeeded", 15)
    assert local_cluster.log(ns, "sealed", "main") == "False False\n"
    assert os.path.basename(local_cluster.log_path(ns, "envy", "main")) == "main.log"


def test_crash_loop_and_liveness_restarts(local_cluster: LocalCluster, cluster_namespace: str) -> None:
    api, ns = local_cluster.api, cluster_namespace
    api.create(pods(ns), {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "crash"}, "spec": {"containers": [
        {"name": "main", "image": PYTHON_IMAGE, "command": ["python", "-c", "print('boom'); raise SystemExit(2)"]}]}})
    api.create(pods(ns), {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unhealthy"}, "spec": {
        "terminationGracePeriodSeconds": 1, "containers": [{
            "name": "main", "image": PYTHON_IMAGE, "command": ["python", "-c", "import time; time.sleep(60)"],
            "livenessProbe": {"tcpSocket": {"port": 9}, "periodSeconds": 5, "failureThreshold": 1}}]}})

    def restarted(name: str, count: int) -> dict[str, Any] | None:
        status = api.get(f"{pods(ns)}/{name}")["status"]
        container = (status.get("containerStatuses") or [{}])[0]
        return status if container.get("restartCount", 0) >= count else None

    status = api.wait_for(lambda: restarted("crash", 2), 15)
    container = status["containerStatuses"][0]
    assert status["phase"] == "Running"
    assert container["lastState"]["terminated"]["exitCode"] == 2
    assert container["lastState"]["terminated"]["reason"] == "Error"
    api.wait_for(lambda: (api.get(f"{pods(ns)}/crash")["status"]["containerStatuses"][0]["state"].get("waiting")
                          or {}).get("reason") == "CrashLoopBackOff", 10)
    assert local_cluster.log(ns, "crash", "main", previous=True) == "boom\n"
    status = api.wait_for(lambda: restarted("unhealthy", 1), 15)
    assert status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] in (137, 143)


@pytest.mark.slow
def test_a_restarted_kubelet_adopts_existing_objects(local_cluster: LocalCluster, cluster_namespace: str) -> None:
    api, ns = local_cluster.api, cluster_namespace
    api.create(apps(ns), http_server("adopted"))
    wait_ready(local_cluster, ns, "adopted")
    (before,) = api.list(pods(ns), label_selector="app=adopted")
    pid = local_cluster.pid_of(ns, before["metadata"]["name"])
    assert pid is not None
    local_cluster.restart_kubelet()
    assert not alive(pid)  # its processes died with the old kubelet

    def running_again() -> dict[str, Any] | None:
        (pod,) = api.list(pods(ns), label_selector="app=adopted")
        container = pod["status"]["containerStatuses"][0]
        return pod if is_ready(pod) and container["restartCount"] == 1 else None

    after = api.wait_for(running_again, 20)
    assert after["metadata"]["name"] == before["metadata"]["name"]  # adopted, not replaced
    assert after["status"]["podIP"] == before["status"]["podIP"]
    assert len(api.list(pods(ns), label_selector="app=adopted")) == 1
