"""The chart's values as pydantic models: `charts/locus/values.schema.json` is
generated from `Values`, so Helm rejects an unknown key or a bad value and
names it. camelCase in values.yaml, snake_case here; every field carries the
description the README's values table shows.

The Instance's run settings (`instance.runCoordinator`, ...) reuse the
Instance CRD's own models, so values that Helm accepts the API server accepts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from locus_operator.resources.instance import (
    ComputeLogsSpec,
    RunCoordinatorSpec,
    RunLauncherSpec,
    RunMonitoringSpec,
    RunRetriesSpec,
)

DnsLabel = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
Quantity = Annotated[str | int | float, Field(description="A Kubernetes quantity, e.g. 250m, 1, 512Mi.")]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]
FreeForm = dict[str, Any]

# Cross-field rules JSON Schema can say; `Values` checks the same in Python and
# the templates `fail` with the same words when schema validation is skipped.
BOTH_STORAGES = "set postgresql.enabled=false to use externalPostgresql.host, or empty externalPostgresql.host"
NO_STORAGE = (
    "the default Instance needs PostgreSQL: set postgresql.enabled=true (bundled, for trying Locus out) or "
    "externalPostgresql.host and externalPostgresql.passwordSecret.name"
)
_STORAGE_RULES: list[JsonValue] = [
    {
        "$comment": BOTH_STORAGES,
        "if": {"properties": {"postgresql": {"properties": {"enabled": {"const": True}}}}},
        "then": {"properties": {"externalPostgresql": {"properties": {"host": {"maxLength": 0}}}}},
    },
    {
        "$comment": NO_STORAGE,
        "if": {
            "properties": {
                "instance": {"properties": {"enabled": {"const": True}}},
                "postgresql": {"properties": {"enabled": {"const": False}}},
            }
        },
        "then": {
            "properties": {
                "externalPostgresql": {
                    "properties": {
                        "host": {"minLength": 1},
                        "passwordSecret": {"properties": {"name": {"minLength": 1}}},
                    }
                }
            }
        },
    },
]


class ChartModel(BaseModel):
    """camelCase keys; an unknown key is an error (`additionalProperties: false`)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Resources(ChartModel):
    """core/v1 ResourceRequirements of one container."""

    requests: dict[str, Quantity] = Field(
        default_factory=dict, description="What the scheduler reserves, e.g. {cpu: 100m, memory: 128Mi}."
    )
    limits: dict[str, Quantity] = Field(
        default_factory=dict, description="Upper bounds; past the memory limit the container is restarted."
    )


class Image(ChartModel):
    """A container image reference."""

    repository: str = Field(min_length=1, description="Registry and repository, without tag.")
    tag: str = Field(description="Image tag.")
    digest: str = Field(
        default="",
        pattern=r"^(sha256:[0-9a-f]{64})?$",
        description="sha256:... digest; when set, the image is pulled by digest (the tag stays for readers).",
    )
    pull_policy: PullPolicy = Field(default="IfNotPresent", description="Always, IfNotPresent or Never.")


class SystemImage(Image):
    """The Locus system image: operator, daemon, API and schema migrations."""

    repository: str = Field(default="ghcr.io/locus/locus", min_length=1, description="Registry and repository.")
    tag: str = Field(default="", description="Image tag; empty: the chart's appVersion.")


class PostgresImage(Image):
    """The bundled PostgreSQL's image (the official one)."""

    repository: str = Field(default="docker.io/library/postgres", min_length=1, description="Registry and repository.")
    tag: str = Field(default="16.9-bookworm", min_length=1, description="Image tag (a PostgreSQL 13 or newer).")


class LocalObjectReference(ChartModel):
    """A named object in the release namespace."""

    name: str = Field(min_length=1, description="Name of the object.")


class ServiceAccount(ChartModel):
    """The operator's ServiceAccount (the only Locus identity that calls the Kubernetes API)."""

    create: bool = Field(default=True, description="Create it; false: use an existing one named `name`.")
    name: str = Field(default="", description="Its name; empty: <fullname>-operator.")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Annotations, e.g. for cloud workload identity."
    )


class Rbac(ChartModel):
    """The operator's RBAC, generated from the calls it makes (locus_operator/rbac.py)."""

    create: bool = Field(
        default=True, description="Create the (Cluster)Roles and bindings; false: you grant the same rules yourself."
    )


