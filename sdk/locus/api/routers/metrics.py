"""``/metrics`` for Prometheus: runs by status, queue depth, code locations
by status, each daemon loop's heartbeat age, and how late each running
schedule's latest due tick is."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from locus.api.context import ApiContext, context
from locus.api.prometheus import CONTENT_TYPE, Metric, render
from locus.api.views import instigator_status
from locus.codeserver.snapshot import ScheduleSnapshot
from locus.daemon.scheduler import origin_id
from locus.execution.events import RunStatus
from locus.execution.runs import RunsFilter
from locus.storage.records import InstigatorState, LocationStatus, TickRecord

router = APIRouter(tags=["health"])


def latest_due(schedule: ScheduleSnapshot, now: float) -> float | None:
    """The most recent time at or before ``now`` when the schedule was due."""
    try:
        zone = ZoneInfo(schedule.execution_timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    start = datetime.fromtimestamp(now, zone)
    due = [float(croniter(expr, start).get_prev(float)) for expr in schedule.cron_schedules if croniter.is_valid(expr)]
    return max(due) if due else None


def tick_lag(schedule: ScheduleSnapshot, state: InstigatorState | None, last: TickRecord | None, now: float) -> float:
    """Seconds since the latest due time that has no tick yet; 0 when it has
    one, or when the schedule was started only after that time."""
    due = latest_due(schedule, now)
    if due is None or (last is not None and last.timestamp >= due) or (state is not None and state.updated_at > due):
        return 0.0
    return max(0.0, now - due)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text"}},
)
def metrics(ctx: ApiContext = Depends(context)) -> PlainTextResponse:
    storage = ctx.instance.storage
    now = time.time()
    by_status = [({"status": s.value}, float(storage.count_runs(RunsFilter(statuses=(s,))))) for s in RunStatus]
    queued = next(v for labels, v in by_status if labels["status"] == RunStatus.QUEUED.value)
    statuses = (
        [s.status for s in ctx.manager.locations()] if ctx.manager is not None
        else [r.status for r in storage.get_locations()]
    )
    locations = [({"status": s.value}, float(statuses.count(s))) for s in LocationStatus]
    beats = sorted(storage.get_daemon_heartbeats().items())
    heartbeats = [({"daemon": name}, max(0.0, now - beat.timestamp)) for name, beat in beats]
    states = {s.origin_id: s for s in storage.get_instigator_states("schedule")}
    lags = []
    for loc in ctx.snapshots.loaded():
        for schedule in loc.snapshot.schedules:
            origin = origin_id(loc.name, schedule.name)
            state = states.get(origin)
            if instigator_status(state, schedule.default_status) != "RUNNING":
                continue
            ticks = storage.get_ticks(origin, limit=1)
            lag = tick_lag(schedule, state, ticks[0] if ticks else None, now)
            lags.append(({"location": loc.name, "schedule": schedule.name}, lag))
    text = render([
        Metric("locus_runs", "Runs in storage by status.", samples=by_status),
        Metric("locus_run_queue_depth", "Runs waiting in the run queue (QUEUED).", samples=[({}, queued)]),
        Metric("locus_code_locations", "Code locations by status.", samples=locations),
        Metric("locus_daemon_heartbeat_age_seconds", "Seconds since each daemon loop's last heartbeat.",
               samples=heartbeats),
        Metric("locus_schedule_tick_lag_seconds",
               "Seconds since a running schedule's latest due time that has no tick yet.", samples=lags),
    ])
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
