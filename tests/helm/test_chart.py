"""The chart lints, renders for every variant into manifests the API server
would accept, and wires the operator, the Instance and PostgreSQL together."""

from __future__ import annotations

import base64
import tomllib
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helm_support import CHART, KUBERNETES_VERSION, NAMESPACE, RELEASE, VALUES, VARIANTS, Rendered, render, run_helm
from tests.operator.crd_support import api_server_errors

STANDARD_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
}
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
SYSTEM_IMAGE = "ghcr.io/locus/locus:0.1.0"
OLDEST_KUBERNETES = "1.28"


@pytest.fixture(scope="module", params=VARIANTS)
def rendered(request: pytest.FixtureRequest) -> Rendered:
    return render(request.param)


def operator_container(rendered: Rendered) -> dict[str, Any]:
    deployment = rendered.one("Deployment", "locus-operator")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def arg_after(container: dict[str, Any], flag: str) -> str:
    args = container["args"]
    return str(args[args.index(flag) + 1])


# -- lint and render -----------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [False, True], ids=["lint", "lint-strict"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_helm_lint_passes(variant: str, strict: bool) -> None:
    args = ["lint", str(CHART), "--namespace", NAMESPACE, *(["--strict"] if strict else [])]
    if variant != "default":
        args += ["--values", str(VALUES / f"{variant}.yaml")]
    result = run_helm(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


# The oldest Kubernetes Chart.yaml admits, the one tests/k8s uses, and the newest known.
@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, KUBERNETES_VERSION, kubernetes_validate.latest_version()])
def test_every_rendered_object_fits_the_kubernetes_schemas(rendered: Rendered, version: str) -> None:
    builtin = [o for o in rendered.objects if not o["apiVersion"].startswith("locus.dev/")]
    assert builtin
    for manifest in builtin:
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{rendered.variant}: {manifest['kind']} {manifest['metadata']['name']}: {exc.message}")


def test_every_custom_resource_fits_its_crd(rendered: Rendered) -> None:
    for cr in rendered.objects:
        if cr["apiVersion"].startswith("locus.dev/"):
            assert api_server_errors(cr) == [], f"{rendered.variant}: {cr['kind']} {cr['metadata']['name']}"


def test_every_object_has_the_standard_labels_and_a_namespace(rendered: Rendered) -> None:
    for obj in rendered.objects:
        if obj["kind"] == "CustomResourceDefinition":
            continue
        meta = obj["metadata"]
        assert set(meta["labels"]) >= STANDARD_LABELS, f"{obj['kind']} {meta['name']}: {meta['labels']}"
        assert meta["labels"]["app.kubernetes.io/instance"] == RELEASE
        # Explicit namespaces: `helm template | kubectl apply` lands where `helm install` would.
        assert ("namespace" in meta) == (obj["kind"] not in CLUSTER_SCOPED), f"{obj['kind']} {meta['name']}"


def test_the_chart_carries_the_generated_crds(rendered: Rendered) -> None:
    crds = {crd["metadata"]["name"]: crd for crd in rendered.of_kind("CustomResourceDefinition")}
    assert set(crds) == {"codelocations.locus.dev", "instances.locus.dev"}
    for name, crd in crds.items():
        assert crd == yaml.safe_load((CHART / "crds" / f"{name}.yaml").read_text())


def test_chart_app_version_is_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((CHART.parents[1] / "pyproject.toml").read_text())["project"]
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == project["version"]
    assert chart["kubeVersion"] == f">={OLDEST_KUBERNETES}.0-0"


# -- the operator --------------------------------------------------------------------------------


def test_operator_runs_cluster_wide_by_default() -> None:
    container = operator_container(render("default"))
    assert container["command"] == ["locus", "operator", "run"]
    assert container["args"] == ["--all-namespaces", "--health-port", "8080", "--system-image", SYSTEM_IMAGE]
    assert container["image"] == SYSTEM_IMAGE


def test_operator_watches_the_listed_namespaces() -> None:
    args = operator_container(render("namespaced"))["args"]
    assert "--all-namespaces" not in args
    assert args[:4] == ["--namespace", "locus", "--namespace", "team-a"]


def test_operator_runs_the_system_image_it_hands_to_the_pods_it_creates() -> None:
    container = operator_container(render("bundled-postgresql"))
    image = "registry.example.com/locus/system:1.2.3@sha256:" + "0123456789abcdef" * 4
    assert container["image"] == image
    assert arg_after(container, "--system-image") == image
    pod = render("bundled-postgresql").one("Deployment", "locus-operator")["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"pool": "system"}
    assert container["env"] == [{"name": "LOCUS_LOG_LEVEL", "value": "debug"}]


def test_operator_pod_is_non_root_read_only_and_probed_on_healthz(rendered: Rendered) -> None:
    deployment = rendered.one("Deployment", "locus-operator")
    pod = deployment["spec"]["template"]["spec"]
    container = operator_container(rendered)
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # never two operators at once
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]
    port = container["ports"][0]
    assert (port["name"], port["containerPort"]) == ("health", int(arg_after(container, "--health-port")))
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["resources"]["limits"]["memory"]


