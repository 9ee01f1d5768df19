"""A CodeLocation's Deployment and Service."""

from __future__ import annotations

from typing import Any

import pytest
from k8s_support import location_spec, validate

from locus.k8s.codeserver import code_server_deployment, code_server_endpoint, code_server_service


def _container(deployment: dict[str, Any], name: str = "codeserver") -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == name)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {var["name"]: var.get("value", var.get("valueFrom")) for var in container["env"]}


@pytest.mark.parametrize(
    "pointer", [{"module": "pkg.defs"}, {"module": None, "python_file": "defs.py"}, {"module": None, "package": "pkg"}]
)
def test_manifests_validate_against_the_kubernetes_schema(pointer: dict[str, Any]) -> None:
    spec = location_spec(
        **pointer,
        env=[{"name": "MODE", "value": "prod"}],
        env_from=[{"secretRef": {"name": "warehouse"}}],
        resources={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        service_account_name="seed",
        replicas=2,
    )
    validate(code_server_deployment(spec))
    validate(code_server_service(spec))


def test_container_runs_the_grpc_code_server_on_all_interfaces() -> None:
    container = _container(code_server_deployment(location_spec(port=4123)))
    assert container["command"] == [
        "locus", "api", "grpc", "--module-name", "examples.seed", "--attribute", "defs",
        "--working-directory", "/app", "--location-name", "seed-examples", "--host", "0.0.0.0", "--port", "4123",
    ]  # fmt: skip
    assert container["ports"][0]["containerPort"] == 4123


def test_container_reports_its_image_and_has_a_home() -> None:
    env = _env(_container(code_server_deployment(location_spec(env=[{"name": "MODE", "value": "prod"}]))))
    assert env["LOCUS_CURRENT_IMAGE"] == "registry.example.com/seed:1.2"
    assert env["LOCUS_HOME"] == "/locus-home"
    assert env["MODE"] == "prod"


def test_probes_are_native_grpc_on_the_served_port() -> None:
    container = _container(code_server_deployment(location_spec()))
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": 4000}
        assert "exec" not in container[probe]
    # Ready only once the code loaded, so a broken revision never replaces serving pods.
    assert container["readinessProbe"]["grpc"] == {"port": 4000, "service": "locus.loaded"}


def test_pod_is_non_root_with_a_read_only_root_filesystem() -> None:
    deployment = code_server_deployment(location_spec())
    pod = deployment["spec"]["template"]["spec"]
    container = _container(deployment)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "emptyDir" in volumes[mounts["/locus-home"]]
    assert volumes[mounts["/locus-home/locus.yaml"]]["configMap"] == {"name": "locus-default-config"}


def test_a_new_revision_never_takes_old_pods_down_first() -> None:
    strategy = code_server_deployment(location_spec())["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


def test_children_are_labelled_and_owned_by_the_code_location() -> None:
    spec = location_spec(extra_labels={"team": "data"})
    deployment, service = code_server_deployment(spec), code_server_service(spec)
    for manifest in (deployment, service):
        meta = manifest["metadata"]
        assert meta["name"] == "locus-codeserver-seed-examples"
        assert meta["namespace"] == "data"
        assert meta["labels"]["app.kubernetes.io/component"] == "codeserver"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "locus-operator"
        assert meta["labels"]["locus.dev/location"] == "seed-examples"
        assert meta["labels"]["team"] == "data"
        assert meta["ownerReferences"][0]["kind"] == "CodeLocation"
        assert meta["ownerReferences"][0]["uid"] == spec.owner.uid
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert service["spec"]["selector"] == selector
    assert code_server_endpoint(spec) == "locus-codeserver-seed-examples.data.svc:4000"


def test_building_is_deterministic() -> None:
    assert code_server_deployment(location_spec()) == code_server_deployment(location_spec())


def test_pod_template_overrides_merge_containers_by_name() -> None:
    overrides = {
        "metadata": {"annotations": {"prometheus.io/scrape": "true"}, "labels": {"app.kubernetes.io/name": "x"}},
        "spec": {
            "containers": [
                {"name": "codeserver", "resources": {"limits": {"cpu": "2"}}},
                {"name": "proxy", "image": "cloud-sql-proxy:2", "args": ["--port=5432"]},
            ],
            "nodeSelector": {"pool": "etl"},
        },
    }
    spec = location_spec(resources={"requests": {"cpu": "100m"}, "limits": {"cpu": "1"}}, pod_template=overrides)
    deployment = code_server_deployment(spec)
    validate(deployment)
    template = deployment["spec"]["template"]
    names = [c["name"] for c in template["spec"]["containers"]]
    assert names == ["codeserver", "proxy"]
    main = _container(deployment)
    assert main["resources"] == {"requests": {"cpu": "100m"}, "limits": {"cpu": "2"}}
    assert main["command"][:3] == ["locus", "api", "grpc"]  # the rest of the container is kept
    assert template["spec"]["nodeSelector"] == {"pool": "etl"}
    assert template["metadata"]["annotations"] == {"prometheus.io/scrape": "true"}
    # The selector's labels cannot be overridden away from the pods.
    assert template["metadata"]["labels"]["app.kubernetes.io/name"] == "locus"
    assert overrides["spec"]["containers"][0] == {"name": "codeserver", "resources": {"limits": {"cpu": "2"}}}


def test_exactly_one_code_pointer_is_required() -> None:
    with pytest.raises(ValueError, match="exactly one of module"):
        location_spec(python_file="defs.py")
    with pytest.raises(ValueError, match="exactly one of module"):
        location_spec(module=None)
