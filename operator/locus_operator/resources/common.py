"""Pieces shared by the Kinds: the API group, the model base, conditions and
the free-form Kubernetes objects passed through untouched."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

GROUP = "locus.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# The key in a model's JSON schema extra that carries CEL rules into the CRD.
VALIDATIONS = "x-kubernetes-validations"
PRESERVE = "x-kubernetes-preserve-unknown-fields"


class ResourceModel(BaseModel):
    """camelCase on the wire (as in the samples), snake_case in Python; unknown
    fields are errors, like `kubectl apply` with strict field validation."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# Kubernetes objects (EnvVar, ResourceRequirements, PodTemplateSpec...) that
# Locus passes on unchanged: the API server validates them where they land.
FreeFormObject = Annotated[dict[str, Any], WithJsonSchema({"type": "object", PRESERVE: True})]
EnvList = Annotated[
    list[dict[str, Any]],
    WithJsonSchema(
        {
            "type": "array",
            "description": "Container environment variables (core/v1 EnvVar), added to the defaults.",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string", "minLength": 1}},
                PRESERVE: True,
            },
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
        }
    ),
]
EnvFromList = Annotated[
    list[dict[str, Any]],
    WithJsonSchema(
        {
            "type": "array",
            "description": "Sources of environment variables (core/v1 EnvFromSource).",
            "items": {"type": "object", PRESERVE: True},
        }
    ),
]


class SecretKeyRef(ResourceModel):
    """A key of a Secret in the resource's namespace."""

    name: str = Field(min_length=1, description="Name of the Secret.")
    key: str = Field(min_length=1, description="Key inside the Secret.")


class Condition(ResourceModel):
    """A Kubernetes status condition (metav1.Condition)."""

    type: str = Field(min_length=1, description="Condition type, e.g. Ready.")
    status: Literal["True", "False", "Unknown"]
    reason: str | None = Field(default=None, description="CamelCase reason for the last transition.")
    message: str | None = Field(default=None, description="Human-readable details.")
    last_transition_time: datetime | None = Field(default=None, description="When status last changed.")
    observed_generation: int | None = Field(default=None, ge=0, description="Generation the condition is about.")


ConditionList = Annotated[
    list[Condition],
    Field(json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}),
]
