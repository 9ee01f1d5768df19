"""Assets across every loaded location, with lineage and the latest
materialisation from storage; one asset by key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from locus.api.context import ApiContext, context
from locus.api.errors import ApiError
from locus.api.models import Asset, AssetList
from locus.api.snapshots import LoadedLocation
from locus.api.views import asset_body, downstream_index, key_string
from locus.definitions.asset_key import AssetKey

router = APIRouter(prefix="/api/assets", tags=["assets"])


def asset_bodies(
    ctx: ApiContext, locations: list[LoadedLocation], group: str | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    chosen = [
        (loc, asset)
        for loc in locations
        for asset in loc.snapshot.assets
        if (group is None or asset.group_name == group) and (kind is None or kind in asset.kinds)
    ]
    latest = ctx.instance.storage.get_latest_materializations([AssetKey(a.key) for _, a in chosen]) if chosen else {}
    downstream = {loc.name: downstream_index(loc.snapshot) for loc in locations}
    return [
        asset_body(loc.name, asset, downstream[loc.name], latest.get(AssetKey(asset.key))) for loc, asset in chosen
    ]


@router.get("", response_model=AssetList)
def list_assets(
    location: str | None = Query(None, description="only this code location's assets"),
    group: str | None = Query(None, description="only this group"),
    kind: str | None = Query(None, description="only assets of this kind"),
    ctx: ApiContext = Depends(context),
) -> dict[str, Any]:
    locations = [LoadedLocation(location, ctx.snapshots.get(location))] if location else ctx.snapshots.loaded()
    return {"assets": asset_bodies(ctx, locations, group, kind)}


@router.get("/{key:path}", response_model=Asset)
def get_asset(key: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    """``key`` is the asset key's parts joined by "/", e.g. ``raw/orders``."""
    path = tuple(part for part in key.split("/") if part)
    locations = ctx.snapshots.loaded()
    for loc in locations:
        asset = loc.snapshot.asset(path)
        if asset is not None:
            latest = ctx.instance.storage.get_latest_materialization(AssetKey(asset.key))
            return asset_body(loc.name, asset, downstream_index(loc.snapshot), latest)
    raise ApiError(
        404, "asset_not_found", f"no loaded code location defines asset '{key_string(path)}'",
        "list assets with GET /api/assets; a key's parts are joined by '/', and its location must be LOADED",
        {"locations": [loc.name for loc in locations]},
    )
