"""Liveness (``/healthz``: the process answers; never needs the token) and
readiness (``/readyz``: storage answers and its schema is the one this
version needs; 503 saying which is not)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from locus.api.context import ApiContext, context
from locus.api.errors import ApiError
from locus.api.models import Health, Ready
from locus.storage.schema import HEAD_REVISION

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=Ready)
def readyz(ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    storage = ctx.instance.storage
    try:
        revision = storage.schema_version()
    except Exception as exc:
        raise ApiError(
            503, "storage_unreachable", f"storage {storage.describe()} does not answer: {type(exc).__name__}: {exc}",
            "check the database is up and the instance's storage settings",
        ) from None
    if revision != HEAD_REVISION:
        raise ApiError(
            503, "schema_outdated", f"the storage schema is at revision {revision or 'none'}, this API needs "
            f"{HEAD_REVISION}", "run `locus instance migrate`", {"revision": revision, "required": HEAD_REVISION},
        )
    return {"status": "ready", "storage": storage.describe(), "schema_version": revision}
