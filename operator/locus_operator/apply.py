"""Idempotent apply of the children the operator owns.

Each child carries a hash of the manifest the operator last wrote
(``locus.dev/applied-hash``). Applying the same manifest again costs one GET
and nothing else; a changed manifest is written with a merge patch, which
replaces lists wholesale, so fields the operator dropped really go away.
Children have deterministic names: a restarted operator finds what it made
before and adopts it instead of creating a duplicate."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from locus_operator.kube import KubeClient

APPLIED_HASH = "locus.dev/applied-hash"

Outcome = Literal["created", "updated", "unchanged"]


def manifest_hash(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def with_hash(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """``manifest`` with its own hash in the annotations."""
    stamped = copy.deepcopy(dict(manifest))
    digest = manifest_hash(manifest)
    stamped["metadata"].setdefault("annotations", {})[APPLIED_HASH] = digest
    return stamped


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    obj: dict[str, Any]


async def apply(client: KubeClient, manifest: Mapping[str, Any]) -> Applied:
    """Create ``manifest`` or bring the live object in line with it."""
    desired = with_hash(manifest)
    meta = desired["metadata"]
    live = await client.get(desired["kind"], meta.get("namespace"), meta["name"])
    if live is None:
        return Applied("created", await client.create(desired))
    if (live["metadata"].get("annotations") or {}).get(APPLIED_HASH) == meta["annotations"][APPLIED_HASH]:
        return Applied("unchanged", live)
    patch = {key: value for key, value in desired.items() if key not in ("apiVersion", "kind", "status")}
    return Applied("updated", await client.patch(desired["kind"], meta.get("namespace"), meta["name"], patch))
