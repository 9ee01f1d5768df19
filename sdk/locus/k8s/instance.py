"""The objects of one Instance: the ConfigMap with its ``locus.yaml``, the
schema migration Job, the daemon Deployment and the REST API's Deployment
and Service. The database password reaches the pods only through a Secret
reference; ``locus.yaml`` says ``password: {env: LOCUS_PG_PASSWORD}``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from locus.instance.config import (
    ComputeLogsConfig,
    InstanceConfig,
    K8sRunLauncherConfig,
    PostgresStorageConfig,
    RunCoordinatorConfig,
    RunLauncherConfig,
    RunMonitoringConfig,
    RunRetriesConfig,
    SchedulesConfig,
    SensorsConfig,
    StorageConfig,
)
from locus.k8s.labels import Owner, dns_name, instance_object_name, object_meta, selector_labels, standard_labels
from locus.k8s.pods import (
    CONFIG_FILE_NAME,
    LOCUS_HOME_ENV,
    LOCUS_HOME_PATH,
    apply_pod_template_overrides,
    container_security_context,
    pod_security_context,
    writable_mounts,
    writable_volumes,
)

PASSWORD_ENV = "LOCUS_PG_PASSWORD"
TOKEN_ENV = "LOCUS_API_TOKEN"  # read by locus.api.auth
CONFIG_HASH_ANNOTATION = "locus.dev/config-hash"
API_PORT = 3000
API_PORT_NAME = "http"

PullPolicy = Literal["Always", "IfNotPresent", "Never"]


@dataclass(frozen=True)
class SecretKey:
    """One key of a Secret in the Instance's namespace."""

    name: str
    key: str


@dataclass(frozen=True)
class PostgresSpec:
    host: str
    database: str
    user: str | None = None
    port: int = 5432
    password_secret: SecretKey | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DaemonSpec:
    resources: Mapping[str, Any] | None = None
    pod_template: Mapping[str, Any] | None = None  # PodTemplateSpec overrides (also for the migration Job)


@dataclass(frozen=True)
class ApiSpec:
    replicas: int = 1
    resources: Mapping[str, Any] | None = None
    auth_secret: SecretKey | None = None
    pod_template: Mapping[str, Any] | None = None  # PodTemplateSpec overrides


@dataclass(frozen=True)
class InstanceSpec:
    """An Instance as the builders need it. The settings sections are the
    ``locus.yaml`` models themselves, so what the operator passes is valid
    by construction."""

    name: str
    namespace: str
    image: str
    owner: Owner
    postgres: PostgresSpec
    image_pull_policy: PullPolicy = "IfNotPresent"
    service_account_name: str | None = None
    run_coordinator: RunCoordinatorConfig = field(default_factory=RunCoordinatorConfig)
    run_launcher: K8sRunLauncherConfig = field(default_factory=K8sRunLauncherConfig)
    run_monitoring: RunMonitoringConfig = field(default_factory=RunMonitoringConfig)
    run_retries: RunRetriesConfig = field(default_factory=RunRetriesConfig)
    compute_logs: ComputeLogsConfig = field(default_factory=ComputeLogsConfig)
    schedules: SchedulesConfig = field(default_factory=SchedulesConfig)
    sensors: SensorsConfig = field(default_factory=SensorsConfig)
    daemon: DaemonSpec = field(default_factory=DaemonSpec)
    api: ApiSpec = field(default_factory=ApiSpec)
    extra_labels: Mapping[str, str] = field(default_factory=dict)

    def labels(self, component: str) -> dict[str, str]:
        return standard_labels(self.name, component, extra=self.extra_labels)

    def selector(self, component: str) -> dict[str, str]:
        return selector_labels(self.name, component)


def config_map_name(spec: InstanceSpec) -> str:
    return instance_object_name(spec.name, "config")


def daemon_name(spec: InstanceSpec) -> str:
    return instance_object_name(spec.name, "daemon")


def api_name(spec: InstanceSpec) -> str:
    return instance_object_name(spec.name, "api")


def migration_job_name(spec: InstanceSpec) -> str:
    """Named after the image too: a new system image gets a new Job (a Job's
    pod template cannot change), the same image finds the Job already there."""
    image_hash = hashlib.sha256(spec.image.encode()).hexdigest()[:8]
    return dns_name("locus", spec.name, "migrate", image_hash)


def instance_config(spec: InstanceSpec) -> InstanceConfig:
    """The instance's ``locus.yaml`` as the project's own model, password
    left out (it is added as ``{env: ...}`` when rendered)."""
    pg = spec.postgres
    return InstanceConfig(
        storage=StorageConfig(
            postgres=PostgresStorageConfig(
                host=pg.host, port=pg.port, database=pg.database, user=pg.user, params=dict(pg.params)
            )
        ),
        run_launcher=RunLauncherConfig(k8s=spec.run_launcher),
        run_coordinator=spec.run_coordinator,
        run_monitoring=spec.run_monitoring,
        run_retries=spec.run_retries,
        compute_logs=spec.compute_logs,
        schedules=spec.schedules,
        sensors=spec.sensors,
    )


