"""Runs: launching one (validated by the location's code server, stored
QUEUED, handed to the run queue) and reading one with its events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from locus.api.context import ApiContext, context
from locus.api.errors import ApiError
from locus.api.routers.locations import location_body
from locus.workspace.submission import RunSubmission, SubmissionError, submit_run

router = APIRouter(prefix="/api/runs", tags=["runs"])


class LaunchRun(BaseModel):
    location: str = Field(description="the code location's name")
    job_name: str | None = Field(None, description="the job; optional with asset_selection (the implicit asset job)")
    asset_selection: list[str] | str | None = Field(
        None, description='asset keys ("a/b") or a selection string ("group:sales+")'
    )
    run_config: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


_STATUS_BY_KIND = {"not_found": 404, "not_loaded": 409, "invalid": 422, "unreachable": 503}


@router.post("", status_code=201)
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
        details = location_body(exc.details) if exc.kind == "not_loaded" else exc.details
        raise ApiError(_STATUS_BY_KIND[exc.kind], exc.code, exc.message, exc.hint, details) from None
    if ctx.queue is not None:
        ctx.queue.wake()
    return {"run_id": run.run_id}


@router.get("/{run_id}")
def get_run(run_id: str, ctx: ApiContext = Depends(context)) -> dict[str, Any]:
    run = ctx.instance.get_run(run_id)
    if run is None:
        raise ApiError(404, "run_not_found", f"no run with id '{run_id}'", "list runs with `locus run list`")
    events = [{"storage_id": r.storage_id, **r.event.to_dict()} for r in ctx.instance.get_events(run_id)]
    return {"run": run.to_dict(), "events": events}
