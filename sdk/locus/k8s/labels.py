"""Labels, owner references and deterministic names of the objects Locus
creates, so that a restarted operator finds (adopts) what it made before
instead of creating duplicates."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

API_VERSION = "locus.dev/v1alpha1"

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
LOCATION_LABEL = "locus.dev/location"

APP_NAME = "locus"
MANAGER = "locus-operator"

# DNS-1123 label: what Service names (and every name here) must be.
MAX_NAME_LENGTH = 63
_HASH_LENGTH = 8
_INVALID_NAME_CHARS = re.compile(r"[^a-z0-9-]+")
_INVALID_LABEL_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Owner:
    """The custom resource that owns a child object (garbage collection
    deletes the child with it)."""

    kind: str
    name: str
    uid: str
    api_version: str = API_VERSION


def owner_reference(kind: str, name: str, uid: str, api_version: str = API_VERSION) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owner_references(owner: Owner) -> list[dict[str, Any]]:
    return [owner_reference(owner.kind, owner.name, owner.uid, owner.api_version)]


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]


def dns_name(*parts: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """``parts`` joined with ``-`` as a DNS-1123 label: lowercase, only
    ``[a-z0-9-]``, starting and ending alphanumeric. Too long or rewritten
    names end in a hash of the original, so that two different inputs never
    collide after truncation (``My_Loc`` and ``my-loc`` stay distinct)."""
    original = "-".join(parts)
    cleaned = _INVALID_NAME_CHARS.sub("-", original.lower())
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip("-") or "x"
    if cleaned == original and len(cleaned) <= max_length:
        return cleaned
    suffix = _short_hash(original)
    if cleaned != original and len(cleaned) + 1 + len(suffix) <= max_length:
        return f"{cleaned}-{suffix}"
    head = cleaned[: max_length - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def label_value(value: str) -> str:
    """``value`` as a valid label value (at most 63 characters of
    ``[A-Za-z0-9._-]``, alphanumeric at both ends), hashed when rewritten."""
    if len(value) <= MAX_NAME_LENGTH and re.fullmatch(r"([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?", value):
        return value
    suffix = _short_hash(value)
    cleaned = _INVALID_LABEL_CHARS.sub("-", value).strip("-._")
    head = cleaned[: MAX_NAME_LENGTH - len(suffix) - 1].rstrip("-._")
    return f"{head}-{suffix}" if head else suffix


def selector_labels(instance: str, component: str, location: str | None = None) -> dict[str, str]:
    """The labels a Deployment selects its pods by; never changed once
    created (a Deployment's selector is immutable)."""
    labels = {
        NAME_LABEL: APP_NAME,
        INSTANCE_LABEL: label_value(instance),
        COMPONENT_LABEL: component,
    }
    if location is not None:
        labels[LOCATION_LABEL] = label_value(location)
    return labels


def standard_labels(
    instance: str, component: str, location: str | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The ``app.kubernetes.io/*`` labels (plus ``locus.dev/location``);
    ``extra`` labels cannot override them."""
    return {**(extra or {}), **selector_labels(instance, component, location), MANAGED_BY_LABEL: MANAGER}


def object_meta(
    name: str, namespace: str, labels: Mapping[str, str], owner: Owner | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(labels)}
    if owner is not None:
        meta["ownerReferences"] = owner_references(owner)
    return meta


def code_server_name(location: str) -> str:
    """Deployment and Service of a location: ``locus-codeserver-<location>``."""
    return dns_name("locus-codeserver", location)


def instance_object_name(instance: str, component: str) -> str:
    """``locus-<instance>-<component>``, e.g. ``locus-default-api``."""
    return dns_name("locus", instance, component)
