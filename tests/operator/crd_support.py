"""Check custom resources the way the API server would, without one: the
CRD's openAPIV3Schema, unknown fields rejected like `kubectl apply` with strict
field validation, and its CEL rules. The checks themselves live in
`e2e/local/crdvalidation.py`, shared with the local harness's API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from e2e.local.crdvalidation import PRESERVE, RULES, CrdSchema, walk

from locus_operator.crd.build import KINDS, build_crd

__all__ = ["PRESERVE", "REPO", "RULES", "SAMPLES", "api_server_errors", "crd_for", "load_sample", "schema_of", "walk"]

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "examples" / "k8s"


def crd_for(kind: str) -> dict[str, Any]:
    (match,) = (k for k in KINDS if k.kind == kind)
    return build_crd(match)


def schema_of(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def api_server_errors(cr: dict[str, Any]) -> list[str]:
    """What the API server would answer to this CR; empty when it is accepted."""
    admission = CrdSchema(schema_of(crd_for(cr["kind"]))).admit(cr)
    unknown = [f'{path}: unknown field "{path}"' for path in admission.unknown_fields]
    return unknown + [f"{cause['field']}: {cause['message']}" for cause in admission.causes]


def load_sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SAMPLES / name).read_text())
    return data
