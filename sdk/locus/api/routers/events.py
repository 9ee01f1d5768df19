"""A run's event log (paged, or streamed as server-sent events) and its
steps' captured stdout/stderr."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse

from locus.api.context import ApiContext, context
from locus.api.errors import ApiError
from locus.api.models import EventPage, RunLogs
from locus.api.routers.runs import run_or_404
from locus.api.sse import run_events
from locus.api.views import event_body
from locus.execution.compute_logs import ComputeLogError

router = APIRouter(prefix="/api/runs", tags=["events and logs"])

# The tail of a step's output returned at most, per stream.
MAX_LOG_BYTES = 2 * 1024 * 1024


@router.get("/{run_id}/events", response_model=EventPage)
def list_events(
    run_id: str,
    after: int = Query(0, ge=0, description="storage id of the last event already seen"),
    limit: int = Query(1000, ge=1, le=10_000),
    ctx: ApiContext = Depends(context),
) -> dict[str, Any]:
    run_or_404(ctx, run_id)
    records = ctx.instance.get_events(run_id, after_id=after, limit=limit)
    return {"events": [event_body(r) for r in records], "last_id": records[-1].storage_id if records else after}


@router.get(
    "/{run_id}/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "one `data:` line per event"}},
)
def stream_events(
    run_id: str,
    after: int = Query(0, ge=0, description="start after this storage id"),
    last_event_id: int | None = Header(None, ge=0, description="sent by EventSource on reconnect; wins over after"),
    ctx: ApiContext = Depends(context),
) -> StreamingResponse:
    """Server-sent events: each event as ``data: {json}`` with ``id:`` its
    storage id, then ``event: end`` once the run has finished."""
    run_or_404(ctx, run_id)
    start = last_event_id if last_event_id is not None else after
    return StreamingResponse(
        run_events(ctx.instance.storage, run_id, start, ctx.sse_poll_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{run_id}/logs", response_model=RunLogs)
def run_logs(
    run_id: str,
    step: str | None = Query(None, description="only this step"),
    ctx: ApiContext = Depends(context),
) -> dict[str, Any]:
    """Each step's captured stdout and stderr (the last 2 MiB of each), from
    the instance's compute-log manager: local files, or object storage."""
    run = run_or_404(ctx, run_id)
    manager = ctx.instance.compute_log_manager
    steps: dict[str, dict[str, str]] = {}
    try:
        # Listed, never built from the request: a step name cannot reach outside the run's logs.
        for key in manager.step_keys(run.run_id):
            if step is not None and key != step:
                continue
            logs = manager.read_step(run.run_id, key, MAX_LOG_BYTES)
            steps[key] = {"stdout": logs.stdout, "stderr": logs.stderr}
    except ComputeLogError as exc:
        raise ApiError(502, "compute_logs_unavailable", exc.message, exc.hint) from None
    return {"steps": steps}