class Operator(ChartModel):
    """The operator Deployment (`locus operator run`)."""

    replicas: int = Field(
        default=1, ge=0, le=1, description="1, or 0 to stop it: the operator has no leader election, run one."
    )
    watch_namespaces: list[DnsLabel] = Field(
        default_factory=list,
        json_schema_extra={"uniqueItems": True},
        description=(
            "Namespaces to watch, each granted a Role; empty: every namespace (one ClusterRole). "
            "With the default Instance, include the release namespace. The namespaces must exist."
        ),
    )
    health_port: int = Field(
        default=8080, ge=1024, le=65535, description="Port of GET /healthz (liveness and readiness probes)."
    )
    resources: Resources = Field(
        default_factory=lambda: Resources(requests={"cpu": "100m", "memory": "192Mi"}, limits={"memory": "512Mi"}),
        description="CPU and memory of the operator container.",
    )
    env: list[FreeForm] = Field(
        default_factory=list, description="Extra environment variables (core/v1 EnvVar) of the operator container."
    )
    pod_annotations: dict[str, str] = Field(default_factory=dict, description="Annotations of the operator pod.")
    pod_labels: dict[str, str] = Field(default_factory=dict, description="Extra labels of the operator pod.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Node labels the pod must match.")
    tolerations: list[FreeForm] = Field(default_factory=list, description="core/v1 Tolerations of the pod.")
    affinity: FreeForm = Field(default_factory=dict, description="core/v1 Affinity of the pod.")
    priority_class_name: str = Field(default="", description="PriorityClass of the pod; empty: the cluster default.")

    @model_validator(mode="after")
    def _unique_namespaces(self) -> Operator:
        if len(set(self.watch_namespaces)) != len(self.watch_namespaces):
            raise ValueError("operator.watchNamespaces lists a namespace twice")
        return self


class ApiAuth(ChartModel):
    """Bearer-token authentication of the REST API."""

    enabled: bool = Field(default=True, description="Require `Authorization: Bearer <token>` on every endpoint.")
    existing_secret: str = Field(
        default="",
        description=(
            "A Secret in the release namespace holding the token; empty: the chart generates "
            "<fullname>-api-token and keeps its token across upgrades."
        ),
    )
    existing_secret_key: str = Field(default="token", min_length=1, description="The key of the token in that Secret.")


class InstanceApi(ChartModel):
    """The Instance's REST API Deployment (spec.api)."""

    replicas: int = Field(default=1, ge=0, description="API pods; they share the database, any number works.")
    resources: Resources = Field(default_factory=Resources, description="CPU and memory of each API container.")
    pod_template: FreeForm = Field(
        default_factory=dict, description="core/v1 PodTemplateSpec merged over the API pods (spec.api.podTemplate)."
    )
    auth: ApiAuth = Field(default_factory=ApiAuth, description="Bearer-token authentication.")


class InstanceDaemon(ChartModel):
    """The Instance's daemon Deployment (spec.daemon): schedules, sensors, retries."""

    resources: Resources = Field(default_factory=Resources, description="CPU and memory of the daemon container.")
    pod_template: FreeForm = Field(
        default_factory=dict,
        description="core/v1 PodTemplateSpec merged over the daemon pod (spec.daemon.podTemplate).",
    )


class InstanceValues(ChartModel):
    """The chart's optional default Instance custom resource, in the release namespace."""

    enabled: bool = Field(default=True, description="Create the Instance; false: create your own Instances.")
    name: DnsLabel = Field(default="default", description="Its name; CodeLocations name it in spec.instanceRef.")
    run_coordinator: RunCoordinatorSpec = Field(
        default_factory=RunCoordinatorSpec,
        description="spec.runCoordinator: maxConcurrentRuns, tagConcurrencyLimits (kubectl explain instance.spec).",
    )
    run_launcher: RunLauncherSpec = Field(
        default_factory=RunLauncherSpec,
        description="spec.runLauncher: jobNamespace, ttlSecondsAfterFinished, backoffLimit, podTemplate.",
    )
    run_monitoring: RunMonitoringSpec = Field(
        default_factory=RunMonitoringSpec,
        description="spec.runMonitoring: enabled, start/cancel timeouts, pollIntervalSeconds.",
    )
    run_retries: RunRetriesSpec = Field(
        default_factory=RunRetriesSpec,
        description="spec.runRetries: enabled, maxRetries, retryOnAssetOrOpFailure, retryStrategy.",
    )
    compute_logs: ComputeLogsSpec = Field(
        default_factory=ComputeLogsSpec, description="spec.computeLogs: baseDir for step stdout/stderr."
    )
    daemon: InstanceDaemon = Field(default_factory=InstanceDaemon, description="The daemon Deployment.")
    api: InstanceApi = Field(default_factory=InstanceApi, description="The REST API Deployment and its auth.")


