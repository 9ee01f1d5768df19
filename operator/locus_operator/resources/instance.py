"""The Instance Kind: storage and system services, mirroring locus.yaml."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from locus_operator.resources.common import (
    VALIDATIONS,
    ConditionList,
    FreeFormObject,
    ResourceModel,
    SecretKeyRef,
)

TAG_LIMIT_RULE = "!(has(self.value) && has(self.applyLimitPerUniqueValue) && self.applyLimitPerUniqueValue)"
TAG_LIMIT_MESSAGE = "set either value or applyLimitPerUniqueValue: true, not both"


class PostgresStorage(ResourceModel):
    """The PostgreSQL database; the password only through a Secret."""

    host: str = Field(min_length=1)
    port: int = Field(default=5432, ge=1, le=65535)
    database: str = Field(min_length=1)
    user: str = Field(min_length=1)
    password_secret_ref: SecretKeyRef | None = None
    params: dict[str, str] | None = Field(default=None, description="libpq connection parameters, e.g. sslmode.")


class StorageSpec(ResourceModel):
    """Run, event and schedule storage (PostgreSQL on Kubernetes)."""

    postgres: PostgresStorage


class TagConcurrencyLimit(ResourceModel):
    """At most `limit` runs with tag `key` (= `value`, or per distinct value)."""

    model_config = ConfigDict(json_schema_extra={VALIDATIONS: [{"rule": TAG_LIMIT_RULE, "message": TAG_LIMIT_MESSAGE}]})

    key: str = Field(min_length=1)
    value: str | None = None
    apply_limit_per_unique_value: bool | None = None
    limit: int = Field(ge=0)

    @model_validator(mode="after")
    def _value_or_per_unique_value(self) -> TagConcurrencyLimit:
        if self.value is not None and self.apply_limit_per_unique_value:
            raise ValueError(TAG_LIMIT_MESSAGE)
        return self


class RunCoordinatorSpec(ResourceModel):
    """The run queue."""

    max_concurrent_runs: int | None = Field(default=None, ge=-1, description="-1: no limit; 0: pause the queue.")
    tag_concurrency_limits: list[TagConcurrencyLimit] | None = None


class RunLauncherSpec(ResourceModel):
    """Kubernetes Jobs for runs."""

    job_namespace: Literal["Location", "Instance"] | None = Field(
        default=None,
        description="Where run Jobs go: the Instance's namespace (default; its config and password Secret are "
        "there) or the CodeLocation's (which then needs that ConfigMap and Secret too).",
    )
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0)
    backoff_limit: int | None = Field(default=None, ge=0)
    pod_template: FreeFormObject | None = Field(default=None, description="core/v1 PodTemplateSpec overrides.")


class RunMonitoringSpec(ResourceModel):
    """Detects runs stuck starting or cancelling."""

    enabled: bool | None = None
    start_timeout_seconds: float | None = Field(default=None, gt=0)
    cancel_timeout_seconds: float | None = Field(default=None, gt=0)
    poll_interval_seconds: float | None = Field(default=None, gt=0)


class RunRetriesSpec(ResourceModel):
    """Retries of failed runs."""

    enabled: bool | None = None
    max_retries: int | None = Field(default=None, ge=0)
    retry_on_asset_or_op_failure: bool | None = None
    retry_strategy: Literal["FROM_FAILURE", "ALL_STEPS"] | None = None


class S3ComputeLogsSpec(ResourceModel):
    """Step output uploaded to S3 while the step runs, so it outlives the pod (credentials: boto3's chain)."""

    bucket: str = Field(min_length=1, description="The bucket; it must exist.")
    prefix: str | None = Field(default=None, description="Key prefix. Default: locus-compute-logs.")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint, e.g. http://minio:9000.")
    region_name: str | None = None
    upload_interval: float | None = Field(default=None, gt=0, description="Seconds between uploads. Default: 1.")


class ComputeLogsSpec(ResourceModel):
    """Where step stdout/stderr are kept: files under baseDir, or objects in S3."""

    base_dir: str | None = Field(default=None, description="Local folder (with s3: only while steps write).")
    s3: S3ComputeLogsSpec | None = None


class DaemonSpec(ResourceModel):
    """The daemon Deployment (always one replica)."""

    resources: FreeFormObject | None = Field(default=None, description="core/v1 ResourceRequirements.")
    pod_template: FreeFormObject | None = Field(default=None, description="core/v1 PodTemplateSpec overrides.")


class ApiSpec(ResourceModel):
    """The REST API Deployment and Service."""

    replicas: int = Field(default=1, ge=0)
    resources: FreeFormObject | None = Field(default=None, description="core/v1 ResourceRequirements.")
    auth_secret_ref: SecretKeyRef | None = Field(default=None, description="Secret key holding the bearer token.")
    pod_template: FreeFormObject | None = Field(default=None, description="core/v1 PodTemplateSpec overrides.")


class InstanceSpec(ResourceModel):
    """The desired instance; fields mirror locus.yaml in camelCase."""

    storage: StorageSpec
    run_coordinator: RunCoordinatorSpec | None = None
    run_launcher: RunLauncherSpec | None = None
    run_monitoring: RunMonitoringSpec | None = None
    run_retries: RunRetriesSpec | None = None
    compute_logs: ComputeLogsSpec | None = None
    daemon: DaemonSpec | None = None
    api: ApiSpec | None = None


class InstanceStatus(ResourceModel):
    """Conditions Ready, StorageReady, DaemonReady, ApiReady and what they rest on."""

    conditions: ConditionList | None = None
    observed_generation: int | None = Field(default=None, ge=0)
    schema_version: str | None = Field(default=None, description="Alembic revision of the database.")
    locations: int | None = Field(default=None, ge=0, description="CodeLocations registered.")
    api_endpoint: str | None = Field(default=None, description="URL of the REST API Service.")


class Instance(ResourceModel):
    """A whole Instance object as the API server returns it."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["locus.dev/v1alpha1"] = "locus.dev/v1alpha1"
    kind: Literal["Instance"] = "Instance"
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: InstanceSpec
    status: InstanceStatus | None = None
