"""Runs: launching one (validated by the location's code server, stored
QUEUED, handed to the run queue) and reading one with its events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from locus.api.context import ApiContext, context
from locus.api.errors import ApiError
from locus.api.routers.locations import location_body, not_found
from locus.api.selection import resolve_selection
from locus.codeserver.client import CodeServerUnavailable
from locus.definitions.asset_job import IMPLICIT_ASSET_JOB
from locus.definitions.asset_key import AssetKey
from locus.definitions.errors import SelectionError
from locus.execution.events import Event, EventType, RunStatus
from locus.execution.runs import RunRecord, new_run_id
from locus.workspace.manager import LocationNotFound, LocationNotLoaded

router = APIRouter(prefix="/api/runs", tags=["runs"])


class LaunchRun(BaseModel):
    location: str = Field(description="the code location's name")
    job_name: str | None = Field(None, description="the job; optional with asset_selection (the implicit asset job)")
    asset_selection: list[str] | str | None = Field(
        None, description='asset keys ("a/b") or a selection string ("group:sales+")'
    )
    run_config: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


@router.post("", status_code=201)
def launch_run(body: LaunchRun, ctx: ApiContext = Depends(context)) -> dict[str, str]:
    manager = ctx.require_manager("launch runs")
    try:
        state = manager.get(body.location)
        client = manager.client(body.location)
    except LocationNotFound as exc:
        raise not_found(exc) from None
    except LocationNotLoaded as exc:
        raise ApiError(409, "location_not_loaded", exc.message, exc.hint, location_body(exc.state)) from None
    snapshot = state.snapshot
    assert snapshot is not None  # a loaded location has one

    selection: list[list[str]] | None = None
    if body.asset_selection is not None:
        try:
            selection = resolve_selection(snapshot, body.asset_selection)
        except (SelectionError, ValueError) as exc:
            message = exc.message if isinstance(exc, SelectionError) else str(exc)
            hint = exc.hint if isinstance(exc, SelectionError) else None
            raise ApiError(422, "invalid_asset_selection", message, hint,
                           {"errors": [{"path": "asset_selection", "message": message}]}) from None
    job_name = body.job_name or (IMPLICIT_ASSET_JOB if selection is not None else None)
    if job_name is None:
        raise ApiError(422, "invalid_request", "give job_name, asset_selection or both",
                       "e.g. {\"location\": ..., \"asset_selection\": \"*\"}",
                       {"errors": [{"path": "job_name", "message": "required without asset_selection"}]})
    job = snapshot.job(job_name)
    if job is None and job_name != IMPLICIT_ASSET_JOB:  # the implicit job is not in snapshots
        known = sorted(j.name for j in snapshot.jobs if j.name != IMPLICIT_ASSET_JOB)
        raise ApiError(422, "unknown_job", f"code location '{body.location}' has no job '{job_name}'",
                       f"jobs there: {', '.join(known) or '(none)'}",
                       {"errors": [{"path": "job_name", "message": f"no job '{job_name}'"}]})

    settings = manager.settings_for(body.location)
    try:
        plan = client.execution_plan(job_name, body.run_config, selection, None,
                                     timeout=settings.rpc_timeout_seconds)
    except CodeServerUnavailable as exc:
        raise ApiError(503, "location_unreachable", exc.message, exc.hint) from None
    if plan.errors:
        errors = [{"path": path, "message": message} for path, message in plan.errors]
        lines = "; ".join(f"{e['path'] or '(root)'}: {e['message']}" for e in errors)
        raise ApiError(422, "invalid_run", f"the run of '{job_name}' is not valid: {lines}",
                       "correct run_config (or the selection) at the paths in details", {"errors": errors})

    run = RunRecord(
        run_id=new_run_id(),
        job_name=plan.job_name,
        status=RunStatus.QUEUED,
        run_config=body.run_config,
        tags={**(job.tags if job is not None else {}), **body.tags},
        location_name=body.location,
        asset_selection=tuple(AssetKey(path) for path in plan.asset_selection)
        if plan.asset_selection is not None
        else None,
        origin={"location_name": body.location, "pointer": snapshot.code_pointer},
    )
    ctx.instance.add_run(run)
    ctx.instance.store_event(Event(run.run_id, EventType.RUN_ENQUEUED, "queued by the API"))
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
