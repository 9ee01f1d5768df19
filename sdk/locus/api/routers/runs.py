"""Runs: listing with filters and cursor pagination, launching (validated by
the location's code server, stored QUEUED, handed to the run queue),
reading one, terminating and re-executing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from locus.api.context import ApiContext, context
from locus.api.errors import ApiError
from locus.api.models import RunCreated, RunDetail, RunPage, RunStatusBody
from locus.api.routers.locations import location_body
from locus.api.views import event_body
from locus.codeserver.client import CodeServerClient, CodeServerUnavailable
from locus.definitions.errors import LocusError
from locus.execution.events import Event, EventType, RunStatus
from locus.execution.runs import RunRecord, RunsFilter
from locus.workspace.submission import RunSubmission, SubmissionError, reexecution, submit_run

router = APIRouter(prefix="/api/runs", tags=["runs"])


class LaunchRun(BaseModel):
    location: str = Field(description="the code location's name")
    job_name: str | None = Field(None, description="the job; optional with asset_selection (the implicit asset job)")
    asset_selection: list[str] | str | None = Field(
        None, description='asset keys ("a/b") or a selection string ("group:sales+")'
    )
    run_config: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


class Reexecute(BaseModel):
    strategy: Literal["ALL_STEPS", "FROM_FAILURE"] = Field(
        default="ALL_STEPS",
        description="ALL_STEPS: the whole run again; FROM_FAILURE: only the steps that did not succeed",
    )
    tags: dict[str, str] = Field(default_factory=dict, description="added to the parent's tags")


_STATUS_BY_KIND = {"not_found": 404, "not_loaded": 409, "invalid": 422, "unreachable": 503}


def _submission_error(exc: SubmissionError) -> ApiError:
    details = location_body(exc.details) if exc.kind == "not_loaded" and exc.details is not None else exc.details
    return ApiError(_STATUS_BY_KIND[exc.kind], exc.code, exc.message, exc.hint, details)


def run_or_404(ctx: ApiContext, run_id: str) -> RunRecord:
    run = ctx.instance.get_run(run_id)
    if run is None:
        raise ApiError(404, "run_not_found", f"no run with id '{run_id}'", "list runs with GET /api/runs")
    return run


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def _tags(raw: list[str]) -> dict[str, str]:
    tags = {}
    for item in raw:
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise ApiError(
                422, "invalid_request", f"tag filter {item!r} is not key:value", "e.g. ?tag=team:sales",
                {"errors": [{"path": "query.tag", "message": "expected key:value"}]},
            )
        tags[key] = value
    return tags


@router.get("", response_model=RunPage)
def list_runs(
    status: list[RunStatus] | None = Query(None, description="any of these statuses (repeat the parameter)"),
    job: str | None = Query(None, description="the job's name"),
    location: str | None = Query(None, description="the code location's name"),
    tag: list[str] | None = Query(None, description="key:value; repeat for several (all must match)"),
    created_after: datetime | None = Query(None, description="ISO 8601 or epoch seconds; naive means UTC"),
    created_before: datetime | None = Query(None, description="ISO 8601 or epoch seconds; naive means UTC"),
    limit: int = Query(100, ge=1, le=1000),
    cursor: str | None = Query(None, description="next_cursor of the previous page"),
    ctx: ApiContext = Depends(context),
) -> dict[str, Any]:
    """Newest first, ``limit`` at a time."""
    filters = RunsFilter(
        job_name=job,
        location_name=location,
        statuses=tuple(status) if status else None,
        tags=_tags(tag) if tag else None,
        created_after=_epoch(created_after),
        created_before=_epoch(created_before),
    )
    storage = ctx.instance.storage
    if cursor is not None and storage.get_run(cursor) is None:
        raise ApiError(
            422, "invalid_cursor", f"cursor {cursor!r} names no run", "pass next_cursor from the previous page",
            {"errors": [{"path": "query.cursor", "message": "no run with this id"}]},
        )
    # One row more than asked says whether another page exists.
    found = storage.get_runs(filters, limit + 1, cursor)
    page = found[:limit]
    return {"runs": [r.to_dict() for r in page], "next_cursor": page[-1].run_id if len(found) > limit else None}


@router.post("", status_code=201, response_model=RunCreated)
def launch_run(body: LaunchRun, ctx: ApiContext = Depends(context)) -> dict[str, str]:
    manager = ctx.require_manager("launch runs")
    submission = RunSubmission(
        location=body.location,
        job_name=body.job_name,
        asset_selection=body.asset_selection,
        run_config=body.run_config,
        tags=body.tags,
    )
    try:
        run = submit_run(manager, ctx.instance, submission)
    except SubmissionError as exc:
        raise _submission_error(exc) from None
    ctx.wake_queue()
    return {"run_id": run.run_id}


@router.get("/{run_id}", response_model=RunDetail)
def get_run(run_id: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    run = run_or_404(ctx, run_id)
    return {"run": run.to_dict(), "events": [event_body(r) for r in ctx.instance.get_events(run_id)]}


@router.post("/{run_id}/terminate", response_model=RunStatusBody)
def terminate_run(run_id: str, ctx: ApiContext = Depends(context)) -> dict[str, str]:
    """A queued run is canceled at once. A launched one is marked CANCELING
    and its code server asked to stop it; the run records CANCELED when it
    has stopped (or the run monitor does, after its cancel timeout)."""
    run = run_or_404(ctx, run_id)
    if run.status.is_finished:
        raise ApiError(409, "run_finished", f"run {run_id} already finished ({run.status.value})",
                       "re-execute it instead: POST /api/runs/{run_id}/reexecute")
    if run.status in (RunStatus.QUEUED, RunStatus.NOT_STARTED):
        ctx.instance.store_event(Event(run_id, EventType.RUN_CANCELED, "canceled through the API before it started"))
        return {"run_id": run_id, "status": RunStatus.CANCELED.value}
    if run.status != RunStatus.CANCELING:
        ctx.instance.store_event(Event(run_id, EventType.RUN_CANCELING, "termination requested through the API"))
    _ask_code_server_to_cancel(ctx, run)
    current = ctx.instance.get_run(run_id)
    return {"run_id": run_id, "status": (current or run).status.value}


def _ask_code_server_to_cancel(ctx: ApiContext, run: RunRecord) -> None:
    name = run.location_name
    if name is None:
        return
    try:
        if ctx.manager is not None:
            ctx.manager.client(name).cancel_run(run.run_id, timeout=10)
            return
        record = ctx.instance.storage.get_location(name)
        if record is not None and record.endpoint:
            with CodeServerClient(record.endpoint, default_timeout=10) as client:
                client.cancel_run(run.run_id)
    except LocusError as exc:
        # The run stays CANCELING; the run monitor finishes the job.
        ctx.instance.store_event(Event(run.run_id, EventType.ENGINE_EVENT,
                                       f"could not reach the code server to cancel: {exc.message}", level="WARNING"))


@router.post("/{run_id}/reexecute", status_code=201, response_model=RunCreated)
def reexecute_run(run_id: str, body: Reexecute | None = None, ctx: ApiContext = Depends(context)) -> dict[str, str]:
    manager = ctx.require_manager("re-execute runs")
    parent = run_or_404(ctx, run_id)
    options = body or Reexecute()
    try:
        submission = reexecution(manager, ctx.instance, parent, options.strategy, "the API (re-execution)",
                                 tags=options.tags)
        run = submit_run(manager, ctx.instance, submission)
    except SubmissionError as exc:
        raise _submission_error(exc) from None
    except CodeServerUnavailable as exc:
        raise ApiError(503, "location_unreachable", exc.message, exc.hint) from None
    ctx.wake_queue()
    return {"run_id": run.run_id}
