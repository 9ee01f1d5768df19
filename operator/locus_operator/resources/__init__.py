"""The custom resources' typed source of truth: one pydantic model per Kind.

`crds/*.yaml` is generated from these models (`scripts/generate`); the operator
parses the objects it receives with them, so a CR that slipped past the schema
is reported by field name instead of crashing a handler.
"""

from locus_operator.resources.codelocation import (
    CodeLocation,
    CodeLocationSpec,
    CodeLocationStatus,
    DefinitionCounts,
    InstanceRef,
    LoadError,
)
from locus_operator.resources.common import API_VERSION, GROUP, VERSION, Condition, SecretKeyRef
from locus_operator.resources.instance import (
    ApiSpec,
    DaemonSpec,
    Instance,
    InstanceSpec,
    InstanceStatus,
    PostgresStorage,
    RunCoordinatorSpec,
    StorageSpec,
    TagConcurrencyLimit,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "VERSION",
    "ApiSpec",
    "CodeLocation",
    "CodeLocationSpec",
    "CodeLocationStatus",
    "Condition",
    "DaemonSpec",
    "DefinitionCounts",
    "Instance",
    "InstanceRef",
    "InstanceSpec",
    "InstanceStatus",
    "LoadError",
    "PostgresStorage",
    "RunCoordinatorSpec",
    "SecretKeyRef",
    "StorageSpec",
    "TagConcurrencyLimit",
]
