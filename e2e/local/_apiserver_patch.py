"""The PATCH flavours the real API server accepts, as pure functions.

* JSON merge patch (RFC 7386): maps merge, ``null`` deletes, lists are replaced.
  kopf and kubectl (for custom resources) send these.
* Strategic merge patch: like a merge patch, but lists of known fields merge by
  their merge key (containers by ``name``, conditions by ``type``...), and the
  ``$patch``/``$retainKeys``/``$setElementOrder``/``$deleteFromPrimitiveList``
  directives are honoured or dropped. kubectl apply sends these for built-ins.
  The merge keys come from the field name, as the real server reads them from
  the Go types; custom resources are merge-patched, like the real server does.
* JSON patch (RFC 6902), via the ``jsonpatch`` package.

Inputs are never mutated; every function returns a new document.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from e2e.local._apiserver_errors import ApiError, bad_request, unsupported_media_type

MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "volumes": "name",
    "env": "name", "imagePullSecrets": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "conditions": "type", "ownerReferences": "uid", "hostAliases": "ip", "subsets": "addresses",
}
MERGED_PRIMITIVE_LISTS = {"finalizers"}
DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
ORDER_PREFIX = "$setElementOrder/"
DELETE_PRIMITIVE_PREFIX = "$deleteFromPrimitiveList/"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get(DIRECTIVE) == "replace":
        return _strip_directives({k: v for k, v in patch.items() if k != DIRECTIVE})
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith(DELETE_PRIMITIVE_PREFIX):
            field = key.removeprefix(DELETE_PRIMITIVE_PREFIX)
            result[field] = [item for item in result.get(field) or [] if item not in value]
        elif key.startswith("$"):
            continue
        elif value is None or (isinstance(value, dict) and value.get(DIRECTIVE) == "delete"):
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _patch_list(key, result.get(key), value)
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    if isinstance(patch.get(RETAIN_KEYS), list):
        result = {k: v for k, v in result.items() if k in patch[RETAIN_KEYS]}
    return result


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":  # containers' ports merge by containerPort, services' ports by port
        return "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"
    return MERGE_KEYS.get(field)


def _patch_list(field: str, target: Any, patch: list[Any]) -> list[Any]:
    current = list(target) if isinstance(target, list) else []
    if any(isinstance(i, dict) and i.get(DIRECTIVE) == "replace" for i in patch):
        return [_strip_directives(i) for i in patch if not (isinstance(i, dict) and DIRECTIVE in i)]
    if field in MERGED_PRIMITIVE_LISTS:
        return current + [i for i in patch if i not in current]
    key = _merge_key(field, current + patch)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return [_strip_directives(i) for i in patch]
    for item in patch:
        index = next((n for n, old in enumerate(current) if isinstance(old, dict) and old.get(key) == item.get(key)),
                     None)
        if item.get(DIRECTIVE) == "delete":
            if index is not None:
                del current[index]
        elif index is None:
            current.append(_strip_directives(item))
        else:
            current[index] = strategic_merge_patch(current[index], item)
    return current


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def json_patch(target: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    try:
        result: dict[str, Any] = jsonpatch.apply_patch(target, operations, in_place=False)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {exc}",
                       {}) from exc
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise bad_request(f"the server rejected our request due to an error in our request: {exc}") from exc
    return result


MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
APPLY_CBOR = "application/apply-patch+cbor"


def apply_patch(content_type: str, target: dict[str, Any], patch: Any, strategic: bool) -> dict[str, Any]:
    """Dispatch on the Content-Type; ``strategic`` is False for custom resources (merge semantics)."""
    if content_type == JSON_PATCH:
        return json_patch(target, patch)
    if not isinstance(patch, dict):
        raise bad_request("the patch must be a JSON object")
    if content_type in (STRATEGIC, APPLY) and strategic:
        result: dict[str, Any] = strategic_merge_patch(target, patch)
    elif content_type == STRATEGIC:
        raise unsupported_media_type(f"the body of the request was in an unknown format - accepted media types "
                                     f"include: {JSON_PATCH}, {MERGE}, {APPLY}")
    else:
        result = merge_patch(target, patch)
    return result
