"""Submitting a run of a loaded code location: resolved and validated by the
location's code server (no user code in this process), stored QUEUED. The API,
the scheduler, sensors and retries all submit runs through here.

A run id given by the caller makes submission idempotent: schedules and
sensors derive it from the tick or run key, so a daemon killed half-way and
restarted finds the run already there instead of creating a second one."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from locus.codeserver.client import CodeServerClient, CodeServerUnavailable
from locus.codeserver.results import PlanResult
from locus.definitions.asset_job import IMPLICIT_ASSET_JOB
from locus.definitions.asset_key import AssetKey
from locus.definitions.errors import LocusError, SelectionError
from locus.execution.events import EventType, RunStatus
from locus.execution.runs import RunRecord, new_run_id
from locus.instance.instance import LocusInstance
from locus.storage.errors import DuplicateRunError
from locus.workspace.manager import LocationNotFound, LocationNotLoaded, WorkspaceManager
from locus.workspace.selection import resolve_selection


@dataclass(frozen=True)
class RunSubmission:
    location: str
    job_name: str | None = None
    asset_selection: str | Sequence[str] | Sequence[Sequence[str]] | None = None
    run_config: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    run_id: str | None = None
    step_keys: Sequence[str] | None = None
    parent_run_id: str | None = None
    root_run_id: str | None = None
    queued_by: str = "the API"


class SubmissionError(LocusError):
    """Why a run could not be submitted. ``kind`` says whose problem it is:
    not_found / not_loaded / invalid (the request) / unreachable (the server)."""

    def __init__(self, kind: str, code: str, message: str, hint: str | None = None, details: Any = None) -> None:
        super().__init__(message, hint)
        self.kind = kind
        self.code = code
        self.details = details


class _PlanCache:
    """Execution plans by code-server process: a server loads its code once,
    so for one server id the same request always plans the same. Schedules
    submit the same job and config tick after tick; this spares the round trip."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._plans: OrderedDict[str, PlanResult] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        server_id: str | None,
        client: CodeServerClient,
        job_name: str,
        run_config: dict[str, Any],
        selection: list[list[str]] | None,
        step_keys: list[str] | None,
        timeout: float,
    ) -> PlanResult:
        key = json.dumps([server_id, job_name, run_config, selection, step_keys], sort_keys=True, default=str)
        with self._lock:
            cached = self._plans.get(key) if server_id is not None else None
            if cached is not None:
                self._plans.move_to_end(key)
                return cached
        plan = client.execution_plan(job_name, run_config, selection, step_keys, timeout=timeout)
        if server_id is not None:
            with self._lock:
                self._plans[key] = plan
                if len(self._plans) > self._size:
                    self._plans.popitem(last=False)
        return plan


_plans = _PlanCache()


def _invalid(code: str, path: str, message: str, hint: str | None) -> SubmissionError:
    return SubmissionError("invalid", code, message, hint, {"errors": [{"path": path, "message": message}]})


