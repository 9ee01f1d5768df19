"""The two CRDs: names, schema, status subresource, printer columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from locus_operator.crd.schema import structural_schema
from locus_operator.resources import GROUP, VERSION, CodeLocationSpec, CodeLocationStatus, InstanceSpec, InstanceStatus

Column = dict[str, str | int]

_AGE: Column = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
_READY: Column = {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'}


@dataclass(frozen=True)
class KindSpec:
    """What a CRD needs to know about one Kind besides its models."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec_model: type[BaseModel]
    status_model: type[BaseModel]
    description: str
    printer_columns: tuple[Column, ...]


CODE_LOCATION = KindSpec(
    kind="CodeLocation",
    plural="codelocations",
    short_names=("cl", "codeloc"),
    spec_model=CodeLocationSpec,
    status_model=CodeLocationStatus,
    description="A user code image served by a Locus gRPC code server and registered with an Instance.",
    printer_columns=(
        _READY,
        {"name": "Image", "type": "string", "jsonPath": ".status.image"},
        {"name": "Assets", "type": "integer", "jsonPath": ".status.definitions.assets"},
        {"name": "Jobs", "type": "integer", "jsonPath": ".status.definitions.jobs"},
        {"name": "Error", "type": "string", "jsonPath": ".status.loadError.message", "priority": 1},
        _AGE,
    ),
)

INSTANCE = KindSpec(
    kind="Instance",
    plural="instances",
    short_names=("locinst",),
    spec_model=InstanceSpec,
    status_model=InstanceStatus,
    description="A Locus instance: its PostgreSQL storage, the daemon and the REST API.",
    printer_columns=(
        _READY,
        {"name": "Schema", "type": "string", "jsonPath": ".status.schemaVersion"},
        {"name": "Locations", "type": "integer", "jsonPath": ".status.locations"},
        {"name": "API", "type": "string", "jsonPath": ".status.apiEndpoint", "priority": 1},
        _AGE,
    ),
)

KINDS = (CODE_LOCATION, INSTANCE)


def crd_name(kind: KindSpec) -> str:
    return f"{kind.plural}.{GROUP}"


def build_crd(kind: KindSpec) -> dict[str, Any]:
    """The apiextensions.k8s.io/v1 CustomResourceDefinition of one Kind."""
    schema = {
        "type": "object",
        "description": kind.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": structural_schema(kind.spec_model),
            "status": structural_schema(kind.status_model),
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": crd_name(kind),
            "labels": {"app.kubernetes.io/name": "locus", "app.kubernetes.io/component": "crd"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                "shortNames": list(kind.short_names),
                "categories": ["locus"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": list(kind.printer_columns),
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }
