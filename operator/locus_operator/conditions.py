"""Status conditions as Kubernetes' API conventions describe them: one entry
per type, ``lastTransitionTime`` moving only when ``status`` changes, and the
``observedGeneration`` they were computed for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Cond:
    type: str
    status: Status
    reason: str
    message: str = ""


def now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def merge_conditions(
    previous: Sequence[Mapping[str, Any]] | None, current: Sequence[Cond], generation: int | None
) -> list[dict[str, Any]]:
    """``current`` as condition objects, keeping each type's
    ``lastTransitionTime`` from ``previous`` when its status did not change."""
    before = {c.get("type"): c for c in previous or ()}
    merged: list[dict[str, Any]] = []
    for cond in current:
        old = before.get(cond.type)
        kept = old.get("lastTransitionTime") if old is not None and old.get("status") == cond.status else None
        entry: dict[str, Any] = {
            "type": cond.type,
            "status": cond.status,
            "reason": cond.reason,
            "message": cond.message,
            "lastTransitionTime": kept or now(),
        }
        if generation is not None:
            entry["observedGeneration"] = generation
        merged.append(entry)
    return merged


def condition(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == type_), None)


def is_true(conditions: Sequence[Mapping[str, Any]] | None, type_: str) -> bool:
    found = condition(conditions, type_)
    return found is not None and found.get("status") == "True"