def render_locus_yaml(spec: InstanceSpec) -> str:
    raw = instance_config(spec).model_dump(mode="json", by_alias=True, exclude_none=True)
    if spec.postgres.password_secret is not None:
        raw["storage"]["postgres"]["password"] = {"env": PASSWORD_ENV}
    header = f"# Rendered by the Locus operator from Instance {spec.namespace}/{spec.name}; edits are overwritten.\n"
    return header + yaml.safe_dump(raw, sort_keys=False)


def config_hash(spec: InstanceSpec) -> str:
    return hashlib.sha256(render_locus_yaml(spec).encode()).hexdigest()[:16]


def instance_configmap(spec: InstanceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(config_map_name(spec), spec.namespace, spec.labels("config"), spec.owner),
        "data": {CONFIG_FILE_NAME: render_locus_yaml(spec)},
    }


def _secret_env(name: str, secret: SecretKey) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}}}


def _container(
    spec: InstanceSpec, name: str, command: list[str], resources: Mapping[str, Any] | None
) -> dict[str, Any]:
    env: list[dict[str, Any]] = [{"name": LOCUS_HOME_ENV, "value": LOCUS_HOME_PATH}]
    if spec.postgres.password_secret is not None:
        env.append(_secret_env(PASSWORD_ENV, spec.postgres.password_secret))
    container: dict[str, Any] = {
        "name": name,
        "image": spec.image,
        "imagePullPolicy": spec.image_pull_policy,
        "command": command,
        "env": env,
        "securityContext": container_security_context(),
        "volumeMounts": writable_mounts(config_map_name(spec)),
    }
    if resources:
        container["resources"] = dict(resources)
    return container


def _pod_template(
    spec: InstanceSpec,
    component: str,
    container: dict[str, Any],
    overrides: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {
        "containers": [container],
        "volumes": writable_volumes(config_map_name(spec)),
        "securityContext": pod_security_context(),
        # Only the operator talks to the Kubernetes API (DESIGN.md section 2).
        "automountServiceAccountToken": False,
        **extra,
    }
    if spec.service_account_name:
        pod_spec["serviceAccountName"] = spec.service_account_name
    template = {
        "metadata": {
            "labels": spec.labels(component),
            # Pods roll when locus.yaml changes (it is mounted with subPath,
            # which does not follow ConfigMap updates).
            "annotations": {CONFIG_HASH_ANNOTATION: config_hash(spec)},
        },
        "spec": pod_spec,
    }
    return apply_pod_template_overrides(template, overrides, spec.selector(component))


def migration_job(spec: InstanceSpec) -> dict[str, Any]:
    container = _container(spec, "migrate", ["locus", "instance", "migrate"], spec.daemon.resources)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": object_meta(migration_job_name(spec), spec.namespace, spec.labels("migration"), spec.owner),
        "spec": {
            "backoffLimit": 3,
            "activeDeadlineSeconds": 600,
            "template": _pod_template(spec, "migration", container, spec.daemon.pod_template, restartPolicy="Never"),
        },
    }


def daemon_deployment(spec: InstanceSpec) -> dict[str, Any]:
    container = _container(spec, "daemon", ["locus", "daemon", "run"], spec.daemon.resources)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(daemon_name(spec), spec.namespace, spec.labels("daemon"), spec.owner),
        "spec": {
            # One daemon per instance: the old pod stops before the new one starts.
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": spec.selector("daemon")},
            "template": _pod_template(spec, "daemon", container, spec.daemon.pod_template),
        },
    }


def api_deployment(spec: InstanceSpec) -> dict[str, Any]:
    command = ["locus", "api", "serve", "--host", "0.0.0.0", "--port", str(API_PORT)]
    container = _container(spec, "api", command, spec.api.resources)
    if spec.api.auth_secret is not None:
        container["env"].append(_secret_env(TOKEN_ENV, spec.api.auth_secret))
    container["ports"] = [{"name": API_PORT_NAME, "containerPort": API_PORT, "protocol": "TCP"}]
    container["readinessProbe"] = {
        "httpGet": {"path": "/readyz", "port": API_PORT_NAME},
        "periodSeconds": 5,
        "failureThreshold": 3,
    }
    container["livenessProbe"] = {
        "httpGet": {"path": "/healthz", "port": API_PORT_NAME},
        "periodSeconds": 10,
        "failureThreshold": 6,
        "timeoutSeconds": 5,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(api_name(spec), spec.namespace, spec.labels("api"), spec.owner),
        "spec": {
            "replicas": spec.api.replicas,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "selector": {"matchLabels": spec.selector("api")},
            "template": _pod_template(spec, "api", container, spec.api.pod_template),
        },
    }


def api_service(spec: InstanceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(api_name(spec), spec.namespace, spec.labels("api"), spec.owner),
        "spec": {
            "type": "ClusterIP",
            "selector": spec.selector("api"),
            "ports": [
                {"name": API_PORT_NAME, "port": API_PORT, "targetPort": API_PORT_NAME, "protocol": "TCP"}
            ],
        },
    }
