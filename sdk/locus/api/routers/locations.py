"""Code locations: their status as the workspace manager sees it (or, with
no manager, as the storage registry has it), and reloading one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from locus.api.context import ApiContext, context
from locus.api.errors import ApiError
from locus.execution.events import ErrorInfo
from locus.storage.records import LocationRecord
from locus.workspace.manager import LocationNotFound
from locus.workspace.state import LocationState

router = APIRouter(prefix="/api/locations", tags=["locations"])


def _error(info: ErrorInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {"cls_name": info.cls_name, "message": info.message, "traceback": info.traceback}


def location_body(location: LocationState | LocationRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": location.name,
        "status": location.status.value,
        "image": location.image,
        "endpoint": location.endpoint,
        "snapshot_id": location.snapshot_id,
        "counts": dict(location.counts),
        "load_error": _error(location.load_error),
        "updated_at": location.updated_at,
    }
    if isinstance(location, LocationState):
        body |= {"kind": location.kind, "detail": location.detail, "pid": location.pid,
                 "server_id": location.server_id, "restarts": location.restarts}
    return body


def not_found(exc: LocationNotFound) -> ApiError:
    return ApiError(404, "location_not_found", exc.message, exc.hint)


@router.get("")
def list_locations(ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    found: list[LocationState] | list[LocationRecord]
    found = ctx.manager.locations() if ctx.manager is not None else ctx.instance.storage.get_locations()
    return {"locations": [location_body(location) for location in found]}


@router.get("/{name}")
def get_location(name: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    if ctx.manager is not None:
        try:
            return location_body(ctx.manager.get(name))
        except LocationNotFound as exc:
            raise not_found(exc) from None
    record = ctx.instance.storage.get_location(name)
    if record is None:
        raise ApiError(404, "location_not_found", f"no code location named '{name}'")
    return location_body(record)


@router.post("/{name}/reload")
def reload_location(name: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    """Restart that location's code server (re-fetch a grpc_server's snapshot)
    and answer once it has loaded or failed; other locations are untouched."""
    manager = ctx.require_manager("reload a location")
    try:
        manager.reload(name)
        settings = manager.settings_for(name)
    except LocationNotFound as exc:
        raise not_found(exc) from None
    manager.wait_until_settled(settings.startup_timeout_seconds + settings.rpc_timeout_seconds, names=[name])
    return location_body(manager.get(name))
