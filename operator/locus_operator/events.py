"""Kubernetes events for the transitions a user watches for (``kubectl
describe codelocation`` shows them): became ready, failed to load, degraded.

One event per (object, reason, message): repeating it bumps its count
instead of creating another, so a restarted operator does not flood."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any, Literal

from locus_operator.conditions import now
from locus_operator.kube import ApiError, KubeClient, NotPermitted

log = logging.getLogger(__name__)
COMPONENT = "locus-operator"
MAX_MESSAGE = 1024


async def post_event(
    client: KubeClient,
    obj: Mapping[str, Any],
    reason: str,
    message: str,
    type_: Literal["Normal", "Warning"] = "Normal",
) -> None:
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace") or "default", meta.get("name", "")
    message = message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."
    digest = hashlib.sha256(f"{meta.get('uid')}/{reason}/{message}".encode()).hexdigest()[:12]
    event_name = f"{name}.{digest}"
    stamp = now()
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": event_name, "namespace": namespace},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": name,
            "namespace": namespace,
            "uid": meta.get("uid"),
        },
        "reason": reason,
        "message": message,
        "type": type_,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
    try:
        try:
            await client.create(event)
        except ApiError as error:
            if not error.conflict:
                raise
            existing = await client.get("Event", namespace, event_name)
            count = int((existing or {}).get("count") or 1) + 1
            await client.patch("Event", namespace, event_name, {"count": count, "lastTimestamp": stamp})
    except (ApiError, NotPermitted):
        # An event is a courtesy: failing to post one must not fail a reconcile.
        log.warning("could not post event %s on %s/%s", reason, namespace, name, exc_info=True)
