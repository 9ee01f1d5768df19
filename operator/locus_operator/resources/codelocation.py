"""The CodeLocation Kind: one user code image served by a gRPC code server."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, WithJsonSchema, model_validator

from locus_operator.resources.common import (
    PRESERVE,
    VALIDATIONS,
    ConditionList,
    EnvFromList,
    EnvList,
    FreeFormObject,
    ResourceModel,
)

TARGET_FIELDS = ("module", "pythonFile", "package")
EXACTLY_ONE_TARGET_RULE = "[has(self.module), has(self.pythonFile), has(self.package)].filter(x, x).size() == 1"
EXACTLY_ONE_TARGET_MESSAGE = (
    "exactly one of spec.module, spec.pythonFile or spec.package must be set: keep the one that loads your "
    "Definitions and remove the others"
)


class InstanceRef(ResourceModel):
    """The Instance a location registers with; another namespace is allowed."""

    name: str = Field(default="default", min_length=1)
    namespace: str | None = Field(default=None, min_length=1, description="Default: the CodeLocation's namespace.")


# A string (the Instance's name) or {name, namespace}. A structural schema can
# give a field only one type, and CEL cannot see an untyped field, so the API
# server keeps it as is and the model below checks its shape.
InstanceRefField = Annotated[
    str | InstanceRef,
    WithJsonSchema(
        {
            PRESERVE: True,
            "default": "default",
            "description": "The Instance to register with: its name, or {name, namespace}. Default: default.",
        }
    ),
]


class CodeLocationSpec(ResourceModel):
    """The desired code server: image, what to load from it, and pod settings."""

    model_config = ConfigDict(
        json_schema_extra={VALIDATIONS: [{"rule": EXACTLY_ONE_TARGET_RULE, "message": EXACTLY_ONE_TARGET_MESSAGE}]}
    )

    image: str = Field(min_length=1, description="The user code image, e.g. registry.example.com/data/numbers:1.4.2.")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    module: str | None = Field(default=None, min_length=1, description="Python module holding the Definitions.")
    python_file: str | None = Field(default=None, min_length=1, description="Python file holding the Definitions.")
    package: str | None = Field(default=None, min_length=1, description="Python package holding the Definitions.")
    attribute: str | None = Field(default=None, min_length=1, description="Name of the Definitions object.")
    working_directory: str | None = Field(default=None, min_length=1, description="Directory the code server runs in.")
    instance_ref: InstanceRefField = "default"
    replicas: int = Field(default=1, ge=0, description="Code server pods.")
    port: int = Field(default=4000, ge=1, le=65535, description="gRPC port of the code server.")
    env: EnvList | None = None
    env_from: EnvFromList | None = None
    resources: FreeFormObject | None = Field(default=None, description="core/v1 ResourceRequirements.")
    service_account_name: str | None = Field(default=None, min_length=1)
    pod_template: FreeFormObject | None = Field(
        default=None, description="core/v1 PodTemplateSpec merged over the code server's pod."
    )
    run_template: FreeFormObject | None = Field(
        default=None, description="core/v1 PodTemplateSpec merged over the pods of run and step Jobs."
    )

    @model_validator(mode="after")
    def _exactly_one_target(self) -> CodeLocationSpec:
        chosen = [self.module, self.python_file, self.package]
        if sum(value is not None for value in chosen) != 1:
            raise ValueError(EXACTLY_ONE_TARGET_MESSAGE)
        return self

    @property
    def instance(self) -> InstanceRef:
        """The reference in its long form."""
        ref = self.instance_ref
        return InstanceRef(name=ref) if isinstance(ref, str) else ref


class DefinitionCounts(ResourceModel):
    """How many definitions the code server reported."""

    assets: int = Field(default=0, ge=0)
    jobs: int = Field(default=0, ge=0)
    schedules: int = Field(default=0, ge=0)
    sensors: int = Field(default=0, ge=0)


class LoadError(ResourceModel):
    """Why the code failed to load."""

    message: str
    traceback: str | None = None


class CodeLocationStatus(ResourceModel):
    """What the operator observed: conditions Ready, Loaded, Progressing (and Degraded)."""

    conditions: ConditionList | None = None
    observed_generation: int | None = Field(default=None, ge=0)
    image: str | None = Field(default=None, description="The image serving now.")
    endpoint: str | None = Field(default=None, description="host:port of the code server's Service.")
    definitions: DefinitionCounts | None = None
    load_error: LoadError | None = None


class CodeLocation(ResourceModel):
    """A whole CodeLocation object as the API server returns it."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["locus.dev/v1alpha1"] = "locus.dev/v1alpha1"
    kind: Literal["CodeLocation"] = "CodeLocation"
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: CodeLocationSpec
    status: CodeLocationStatus | None = None
