"""The API server's failures as Kubernetes ``Status`` objects.

Clients branch on ``reason`` and ``code`` (kopf retries a 409, kubectl prints
``details.causes`` of a 422 as ``field: message``), so every failure the
emulator answers is one of these, shaped like the real server's. They extend
kmock's :class:`KubernetesError`, so kmock's own error rendering keeps working.
"""

from __future__ import annotations

from typing import Any

import attrs
from kmock._internal.k8s import KubernetesError


@attrs.frozen
class ApiError(KubernetesError):
    """A failure answered as ``kind: Status``; ``details`` is sent as is."""

    def status_object(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message or "",
            "reason": self.reason or "",
            "details": self.details or {},
            "code": self.status,
        }


def _details(name: str | None, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind, **extra} if name else {"kind": kind, **extra}
    if group:
        details["group"] = group
    return details


def group_resource(plural: str, group: str) -> str:
    """``pods`` or ``codelocations.locus.dev``: how messages name a resource."""
    return f"{plural}.{group}" if group else plural


def not_found(plural: str, group: str, name: str) -> ApiError:
    message = f'{group_resource(plural, group)} "{name}" not found'
    return ApiError(404, "NotFound", message, _details(name, group, plural))


def already_exists(plural: str, group: str, name: str) -> ApiError:
    message = f'{group_resource(plural, group)} "{name}" already exists'
    return ApiError(409, "AlreadyExists", message, _details(name, group, plural))


def conflict(plural: str, group: str, name: str, why: str | None = None) -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    message = f'Operation cannot be fulfilled on {group_resource(plural, group)} "{name}": {why}'
    return ApiError(409, "Conflict", message, _details(name, group, plural))


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 with one cause per field, e.g. ``{"field": "spec.image", "message": "Required value"}``."""
    qualified = f"{kind}.{group}" if group else kind
    texts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    message = f'{qualified} "{name}" is invalid: {joined}'
    return ApiError(422, "Invalid", message, _details(name, group, kind, causes=causes))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message, {})


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message, {})


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(405, "MethodNotAllowed", message, {})


def unsupported_media_type(message: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", message, {})


def resource_not_found(what: str | None = None) -> ApiError:
    suffix = f" ({what})" if what else ""
    return ApiError(404, "NotFound", f"the server could not find the requested resource{suffix}", {})