class Persistence(ChartModel):
    """Where the bundled PostgreSQL keeps its data."""

    enabled: bool = Field(
        default=True, description="A PersistentVolumeClaim; false: an emptyDir, lost with the pod (tests, demos)."
    )
    size: str = Field(default="8Gi", pattern=r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$", description="Size.")
    storage_class_name: str = Field(default="", description="StorageClass of the claim; empty: the cluster default.")


class BundledPostgresql(ChartModel):
    """A single-pod PostgreSQL StatefulSet for trying Locus out; use externalPostgresql in production."""

    enabled: bool = Field(default=True, description="Deploy it and point the default Instance at it.")
    image: PostgresImage = Field(default_factory=PostgresImage, description="The PostgreSQL image.")
    database: str = Field(default="locus", pattern=r"^[a-z_][a-z0-9_]*$", description="Database to create.")
    user: str = Field(default="locus", pattern=r"^[a-z_][a-z0-9_]*$", description="User to create; its password is "
                      "generated into the Secret <fullname>-postgresql (key password) and kept across upgrades.")
    persistence: Persistence = Field(default_factory=Persistence, description="Data volume.")
    resources: Resources = Field(
        default_factory=lambda: Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"memory": "1Gi"}),
        description="CPU and memory of the PostgreSQL container.",
    )


class SecretKeySelector(ChartModel):
    """A key of a Secret in the release namespace."""

    name: str = Field(default="", description="Name of the Secret.")
    key: str = Field(default="password", min_length=1, description="Key inside the Secret.")


class ExternalPostgresql(ChartModel):
    """Your own PostgreSQL (the production path); used when postgresql.enabled is false."""

    host: str = Field(default="", description="Host name; empty unless postgresql.enabled is false.")
    port: int = Field(default=5432, ge=1, le=65535, description="Port.")
    database: str = Field(default="locus", min_length=1, description="Database (create it first).")
    user: str = Field(default="locus", min_length=1, description="User (owner of the database's schema).")
    password_secret: SecretKeySelector = Field(
        default_factory=SecretKeySelector, description="The Secret key holding the user's password."
    )
    params: dict[str, str] = Field(
        default_factory=dict, description="libpq connection parameters, e.g. {sslmode: require}."
    )


class Values(ChartModel):
    """Everything `helm install -f values.yaml` accepts."""

    model_config = ConfigDict(
        title="Values of the Locus Helm chart", json_schema_extra={"allOf": _STORAGE_RULES}
    )

    name_override: str = Field(default="", description="Replaces the chart name in object names.")
    fullname_override: str = Field(default="", description="Replaces <release>-<chart> in object names.")
    global_: FreeForm = Field(
        default_factory=dict, alias="global", description="Values shared with parent charts; unused by this chart."
    )
    image: SystemImage = Field(
        default_factory=SystemImage, description="The system image: operator, daemon, API, migrations."
    )
    image_pull_secrets: list[LocalObjectReference] = Field(
        default_factory=list, description="Secrets for pulling the system image, e.g. [{name: regcred}]."
    )
    service_account: ServiceAccount = Field(default_factory=ServiceAccount, description="The operator's identity.")
    rbac: Rbac = Field(default_factory=Rbac, description="The operator's permissions.")
    operator: Operator = Field(default_factory=Operator, description="The operator Deployment.")
    instance: InstanceValues = Field(default_factory=InstanceValues, description="The default Instance.")
    postgresql: BundledPostgresql = Field(default_factory=BundledPostgresql, description="Bundled PostgreSQL.")
    external_postgresql: ExternalPostgresql = Field(
        default_factory=ExternalPostgresql, description="External PostgreSQL, when postgresql.enabled is false."
    )

    @model_validator(mode="after")
    def _one_storage(self) -> Values:
        if self.postgresql.enabled and self.external_postgresql.host:
            raise ValueError(BOTH_STORAGES)
        external = self.external_postgresql
        has_external = bool(external.host and external.password_secret.name)
        if self.instance.enabled and not self.postgresql.enabled and not has_external:
            raise ValueError(NO_STORAGE)
        return self
