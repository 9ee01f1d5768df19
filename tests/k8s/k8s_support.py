"""Sample specs and the Kubernetes OpenAPI validation the k8s tests share."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

from locus.instance.config import RunCoordinatorConfig, RunRetriesConfig, TagConcurrencyLimit
from locus.k8s.codeserver import CodeServerSpec
from locus.k8s.instance import ApiSpec, InstanceSpec, PostgresSpec, SecretKey
from locus.k8s.labels import Owner

KUBERNETES_VERSION = "1.31"
PASSWORD = "s3cr3t-never-in-a-configmap"


def validate(manifest: dict[str, Any]) -> None:
    """Raises kubernetes_validate.ValidationError unless ``manifest`` fits
    the upstream schema; strict: unknown fields are errors too."""
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def location_spec(**changes: Any) -> CodeServerSpec:
    values: dict[str, Any] = {
        "location": "seed-examples",
        "namespace": "data",
        "image": "registry.example.com/seed:1.2",
        "owner": Owner(kind="CodeLocation", name="seed-examples", uid="0b9f6f6e-1111-4c1e-9a57-5b0c7d2c1a01"),
        "module": "examples.seed",
        "attribute": "defs",
        "working_directory": "/app",
        "instance_config_map": "locus-default-config",
    }
    values.update(changes)
    return CodeServerSpec(**values)


def instance_spec(**changes: Any) -> InstanceSpec:
    values: dict[str, Any] = {
        "name": "default",
        "namespace": "locus",
        "image": "ghcr.io/locus/locus:0.1.0",
        "owner": Owner(kind="Instance", name="default", uid="7d1c2b1a-2222-4c1e-9a57-5b0c7d2c1a02"),
        "postgres": PostgresSpec(
            host="pg.locus.svc",
            database="locus",
            user="locus",
            password_secret=SecretKey(name="locus-pg", key="password"),
            params={"sslmode": "require"},
        ),
        "run_coordinator": RunCoordinatorConfig(
            max_concurrent_runs=10,
            tag_concurrency_limits=[TagConcurrencyLimit.model_validate({"key": "team", "limit": 2})],
        ),
        "run_retries": RunRetriesConfig(enabled=True, max_retries=2),
        "api": ApiSpec(replicas=2, auth_secret=SecretKey(name="locus-api", key="token")),
    }
    values.update(changes)
    return InstanceSpec(**values)