def test_service_account_is_the_one_the_operator_runs_as(rendered: Rendered) -> None:
    pod = rendered.one("Deployment", "locus-operator")["spec"]["template"]["spec"]
    accounts = rendered.of_kind("ServiceAccount")
    if rendered.variant == "instance-disabled":
        assert accounts == [] and pod["serviceAccountName"] == "platform-locus"
    else:
        assert [a["metadata"]["name"] for a in accounts] == [pod["serviceAccountName"]] == ["locus-operator"]


# -- the default Instance and its storage --------------------------------------------------------


def test_default_instance_uses_the_bundled_postgresql_and_a_generated_token() -> None:
    rendered = render("default")
    spec = rendered.one("Instance", "default")["spec"]
    assert spec["storage"]["postgres"] == {
        "host": f"locus-postgresql.{NAMESPACE}.svc",
        "port": 5432,
        "database": "locus",
        "user": "locus",
        "passwordSecretRef": {"name": "locus-postgresql", "key": "password"},
    }
    assert spec["api"] == {"replicas": 1, "authSecretRef": {"name": "locus-api-token", "key": "token"}}
    token = rendered.one("Secret", "locus-api-token")
    assert len(base64.b64decode(token["data"]["token"])) == 48
    password = rendered.one("Secret", "locus-postgresql")
    assert len(base64.b64decode(password["data"]["password"])) == 32
    assert password["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_bundled_postgresql_is_one_non_root_pod_behind_its_service() -> None:
    for variant, persistent in (("default", True), ("bundled-postgresql", False)):
        rendered = render(variant)
        statefulset = rendered.one("StatefulSet", "locus-postgresql")
        service = rendered.one("Service", "locus-postgresql")
        pod = statefulset["spec"]["template"]
        assert statefulset["spec"]["replicas"] == 1
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        assert service["spec"]["ports"][0]["port"] == 5432
        (container,) = pod["spec"]["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        env = {e["name"]: e for e in container["env"]}
        assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "locus-postgresql", "key": "password"}
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        claims = statefulset["spec"].get("volumeClaimTemplates", [])
        if persistent:
            assert "data" not in volumes and claims[0]["spec"]["resources"]["requests"]["storage"] == "8Gi"
        else:
            assert volumes["data"] == {"name": "data", "emptyDir": {}} and claims == []


def test_external_postgresql_replaces_the_bundled_one() -> None:
    rendered = render("external-postgresql")
    assert rendered.of_kind("StatefulSet") == [] and rendered.of_kind("Service") == []
    spec = rendered.one("Instance", "default")["spec"]
    assert spec["storage"]["postgres"] == {
        "host": "pg.example.internal",
        "port": 6432,
        "database": "orchestration",
        "user": "locus_app",
        "passwordSecretRef": {"name": "locus-pg", "key": "pg-password"},
        "params": {"sslmode": "require"},
    }
    # The user's own token Secret: none generated.
    assert spec["api"]["authSecretRef"] == {"name": "team-api-token", "key": "bearer"}
    assert rendered.of_kind("Secret") == []


def test_instance_settings_reach_the_instance_spec() -> None:
    spec = render("bundled-postgresql").one("Instance", "analytics")["spec"]
    assert spec["runCoordinator"]["tagConcurrencyLimits"][1] == {
        "key": "domain", "applyLimitPerUniqueValue": True, "limit": 1
    }
    assert spec["runLauncher"] == {"jobNamespace": "Location", "ttlSecondsAfterFinished": 3600, "backoffLimit": 0}
    assert spec["runRetries"]["retryStrategy"] == "FROM_FAILURE"
    assert spec["computeLogs"] == {"baseDir": "/locus-home/logs"}
    assert spec["daemon"] == {
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
        "podTemplate": {"spec": {"nodeSelector": {"pool": "system"}}},
    }
    assert spec["api"]["replicas"] == 2 and spec["api"]["resources"] == {"limits": {"memory": "1Gi"}}


def test_api_auth_can_be_turned_off() -> None:
    result = run_helm("template", RELEASE, str(CHART), "-n", NAMESPACE, "--set", "instance.api.auth.enabled=false")
    assert result.returncode == 0, result.stderr
    objects = [o for o in yaml.safe_load_all(result.stdout) if o]
    (instance,) = [o for o in objects if o["kind"] == "Instance"]
    assert "authSecretRef" not in instance["spec"]["api"]
    assert "locus-api-token" not in {o["metadata"]["name"] for o in objects if o["kind"] == "Secret"}


def test_without_the_instance_only_the_operator_is_installed() -> None:
    rendered = render("instance-disabled")
    kinds = sorted({o["kind"] for o in rendered.objects})
    assert kinds == ["CustomResourceDefinition", "Deployment"]


def test_notes_tell_the_next_steps(rendered: Rendered) -> None:
    notes = rendered.notes
    assert "kubectl apply --server-side -f charts/locus/crds/" in notes
    if rendered.variant == "instance-disabled":
        assert "No Instance was created" in notes
        return
    assert "kubectl get codelocations" in notes
    assert "kubectl port-forward" in notes and "svc/locus-" in notes
    if rendered.variant == "external-postgresql":
        assert "secret team-api-token" in notes and "{.data.bearer}" in notes
    else:
        assert "secret locus-api-token" in notes and "{.data.token}" in notes
