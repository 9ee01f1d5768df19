"""Schedules and sensors: their status (stored InstigatorState, else the
definition's default), starting and stopping them, and their ticks. State
is stored under ``"<location>:<name>"``, the id the daemon reads."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from locus.api.context import ApiContext, context
from locus.api.errors import ApiError
from locus.api.models import Schedule, ScheduleList, Sensor, SensorList, TickList
from locus.api.snapshots import LoadedLocation
from locus.api.views import schedule_body, sensor_body, tick_body
from locus.codeserver.snapshot import LocationSnapshot, ScheduleSnapshot, SensorSnapshot
from locus.daemon.scheduler import origin_id, start_instigator, stop_instigator
from locus.storage.records import InstigatorState, InstigatorStatus, InstigatorType, TickRecord

router = APIRouter(tags=["schedules and sensors"])

Kind = Literal["schedule", "sensor"]


def _states(ctx: ApiContext, kind: InstigatorType) -> dict[str, InstigatorState]:
    return {s.origin_id: s for s in ctx.instance.storage.get_instigator_states(kind)}


def _last_tick(ctx: ApiContext, origin: str) -> TickRecord | None:
    ticks = ctx.instance.storage.get_ticks(origin, limit=1)
    return ticks[0] if ticks else None


def schedule_bodies(ctx: ApiContext, locations: list[LoadedLocation]) -> list[dict[str, Any]]:
    states = _states(ctx, "schedule")
    bodies = []
    for loc in locations:
        for s in loc.snapshot.schedules:
            origin = origin_id(loc.name, s.name)
            bodies.append(schedule_body(loc.name, s, states.get(origin), _last_tick(ctx, origin)))
    return bodies


def sensor_bodies(ctx: ApiContext, locations: list[LoadedLocation]) -> list[dict[str, Any]]:
    states = _states(ctx, "sensor")
    bodies = []
    for loc in locations:
        for s in loc.snapshot.sensors:
            origin = origin_id(loc.name, s.name)
            bodies.append(sensor_body(loc.name, s, states.get(origin), _last_tick(ctx, origin)))
    return bodies


def _definition(ctx: ApiContext, kind: Kind, location: str, name: str) -> ScheduleSnapshot | SensorSnapshot:
    snapshot: LocationSnapshot = ctx.snapshots.get(location)
    found = snapshot.schedule(name) if kind == "schedule" else snapshot.sensor(name)
    if found is None:
        known = [s.name for s in (snapshot.schedules if kind == "schedule" else snapshot.sensors)]
        raise ApiError(
            404,
            f"{kind}_not_found",
            f"code location '{location}' has no {kind} '{name}'",
            f"its {kind}s: {', '.join(known) or '(none)'}",
        )
    return found


def _set_status(ctx: ApiContext, kind: Kind, location: str, name: str, status: InstigatorStatus) -> dict[str, Any]:
    definition = _definition(ctx, kind, location, name)
    origin = origin_id(location, name)
    # The daemon's own rules: a started schedule does not backfill, a cursor
    # survives stop/start, and an explicit choice overrides the code's default.
    change = start_instigator if status == "RUNNING" else stop_instigator
    state = change(ctx.instance, kind, location, name)
    if isinstance(definition, ScheduleSnapshot):
        return schedule_body(location, definition, state, _last_tick(ctx, origin))
    return sensor_body(location, definition, state, _last_tick(ctx, origin))


def _ticks(ctx: ApiContext, kind: Kind, location: str, name: str, limit: int) -> dict[str, Any]:
    _definition(ctx, kind, location, name)
    return {"ticks": [tick_body(t) for t in ctx.instance.storage.get_ticks(origin_id(location, name), limit=limit)]}


_LIMIT = Query(20, ge=1, le=1000, description="newest first")


@router.get("/api/schedules", response_model=ScheduleList)
def list_schedules(ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    return {"schedules": schedule_bodies(ctx, ctx.snapshots.loaded())}


@router.post("/api/schedules/{location}/{name}/start", response_model=Schedule)
def start_schedule(location: str, name: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    return _set_status(ctx, "schedule", location, name, "RUNNING")


@router.post("/api/schedules/{location}/{name}/stop", response_model=Schedule)
def stop_schedule(location: str, name: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    return _set_status(ctx, "schedule", location, name, "STOPPED")


@router.get("/api/schedules/{location}/{name}/ticks", response_model=TickList)
def schedule_ticks(location: str, name: str, limit: int = _LIMIT, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    return _ticks(ctx, "schedule", location, name, limit)


@router.get("/api/sensors", response_model=SensorList)
def list_sensors(ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    return {"sensors": sensor_bodies(ctx, ctx.snapshots.loaded())}


@router.post("/api/sensors/{location}/{name}/start", response_model=Sensor)
def start_sensor(location: str, name: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    return _set_status(ctx, "sensor", location, name, "RUNNING")


@router.post("/api/sensors/{location}/{name}/stop", response_model=Sensor)
def stop_sensor(location: str, name: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    return _set_status(ctx, "sensor", location, name, "STOPPED")


@router.get("/api/sensors/{location}/{name}/ticks", response_model=TickList)
def sensor_ticks(location: str, name: str, limit: int = _LIMIT, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    return _ticks(ctx, "sensor", location, name, limit)
