"""Definitions per code location (assets, jobs, schedules, sensors) and
jobs across locations, from the locations' snapshots."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from locus.api.context import ApiContext, context
from locus.api.models import AssetList, JobList, ScheduleList, SensorList
from locus.api.routers.assets import asset_bodies
from locus.api.routers.instigators import schedule_bodies, sensor_bodies
from locus.api.snapshots import LoadedLocation
from locus.api.views import job_body, user_jobs

router = APIRouter(tags=["definitions"])


@router.get("/api/locations/{name}/assets", response_model=AssetList)
def location_assets(name: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    return {"assets": asset_bodies(ctx, [LoadedLocation(name, ctx.snapshots.get(name))])}


@router.get("/api/locations/{name}/jobs", response_model=JobList)
def location_jobs(name: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    return {"jobs": [job_body(name, job) for job in user_jobs(ctx.snapshots.get(name))]}


@router.get("/api/locations/{name}/schedules", response_model=ScheduleList)
def location_schedules(name: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    return {"schedules": schedule_bodies(ctx, [LoadedLocation(name, ctx.snapshots.get(name))])}


@router.get("/api/locations/{name}/sensors", response_model=SensorList)
def location_sensors(name: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    return {"sensors": sensor_bodies(ctx, [LoadedLocation(name, ctx.snapshots.get(name))])}


@router.get("/api/jobs", response_model=JobList)
def list_jobs(
    location: str | None = Query(None, description="only this code location's jobs"),
    ctx: ApiContext = Depends(context),
) -> dict[str, Any]:
    locations = [LoadedLocation(location, ctx.snapshots.get(location))] if location else ctx.snapshots.loaded()
    return {"jobs": [job_body(loc.name, job) for loc in locations for job in user_jobs(loc.snapshot)]}
