"""Just enough OpenAPI v3 for kubectl to trust the server's own validation.

kubectl 1.35 validates what it sends (``--validate=strict``, the default) by
asking, per kind, whether the server supports the ``fieldValidation`` query
parameter: it looks for a PATCH operation tagged with the kind's
``x-kubernetes-group-version-kind`` that declares that parameter in
``/openapi/v3/<group-version>``. When it finds one it sends
``fieldValidation=Strict`` and leaves validation to the server (as here, see
:mod:`e2e.local.crdvalidation`); without any OpenAPI it refuses to apply.

The documents carry no schemas and no request bodies, so kubectl builds its
patches as without OpenAPI: strategic merge patches from its compiled-in types
for built-ins, JSON merge patches for custom resources. Each group version's
URL carries a hash of its kinds, so kubectl's cache follows CRD changes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from e2e.local._apiserver_resources import Catalog, ResourceType

PARAMETER = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True},
             "description": "Strict, Warn or Ignore: what to do with unknown or duplicate fields."}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _hash(types: list[ResourceType]) -> str:
    described = [(t.plural, t.kind, t.namespaced, t.subresources, t.crd_name) for t in types]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()[:32].upper()


def root(catalog: Catalog) -> dict[str, Any]:
    paths = {}
    for group, versions in catalog.groups().items():
        for version in versions:
            path = _gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={_hash(catalog.in_version(group, version))}"}
    return {"paths": paths}


def _object_path(rt: ResourceType) -> str:
    namespace = "/namespaces/{namespace}" if rt.namespaced else ""
    return f"/{_gv_path(rt.group, rt.version)}{namespace}/{rt.plural}/{{name}}"


def group_version(catalog: Catalog, group: str, version: str) -> dict[str, Any] | None:
    types = catalog.in_version(group, version)
    if not types:
        return None
    paths = {
        _object_path(rt): {"patch": {
            "operationId": f"patch{rt.kind}",
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "parameters": [PARAMETER],
            "responses": {"200": {"description": "OK"}},
        }}
        for rt in types
    }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (locus local harness)", "version": "v1.35.0"},
            "paths": paths, "components": {"schemas": {}}}
