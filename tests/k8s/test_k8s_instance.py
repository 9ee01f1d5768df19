"""An Instance's ConfigMap, migration Job, daemon and API."""

from __future__ import annotations

from typing import Any

import yaml
from k8s_support import PASSWORD, instance_spec, validate

from locus.instance.config import RunCoordinatorConfig, parse_instance_config
from locus.k8s.instance import (
    PostgresSpec,
    api_deployment,
    api_service,
    daemon_deployment,
    instance_configmap,
    migration_job,
    render_locus_yaml,
)


def _manifests() -> list[dict[str, Any]]:
    spec = instance_spec()
    return [
        instance_configmap(spec),
        migration_job(spec),
        daemon_deployment(spec),
        api_deployment(spec),
        api_service(spec),
    ]


def _container(manifest: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = manifest["spec"]["template"]["spec"]["containers"][0]
    return container


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {var["name"]: var.get("value", var.get("valueFrom")) for var in container["env"]}


def test_manifests_validate_against_the_kubernetes_schema() -> None:
    for manifest in _manifests():
        validate(manifest)


def test_locus_yaml_is_valid_and_reads_the_password_from_the_environment() -> None:
    text = instance_configmap(instance_spec())["data"]["locus.yaml"]
    config = parse_instance_config(text, environ={"LOCUS_PG_PASSWORD": PASSWORD})
    postgres = config.storage.postgres
    assert postgres is not None
    assert (postgres.host, postgres.database, postgres.user, postgres.password) == (
        "pg.locus.svc", "locus", "locus", PASSWORD,
    )  # fmt: skip
    assert postgres.params == {"sslmode": "require"}
    assert config.run_launcher.kind == "k8s"
    assert config.run_coordinator.max_concurrent_runs == 10
    assert config.run_coordinator.tag_concurrency_limits[0].key == "team"
    assert config.run_retries.max_retries == 2
    assert yaml.safe_load(text)["storage"]["postgres"]["password"] == {"env": "LOCUS_PG_PASSWORD"}


def test_the_password_never_appears_in_any_manifest() -> None:
    for manifest in _manifests():
        assert PASSWORD not in repr(manifest)


def test_pods_get_the_password_and_token_from_secrets() -> None:
    spec = instance_spec()
    for manifest in (migration_job(spec), daemon_deployment(spec), api_deployment(spec)):
        env = _env(_container(manifest))
        assert env["LOCUS_PG_PASSWORD"] == {"secretKeyRef": {"name": "locus-pg", "key": "password"}}
        assert env["LOCUS_HOME"] == "/locus-home"
    assert _env(_container(api_deployment(spec)))["LOCUS_API_TOKEN"] == {
        "secretKeyRef": {"name": "locus-api", "key": "token"}
    }
    assert "LOCUS_API_TOKEN" not in _env(_container(daemon_deployment(spec)))


def test_without_a_password_secret_no_password_is_configured() -> None:
    spec = instance_spec(postgres=PostgresSpec(host="pg", database="locus"))
    assert "password" not in render_locus_yaml(spec)
    assert "LOCUS_PG_PASSWORD" not in _env(_container(daemon_deployment(spec)))
    validate(daemon_deployment(spec))


def test_commands_of_the_system_processes() -> None:
    spec = instance_spec()
    assert _container(migration_job(spec))["command"] == ["locus", "instance", "migrate"]
    assert _container(daemon_deployment(spec))["command"] == ["locus", "daemon", "run"]
    assert _container(api_deployment(spec))["command"] == [
        "locus", "api", "serve", "--host", "0.0.0.0", "--port", "3000",
    ]  # fmt: skip


def test_one_daemon_replaced_by_recreation() -> None:
    daemon = daemon_deployment(instance_spec())
    assert daemon["spec"]["replicas"] == 1
    assert daemon["spec"]["strategy"] == {"type": "Recreate"}


def test_migration_job_retries_a_little_and_is_named_after_the_image() -> None:
    job = migration_job(instance_spec())
    assert job["spec"]["backoffLimit"] <= 3
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    same = migration_job(instance_spec())["metadata"]["name"]
    upgraded = migration_job(instance_spec(image="ghcr.io/locus/locus:0.2.0"))["metadata"]["name"]
    assert job["metadata"]["name"] == same != upgraded
    assert same.startswith("locus-default-migrate-")


def test_api_probes_http_health_endpoints() -> None:
    container = _container(api_deployment(instance_spec()))
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api_deployment(instance_spec())["spec"]["replicas"] == 2


def test_children_are_labelled_owned_and_deterministically_named() -> None:
    names = {(m["kind"], m["metadata"]["name"]) for m in _manifests()}
    assert {
        ("ConfigMap", "locus-default-config"),
        ("Deployment", "locus-default-daemon"),
        ("Deployment", "locus-default-api"),
        ("Service", "locus-default-api"),
    } <= names
    for manifest in _manifests():
        meta = manifest["metadata"]
        assert meta["namespace"] == "locus"
        assert meta["labels"]["app.kubernetes.io/instance"] == "default"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "locus-operator"
        assert meta["ownerReferences"][0]["kind"] == "Instance"
    assert _manifests() == _manifests()


def test_system_pods_are_non_root_read_only() -> None:
    for manifest in _manifests()[1:4]:
        pod = manifest["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert _container(manifest)["securityContext"]["readOnlyRootFilesystem"] is True


def test_pods_roll_when_the_config_changes() -> None:
    def config_hash(**changes: Any) -> str:
        annotations = daemon_deployment(instance_spec(**changes))["spec"]["template"]["metadata"]["annotations"]
        value: str = annotations["locus.dev/config-hash"]
        return value

    assert config_hash() == config_hash()
    assert config_hash() != config_hash(run_coordinator=RunCoordinatorConfig(max_concurrent_runs=1))
