"""Small pure helpers shared by the kubelet and the controllers.

They follow the Kubernetes semantics closely (quantities, int-or-percent
rounding, label selectors, safe name suffixes) because the point of the
harness is that objects behave as a real cluster would treat them; keeping
them pure makes each rule unit-testable without a server.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import logging
import math
import random
import re
from collections.abc import Coroutine, Mapping
from decimal import Decimal
from typing import Any

# Kubernetes' rand.String and SafeEncodeString alphabet: no vowels (no words), no look-alikes.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

Obj = dict[str, Any]


def now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC)


def rfc3339(moment: datetime.datetime | None = None) -> str:
    """Seconds precision, ``Z`` suffix: what the API server stores for metav1.Time."""
    return (moment or now()).astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def random_suffix(length: int = 5) -> str:
    return "".join(random.choice(SAFE_ALPHABET) for _ in range(length))


def template_hash(template: Mapping[str, Any], length: int = 10) -> str:
    """A stable hash of a pod template in the safe alphabet: the same template gives the same
    ``pod-template-hash`` across controller restarts, which is what makes adoption work."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True, separators=(",", ":")).encode()).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(SAFE_ALPHABET))
        chars.append(SAFE_ALPHABET[index])
    return "".join(chars)


_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1), "m": Decimal("0.001"), "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}


def parse_quantity(value: str | int | float) -> Decimal:
    """A resource.Quantity (``50Mi``, ``1.5G``, ``500m``, ``129e6``) as a number."""
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(value.strip())
    if not match or match.group(2) not in _SUFFIXES:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number, suffix = match.groups()
    if suffix == "" and "e" in number.lower():
        return Decimal(number)
    return Decimal(number) * _SUFFIXES[suffix]


def memory_bytes(value: str | int | float) -> int:
    return math.ceil(parse_quantity(value))


def int_or_percent(value: int | str | None, total: int, default: int | str, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: maxSurge rounds up, maxUnavailable down."""
    if value is None:
        value = default
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.endswith("%"):
        return int(text)
    scaled = Decimal(text[:-1]) * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions) against a label set.

    An empty selector matches everything; ``None`` matches nothing, as for
    Deployments/Services the API treats a missing selector."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def map_selector_matches(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    """A Service's plain ``spec.selector`` map; an empty or missing one selects no pods
    (such Services expect manually managed endpoints)."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def condition(obj: Mapping[str, Any], kind: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def pod_ready(pod: Mapping[str, Any]) -> bool:
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def pod_terminating(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def pod_terminal(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def key_of(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def set_condition(conditions: list[Obj], new: Obj, timestamp: str | None = None) -> list[Obj]:
    """Replace the condition of the same type, keeping ``lastTransitionTime`` unless the status flips."""
    timestamp = timestamp or rfc3339()
    result = []
    found = False
    for cond in conditions:
        if cond.get("type") == new["type"]:
            found = True
            merged = dict(new)
            same = cond.get("status") == new.get("status")
            merged["lastTransitionTime"] = cond.get("lastTransitionTime", timestamp) if same else timestamp
            result.append(merged)
        else:
            result.append(cond)
    if not found:
        result.append({**new, "lastTransitionTime": timestamp})
    return result


_background: set[asyncio.Task[Any]] = set()


def _finished(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logging.getLogger("kubelet").error("background task %s failed", task.get_name(), exc_info=task.exception())


def spawn(coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
    """A fire-and-forget task that is neither garbage-collected early nor fails silently."""
    task = asyncio.create_task(coro, name=name)
    _background.add(task)
    task.add_done_callback(_finished)
    return task
