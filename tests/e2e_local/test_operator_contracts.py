"""Contracts of the operator, checked on the local cluster harness with the
real operator (``locus operator run``) driven through a realistic scenario:
the sample Instance Ready, two CodeLocations Ready, one's image changed to a
broken one and reverted, the other deleted, the operator restarted once.

* whatever the operator sends the API server (by its User-Agent: kopf's
  ``kopf/<version>`` and its own client's ``locus-operator/<version>``) is
  granted by ``locus_operator.rbac.RULES``, which the Helm chart grants;
* every object it creates validates against the Kubernetes OpenAPI schemas;
* a CodeLocation that slipped past an old CRD's schema is reported in its
  status, and the operator keeps serving.

The API server only logs a request once it has been answered, so a watch is
logged when its stream ends: the RBAC test stops the API server (which ends
every stream) before it reads the log. It therefore runs last; the other two
leave the cluster as they found it (a valid CodeLocation aside) and do not
depend on it. The watches of the operator stopped for the restart are cut by
the client and never logged; the restarted operator opens the same ones.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import pytest
import yaml
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
from tests.k8s.k8s_support import validate

from locus_operator.rbac import RULES, allows

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
SERVICES = f"/api/v1/namespaces/{NS}/services"
CODELOCATION_CRD = ROOT / "crds" / "codelocations.locus.dev.yaml"
MANAGED = "app.kubernetes.io/managed-by=locus-operator"
OPERATOR_AGENTS = ("kopf/", "locus-operator/")

Triple = tuple[str, str, str]  # (API group, resource[/subresource], verb)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    base = tmp_path_factory.mktemp("harness")
    # INFO: the API server logs every request it answers, with its User-Agent.
    with LocalCluster(images=harness_images(base), work_dir=base / "cluster",
                      apiserver_args=("--log-level", "INFO")) as local:
        local.kubectl("apply", "-f", str(ROOT / "crds"))
        yield local


@pytest.fixture(scope="module")
def scenario(cluster: LocalCluster, operator: OperatorProcess, database: Database) -> None:
    """What a user does in a first week, and an operator restart."""
    apply(cluster, namespace_object(NS), postgres_secret(b"unused-with-trust-auth"), instance_for(database))
    wait_object(cluster, operator, INSTANCE, condition_true, timeout=90)

    short_lived = code_location("short-lived", image=EXAMPLES_IMAGE, pythonFile="hello.py",
                                workingDirectory="/opt/locus/app")
    apply(cluster, sample("codelocation.yaml"), short_lived)
    wait_location(cluster, operator, "numbers", is_ready)
    wait_location(cluster, operator, "short-lived", is_ready)

    # A new image that fails to load, then reverted.
    patch = ["patch", "codelocation", "numbers", "-n", NS, "--type", "merge", "-p"]
    cluster.kubectl(*patch, json.dumps({"spec": {"image": BROKEN_IMAGE}}))
    wait_location(cluster, operator, "numbers", lambda o: condition_true(o, "Degraded"))
    cluster.kubectl(*patch, json.dumps({"spec": {"image": NUMBERS_IMAGE}}))
    wait_location(cluster, operator, "numbers", lambda o: is_ready(o) and condition(o, "Degraded").get("status")
                  == "False" and not o["status"].get("loadError"))

    # One deleted, its children with it.
    cluster.kubectl("delete", "codelocation", "short-lived", "-n", NS, "--wait=true", "--timeout=30s")
    wait_gone(cluster, operator, f"{DEPLOYMENTS}/locus-codeserver-short-lived")

    # A restart, with something to repair for the location and for the Instance, so that we know the new
    # operator has reconciled both.
    operator.stop()
    repaired = [f"{SERVICES}/locus-codeserver-numbers", f"{SERVICES}/locus-default-api"]
    for service in repaired:
        cluster.api.delete(service)
    operator.start()
    for service in repaired:
        wait_object(cluster, operator, service, bool, timeout=30)
    try:  # and it still answers its liveness probe (the chart's times out after 5 s)
        operator.wait_healthy(timeout=5)
    except AssertionError as error:
        raise AssertionError(f"the restarted operator stopped answering /healthz once it had reconciled its "
                             f"Instance (is its event loop blocked?): {error}") from None
    wait_location(cluster, operator, "numbers", is_ready)


# -- 3: an invalid CodeLocation is reported, not fatal ---------------------------


def old_crd() -> dict[str, Any]:
    """The CodeLocation CRD as an old or careless one: no schema to speak of, no CEL rules."""
    crd: dict[str, Any] = yaml.safe_load(CODELOCATION_CRD.read_text())
    old = copy.deepcopy(crd)
    for version in old["spec"]["versions"]:
        version["schema"] = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return old


INVALID = {
    # name: (spec, what the message must name)
    "no-image": ({"module": "numbers_k8s", "workingDirectory": "/opt/locus/app"}, ("spec.image",)),
    "two-entrypoints": ({"image": NUMBERS_IMAGE, "module": "numbers_k8s", "pythonFile": "numbers_k8s.py",
                         "workingDirectory": "/opt/locus/app"}, ("spec.module", "spec.pythonFile")),
    "negative-replicas": ({"image": NUMBERS_IMAGE, "module": "numbers_k8s", "workingDirectory": "/opt/locus/app",
                           "replicas": -1}, ("spec.replicas",)),
}


def test_an_invalid_location_past_an_old_crd_is_reported_and_not_fatal(
    cluster: LocalCluster, operator: OperatorProcess, scenario: None
) -> None:
    logged_before = operator.log_path.stat().st_size
    apply(cluster, old_crd())
    try:
        # The old CRD is in force once it admits what the real one refuses.
        cluster.api.wait_for(lambda: cluster.kubectl("apply", "--dry-run=server", "-f", "-", check=False,
                                                     input=yaml.safe_dump(code_location("probe"))).returncode == 0,
                             timeout=10, what="the old CRD in force")
        apply(cluster, *(code_location(name, **spec) for name, (spec, _) in INVALID.items()))
        for name, (_, fields) in INVALID.items():
            reported = wait_location(cluster, operator, name, lambda o: condition(o, "Ready").get("reason")
                                     == "InvalidSpec", timeout=30)
            ready = condition(reported, "Ready")
            assert ready["status"] == "False", reported
            for field in fields:
                assert field in ready["message"], f"{name}: {field} not named in {ready['message']!r}"
            assert reported["status"].get("observedGeneration") == reported["metadata"]["generation"]
            # Nothing made for it.
            assert cluster.api.get_or_none(f"{DEPLOYMENTS}/locus-codeserver-{name}") is None

        assert operator.process is not None and operator.process.poll() is None, operator.log()
        operator.wait_healthy(timeout=5)
        apply(cluster, code_location("after-invalid", image=EXAMPLES_IMAGE, pythonFile="hello.py",
                                workingDirectory="/opt/locus/app"))
        wait_location(cluster, operator, "after-invalid", is_ready)

        # Deletable too: the finalizer's handler copes with a spec it cannot read.
        cluster.kubectl("delete", "codelocation", *INVALID, "-n", NS, "--wait=true", "--timeout=30s")
        for name in INVALID:
            wait_gone(cluster, operator, f"{LOCATIONS}/{name}", timeout=10)
        with operator.log_path.open("rb") as log:
            log.seek(logged_before)
            logged = log.read().decode(errors="replace")
        assert "Traceback" not in logged, f"the operator failed on an invalid CodeLocation:\n{logged[-6000:]}"
    finally:
        cluster.kubectl("apply", "-f", str(CODELOCATION_CRD))
    refused = cluster.kubectl("apply", "--dry-run=server", "-f", "-", check=False,
                              input=yaml.safe_dump(code_location("probe")))
    assert refused.returncode != 0 and "spec.image" in refused.stderr, refused


# -- 2: everything the operator creates is a valid Kubernetes object ------------

MADE = {
    "Deployment": f"/apis/apps/v1/namespaces/{NS}/deployments",
    "Service": f"/api/v1/namespaces/{NS}/services",
    "ConfigMap": f"/api/v1/namespaces/{NS}/configmaps",
    "Job": f"/apis/batch/v1/namespaces/{NS}/jobs",
}
SERVER_SET = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")
HARNESS_PREFIX = "local.locus.dev/"  # the kubelet's bookkeeping annotations and labels, if any


def as_created(obj: dict[str, Any], kind: str, api_version: str) -> dict[str, Any]:
    """``obj`` without what the API server and the kubelet set (lists omit kind and apiVersion)."""
    made = copy.deepcopy(obj)
    made.setdefault("kind", kind)
    made.setdefault("apiVersion", api_version)
    made.pop("status", None)
    meta = made["metadata"]
    for key in SERVER_SET:
        meta.pop(key, None)
    for key in ("annotations", "labels"):
        kept = {k: v for k, v in (meta.get(key) or {}).items() if not k.startswith(HARNESS_PREFIX)}
        if kept:
            meta[key] = kept
        else:
            meta.pop(key, None)
    return made


def test_every_object_the_operator_makes_fits_the_kubernetes_schemas(
    cluster: LocalCluster, scenario: None
) -> None:
    made: list[dict[str, Any]] = []
    for kind, path in MADE.items():
        api_version = path.split("/namespaces/")[0].removeprefix("/apis/").removeprefix("/api/")
        made += [as_created(o, kind, api_version) for o in cluster.api.list(path, label_selector=MANAGED)]
    made += [as_created(e, "Event", "v1") for e in cluster.api.list(f"/api/v1/namespaces/{NS}/events")
             if "locus-operator" in ((e.get("source") or {}).get("component"), e.get("reportingComponent"))]

    names = {f"{o['kind']}/{o['metadata']['name']}" for o in made}
    expected = {"Deployment/locus-default-daemon", "Deployment/locus-default-api",
                "Deployment/locus-codeserver-numbers", "Service/locus-codeserver-numbers",
                "ConfigMap/locus-default-config"}
    assert expected <= names, sorted(names)
    assert {o["kind"] for o in made} == {*MADE, "Event"}, sorted(names)

    invalid = []
    for obj in made:
        try:
            validate(obj)
        except kubernetes_validate.ValidationError as error:
            invalid.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message} at "
                           f"{'.'.join(map(str, error.path)) or '(root)'}\n{yaml.safe_dump(obj)}")
    assert not invalid, f"{len(invalid)} of {len(made)} objects do not validate:\n" + "\n".join(invalid)


# -- 1: the operator calls nothing beyond its RBAC (last: it stops the API server) -

ACCESS = re.compile(r'aiohttp\.access: \S+ \[[^\]]+\] "(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[\d.]+" '
                    r'(?P<status>\d{3}) \S+ "[^"]*" "(?P<agent>[^"]*)"')
# The operator's own client refuses a call outside RULES before sending it (locus_operator.kube.NotPermitted):
# such a call never reaches the API server, only the operator's log.
REFUSED = re.compile(r"NotPermitted: (?P<verb>\S+) (?P<resource>[^.\s]+)\.(?P<group>\S+) is not in "
                     r"locus_operator\.rbac")
NAMESPACE_SUBRESOURCES = {"status", "finalize"}
# What a realistic run must have exercised, so that the test cannot pass on an empty log.
MAIN_CALLS: set[Triple] = {
    ("locus.dev", "codelocations", "list"), ("locus.dev", "codelocations", "watch"),
    ("locus.dev", "codelocations", "patch"), ("locus.dev", "codelocations/status", "patch"),
    ("locus.dev", "instances", "watch"), ("locus.dev", "instances/status", "patch"),
    ("apps", "deployments", "create"), ("apps", "deployments", "patch"), ("apps", "deployments", "watch"),
    ("", "services", "create"), ("", "configmaps", "create"), ("batch", "jobs", "create"),
    ("", "pods", "list"), ("", "pods", "watch"), ("", "secrets", "get"), ("", "events", "create"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
}


def request_triple(method: str, target: str) -> Triple | None:
    """(API group, resource[/subresource], verb) of a request, as the API server's authorizer sees it;
    None for a non-resource URL (discovery, /version, /openapi)."""
    url = urlsplit(target)
    parts = [p for p in url.path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    watch = parse_qs(url.query).get("watch", ["false"])[-1] in ("true", "1")
    if rest[:1] == ["watch"]:  # the deprecated /watch/ prefix
        watch, rest = True, rest[1:]
    if not rest:
        return None
    if rest[0] == "namespaces" and len(rest) > 2 and rest[2] not in NAMESPACE_SUBRESOURCES:
        rest = rest[2:]  # a namespaced resource
    resource, name, subresource = rest[0], rest[1] if len(rest) > 1 else None, rest[2:3]
    if subresource:
        resource += f"/{subresource[0]}"
    verbs = {"POST": "create", "PATCH": "patch", "PUT": "update"}
    if method == "GET":
        verb = "watch" if watch else ("get" if name else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = verbs.get(method, method.lower())
    return group, resource, verb


def test_request_triples_are_read_like_the_api_server_reads_them() -> None:
    assert request_triple("GET", "/api/v1/namespaces/ns/pods?labelSelector=a%3Db") == ("", "pods", "list")
    assert request_triple("GET", "/apis/apps/v1/deployments?watch=true&timeoutSeconds=300") == (
        "apps", "deployments", "watch")
    assert request_triple("GET", "/api/v1/namespaces/ns/pods/p/log") == ("", "pods/log", "get")
    assert request_triple("PATCH", "/apis/locus.dev/v1alpha1/namespaces/ns/codelocations/n/status") == (
        "locus.dev", "codelocations/status", "patch")
    assert request_triple("DELETE", "/api/v1/namespaces/ns/configmaps") == ("", "configmaps", "deletecollection")
    assert request_triple("GET", "/api/v1/namespaces") == ("", "namespaces", "list")
    assert request_triple("PUT", "/api/v1/namespaces/ns/finalize") == ("", "namespaces/finalize", "update")
    assert request_triple("GET", "/apis/locus.dev/v1alpha1") is None
    assert request_triple("GET", "/api") is None


def test_the_operator_calls_nothing_beyond_its_rbac(cluster: LocalCluster, operator: OperatorProcess,
                                                    scenario: None) -> None:
    cluster.stop()  # every watch stream ends, and is logged
    log = (cluster.work_dir / "apiserver.log").read_text(errors="replace")
    observed: dict[Triple, str] = {}  # each triple, with one request that made it
    agents: set[str] = set()
    for match in ACCESS.finditer(log):
        agent = match["agent"]
        if not agent.startswith(OPERATOR_AGENTS):
            continue
        agents.add(agent.split("/")[0])
        triple = request_triple(match["method"], match["target"])
        if triple is not None:
            observed.setdefault(triple, f"{match['method']} {match['target']} ({agent}) -> {match['status']}")

    refused = {("" if m["group"] == "core" else m["group"], m["resource"], m["verb"])
               for m in REFUSED.finditer(operator.log_path.read_text(errors="replace"))}
    assert not refused, "the operator attempted calls that locus_operator.rbac.RULES does not grant (its client " \
        "refused them, see NotPermitted in its log):\n" + "\n".join(
            f"  {group or 'core'} {resource} {verb}" for group, resource, verb in sorted(refused))
    beyond = {t: request for t, request in observed.items() if not allows(*t)}
    assert not beyond, "the operator made calls that locus_operator.rbac.RULES does not grant:\n" + "\n".join(
        f"  {group or 'core'} {resource} {verb}: e.g. {request}" for (group, resource, verb), request
        in sorted(beyond.items()))
    assert agents == {"kopf", "locus-operator"}, agents
    missing = MAIN_CALLS - observed.keys()
    assert not missing, f"the scenario did not exercise {sorted(missing)}; observed {sorted(observed)}"
    granted = {(r.group, res, v) for r in RULES for res in r.resources for v in r.verbs}
    assert observed.keys() <= granted
