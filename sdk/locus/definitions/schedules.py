"""Schedules: cron-driven run requests. Cron strings and time zones are
checked when the schedule is defined; evaluating on a clock is the daemon's."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from locus.definitions.errors import DefinitionError
from locus.definitions.ops import coerce_tags, docstring, validate_name
from locus.definitions.run_request import (
    DefaultScheduleStatus,
    RunRequest,
    TickEvaluation,
    collect_tick_output,
)


def validate_cron(owner: str, cron_schedule: Any) -> tuple[str, ...]:
    crons = (cron_schedule,) if isinstance(cron_schedule, str) else tuple(cron_schedule or ())
    if not crons or not all(isinstance(c, str) for c in crons):
        raise DefinitionError(
            f"{owner}: cron_schedule must be a cron string or a list of them, got {cron_schedule!r}",
            'write cron_schedule="0 * * * *"',
        )
    from croniter import croniter

    for cron in crons:
        if not _is_valid_cron(croniter, cron):
            raise DefinitionError(
                f"{owner}: cron_schedule {cron!r} is not a valid cron string",
                'use five fields "minute hour day-of-month month day-of-week", e.g. "*/15 * * * *", '
                'or "@hourly" / "@daily" / "@weekly" / "@monthly"',
            )
    return crons


def _is_valid_cron(croniter: Any, cron: str) -> bool:
    # As Dagster: anything croniter expands to five fields, so "@daily" is fine
    # but seconds-resolution strings are not; a 30th of February never fires.
    if not croniter.is_valid(cron):
        return False
    fields = croniter.expand(cron)[0]
    if len(fields) != 5:
        return False
    day, month = fields[2], fields[3]
    return not (month == [2] and len(day) == 1 and day[0] in (30, 31))


def validate_timezone(owner: str, tz: str | None) -> str | None:
    if tz is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise DefinitionError(
            f"{owner}: execution_timezone {tz!r} is not a known IANA time zone",
            'use a name like "Europe/Berlin" or "America/New_York"',
        ) from None
    return tz


@dataclass(frozen=True)
class ScheduleEvaluationContext:
    scheduled_execution_time: datetime | None = None
    instance: Any = None
    resources: Any = None
    log: Any = None


def build_schedule_context(
    instance: Any = None,
    scheduled_execution_time: datetime | None = None,
    resources: Mapping[str, Any] | None = None,
) -> ScheduleEvaluationContext:
    return ScheduleEvaluationContext(scheduled_execution_time, instance, resources)


def target_job_name(owner: str, job: Any) -> str:
    """The name of a schedule's or sensor's target, which must be a job (an op,
    graph or asset has a name too, and would only fail later, at load)."""
    from locus.definitions.asset_job import UnresolvedAssetJobDefinition
    from locus.definitions.jobs import JobDefinition

    if not isinstance(job, JobDefinition | UnresolvedAssetJobDefinition):
        raise DefinitionError(
            f"{owner}: job must be a job definition, got {job!r}",
            "pass a @job, define_asset_job(...) or my_graph.to_job()",
        )
    return job.name


def _job_name(owner: str, job: Any, job_name: str | None) -> str:
    if job is not None:
        return target_job_name(owner, job)
    if job_name is None:
        raise DefinitionError(f"{owner} names no job", "pass job=my_job (or job_name='my_job')")
    return job_name


@dataclass(frozen=True, eq=False)
class ScheduleDefinition:
    """``ScheduleDefinition(job=..., cron_schedule="* * * * *")`` or ``@schedule``."""

    name: str
    cron_schedules: tuple[str, ...]
    job_name: str
    job: Any = None
    run_config: Mapping[str, Any] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    execution_timezone: str | None = None
    description: str | None = None
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED
    execution_fn: Callable[..., Any] | None = None
    max_catchup_runs: int = 1

    def __init__(
        self,
        name: str | None = None,
        *,
        cron_schedule: str | Sequence[str],
        job: Any = None,
        job_name: str | None = None,
        run_config: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        execution_timezone: str | None = None,
        description: str | None = None,
        default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
        execution_fn: Callable[..., Any] | None = None,
        max_catchup_runs: int = 1,
    ) -> None:
        target = _job_name(f"schedule '{name or '?'}'", job, job_name)
        final_name = validate_name(name or f"{target}_schedule", "schedule")
        owner = f"schedule '{final_name}'"
        values = {
            "name": final_name,
            "cron_schedules": validate_cron(owner, cron_schedule),
            "job_name": target,
            "job": job,
            "run_config": run_config,
            "tags": coerce_tags(tags, owner),
            "execution_timezone": validate_timezone(owner, execution_timezone),
            "description": description,
            "default_status": DefaultScheduleStatus(default_status),
            "execution_fn": execution_fn,
            "max_catchup_runs": max_catchup_runs,
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @property
    def cron_schedule(self) -> str | tuple[str, ...]:
        return self.cron_schedules[0] if len(self.cron_schedules) == 1 else self.cron_schedules

    def evaluate_tick(self, context: ScheduleEvaluationContext) -> TickEvaluation:
        if self.execution_fn is None:
            request = RunRequest(run_config=self.run_config, tags=self.tags, job_name=self.job_name)
            return TickEvaluation(run_requests=(request,))
        takes_context = bool(inspect.signature(self.execution_fn).parameters)
        returned = self.execution_fn(context) if takes_context else self.execution_fn()
        requests, skip = collect_tick_output(f"schedule '{self.name}'", returned, run_config_allowed=True)
        for r in requests:
            r.job_name = r.job_name or self.job_name
            r.tags = {**self.tags, **r.tags}
        return TickEvaluation(run_requests=tuple(requests), skip_message=None if requests else skip)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.execution_fn is None:
            raise DefinitionError(f"schedule '{self.name}' has no function to call")
        return self.execution_fn(*args, **kwargs)


def schedule(
    cron_schedule: str | Sequence[str],
    *,
    job: Any = None,
    job_name: str | None = None,
    name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    execution_timezone: str | None = None,
    description: str | None = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
) -> Callable[[Callable[..., Any]], ScheduleDefinition]:
    """Decorate ``def my_schedule(context)`` returning run config, RunRequest(s) or SkipReason."""

    def decorate(fn: Callable[..., Any]) -> ScheduleDefinition:
        return ScheduleDefinition(
            name=name or fn.__name__,
            cron_schedule=cron_schedule,
            job=job,
            job_name=job_name,
            tags=tags,
            execution_timezone=execution_timezone,
            description=description or docstring(fn),
            default_status=default_status,
            execution_fn=fn,
        )

    return decorate