def submit_run(manager: WorkspaceManager, instance: LocusInstance, submission: RunSubmission) -> RunRecord:
    try:
        state = manager.get(submission.location)
        client = manager.client(submission.location)
    except LocationNotFound as exc:
        raise SubmissionError("not_found", "location_not_found", exc.message, exc.hint) from None
    except LocationNotLoaded as exc:
        raise SubmissionError("not_loaded", "location_not_loaded", exc.message, exc.hint, exc.state) from None
    snapshot = state.snapshot
    assert snapshot is not None  # a loaded location has one

    selection: list[list[str]] | None = None
    if submission.asset_selection is not None:
        try:
            selection = resolve_selection(snapshot, submission.asset_selection)
        except (SelectionError, ValueError) as exc:
            message = exc.message if isinstance(exc, SelectionError) else str(exc)
            raise _invalid(
                "invalid_asset_selection",
                "asset_selection",
                message,
                exc.hint if isinstance(exc, SelectionError) else None,
            ) from None
    job_name = submission.job_name or (IMPLICIT_ASSET_JOB if selection is not None else None)
    if job_name is None:
        raise _invalid(
            "invalid_request",
            "job_name",
            "give job_name, asset_selection or both",
            'e.g. {"location": ..., "asset_selection": "*"}',
        )
    job = snapshot.job(job_name)
    if job is None and job_name != IMPLICIT_ASSET_JOB:  # the implicit job is not in snapshots
        known = sorted(j.name for j in snapshot.jobs)
        raise _invalid(
            "unknown_job",
            "job_name",
            f"code location '{submission.location}' has no job '{job_name}'",
            f"jobs there: {', '.join(known) or '(none)'}",
        )

    settings = manager.settings_for(submission.location)
    try:
        plan = _plans.get(
            state.server_id,
            client,
            job_name,
            dict(submission.run_config),
            selection,
            list(submission.step_keys) if submission.step_keys is not None else None,
            settings.rpc_timeout_seconds,
        )
    except CodeServerUnavailable as exc:
        raise SubmissionError("unreachable", "location_unreachable", exc.message, exc.hint) from None
    if plan.errors:
        errors = [{"path": path, "message": message} for path, message in plan.errors]
        lines = "; ".join(f"{e['path'] or '(root)'}: {e['message']}" for e in errors)
        raise SubmissionError(
            "invalid",
            "invalid_run",
            f"the run of '{job_name}' is not valid: {lines}",
            "correct run_config (or the selection) at the paths in details",
            {"errors": errors},
        )

    run = RunRecord(
        run_id=submission.run_id or new_run_id(),
        job_name=plan.job_name,
        status=RunStatus.QUEUED,
        run_config=dict(submission.run_config),
        tags={**(job.tags if job is not None else {}), **submission.tags},
        location_name=submission.location,
        asset_selection=tuple(AssetKey(path) for path in plan.asset_selection)
        if plan.asset_selection is not None
        else None,
        step_keys_to_execute=tuple(submission.step_keys) if submission.step_keys is not None else None,
        parent_run_id=submission.parent_run_id,
        root_run_id=submission.root_run_id,
        origin={"location_name": submission.location, "pointer": snapshot.code_pointer},
    )
    try:
        return instance.storage.add_queued_run(run, f"queued by {submission.queued_by}")
    except DuplicateRunError:
        # Another process submitted the same deterministic run id first.
        return instance.get_run(run.run_id) or run


def reexecution(
    manager: WorkspaceManager,
    instance: LocusInstance,
    parent: RunRecord,
    strategy: str,
    queued_by: str,
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> RunSubmission:
    """The submission that re-executes ``parent``: ``ALL_STEPS`` (its whole
    selection again) or ``FROM_FAILURE`` (every step of its plan that did not
    succeed, which includes everything downstream of a failure and steps that
    never started; the rest load from the parent's stored outputs)."""
    if strategy not in ("ALL_STEPS", "FROM_FAILURE"):
        raise SubmissionError(
            "invalid",
            "invalid_strategy",
            f"unknown re-execution strategy {strategy!r}",
            "use ALL_STEPS or FROM_FAILURE",
        )
    if parent.location_name is None:
        raise SubmissionError(
            "invalid", "not_reexecutable", f"run {parent.run_id} names no code location", "launch a new run instead"
        )
    selection = [list(k.path) for k in parent.asset_selection] if parent.asset_selection is not None else None
    step_keys = list(parent.step_keys_to_execute) if parent.step_keys_to_execute is not None else None
    if strategy == "FROM_FAILURE":
        if parent.status != RunStatus.FAILURE:
            raise SubmissionError(
                "invalid",
                "not_failed",
                f"run {parent.run_id} did not fail ({parent.status.value})",
                "re-execute it with strategy ALL_STEPS",
            )
        try:
            client = manager.client(parent.location_name)
        except (LocationNotFound, LocationNotLoaded) as exc:
            raise SubmissionError("not_loaded", "location_not_loaded", exc.message, exc.hint) from None
        plan = client.execution_plan(
            parent.job_name,
            dict(parent.run_config),
            selection,
            step_keys,
            timeout=manager.settings_for(parent.location_name).rpc_timeout_seconds,
        )
        if plan.errors:
            problems = "; ".join(f"{path or '(root)'}: {message}" for path, message in plan.errors)
            raise SubmissionError(
                "invalid",
                "invalid_run",
                f"run {parent.run_id} no longer plans: {problems}",
                "fix the code or launch a new run",
            )
        succeeded = {r.event.step_key for r in instance.get_events(parent.run_id, event_types=[EventType.STEP_SUCCESS])}
        # A step downstream of one that did not succeed cannot have succeeded,
        # so "not succeeded" is already closed downstream. If every step
        # succeeded (the worker died at the very end), run them all again.
        step_keys = [key for key in plan.step_keys if key not in succeeded] or step_keys
    return RunSubmission(
        location=parent.location_name,
        job_name=parent.job_name,
        asset_selection=selection,
        run_config=parent.run_config,
        tags={**parent.tags, **(tags or {})},
        run_id=run_id,
        step_keys=step_keys,
        parent_run_id=parent.run_id,
        root_run_id=parent.root_run_id or parent.run_id,
        queued_by=queued_by,
    )
