"""Pure builders of response bodies from snapshots and stored records
(the shapes ``models`` documents). No I/O: handlers fetch, these shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from locus.codeserver.snapshot import AssetSnapshot, JobSnapshot, LocationSnapshot, ScheduleSnapshot, SensorSnapshot
from locus.daemon.scheduler import is_running, origin_id
from locus.definitions.asset_job import IMPLICIT_ASSET_JOB
from locus.execution.events import EventRecord
from locus.storage.records import InstigatorState, TickRecord


def key_string(path: tuple[str, ...] | list[str]) -> str:
    return "/".join(path)


def event_body(record: EventRecord) -> dict[str, Any]:
    return {"storage_id": record.storage_id, **record.event.to_dict()}


def downstream_index(snapshot: LocationSnapshot) -> dict[tuple[str, ...], list[str]]:
    found: dict[tuple[str, ...], list[str]] = {}
    for asset in snapshot.assets:
        for up in asset.upstream:
            found.setdefault(up, []).append(key_string(asset.key))
    return found


def asset_body(
    location: str,
    asset: AssetSnapshot,
    downstream: Mapping[tuple[str, ...], list[str]],
    latest: EventRecord | None,
) -> dict[str, Any]:
    return {
        "key": key_string(asset.key),
        "location": location,
        "group": asset.group_name,
        "kinds": list(asset.kinds),
        "description": asset.description,
        "upstream": [key_string(k) for k in asset.upstream],
        "downstream": sorted(downstream.get(asset.key, [])),
        "latest_materialization": {"run_id": latest.event.run_id, "timestamp": latest.event.timestamp}
        if latest is not None
        else None,
    }


def user_jobs(snapshot: LocationSnapshot) -> list[JobSnapshot]:
    """The jobs users defined: the implicit asset job is launched by selecting assets."""
    return [j for j in snapshot.jobs if j.name != IMPLICIT_ASSET_JOB]


def job_body(location: str, job: JobSnapshot) -> dict[str, Any]:
    return {
        "name": job.name,
        "location": location,
        "description": job.description,
        "tags": dict(job.tags),
        "executor": job.executor_name,
        "ops": list(job.node_names),
        "edges": [list(edge) for edge in job.edges],
        "asset_keys": [key_string(k) for k in job.asset_keys],
        "config_schemas": dict(job.op_config_schemas),
    }


def tick_body(tick: TickRecord) -> dict[str, Any]:
    return {
        "tick_id": tick.tick_id,
        "origin_id": tick.origin_id,
        "tick_key": tick.tick_key,
        "status": tick.status.value,
        "timestamp": tick.timestamp,
        "run_ids": list(tick.run_ids),
        "run_keys": list(tick.run_keys),
        "skip_reason": tick.skip_reason,
        "error": tick.error.to_dict() if tick.error is not None else None,
        "cursor": tick.cursor,
    }


def instigator_status(state: InstigatorState | None, default_status: str) -> str:
    """What the daemon does with it: an explicit start/stop wins, otherwise the
    definition's default (the daemon's own rule, so the page never disagrees)."""
    return "RUNNING" if is_running(state, default_status.upper()) else "STOPPED"


def schedule_body(
    location: str, schedule: ScheduleSnapshot, state: InstigatorState | None, last_tick: TickRecord | None
) -> dict[str, Any]:
    return {
        "location": location,
        "name": schedule.name,
        "origin_id": origin_id(location, schedule.name),
        "job_name": schedule.job_name,
        "status": instigator_status(state, schedule.default_status),
        "default_status": schedule.default_status,
        "cron_schedule": schedule.cron_schedules[0] if schedule.cron_schedules else "",
        "cron_schedules": list(schedule.cron_schedules),
        "execution_timezone": schedule.execution_timezone,
        "description": schedule.description,
        "last_tick": tick_body(last_tick) if last_tick is not None else None,
    }


def sensor_body(
    location: str, sensor: SensorSnapshot, state: InstigatorState | None, last_tick: TickRecord | None
) -> dict[str, Any]:
    return {
        "location": location,
        "name": sensor.name,
        "origin_id": origin_id(location, sensor.name),
        "job_names": list(sensor.job_names),
        "status": instigator_status(state, sensor.default_status),
        "default_status": sensor.default_status,
        "minimum_interval_seconds": sensor.minimum_interval_seconds,
        "description": sensor.description,
        "cursor": state.cursor if state is not None else None,
        "last_tick": tick_body(last_tick) if last_tick is not None else None,
    }
