"""Sensors: poll-driven run requests with a cursor. Evaluating on an interval
is the daemon's; here a sensor is a definition you can call in tests."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from locus.definitions.errors import DefinitionError
from locus.definitions.ops import docstring, validate_name
from locus.definitions.run_request import DefaultSensorStatus, TickEvaluation, collect_tick_output
from locus.definitions.schedules import target_job_name

DEFAULT_MINIMUM_INTERVAL_SECONDS = 30


class SensorEvaluationContext:
    """What a sensor sees: its cursor (``update_cursor`` to move it), the
    last run key it requested, the instance and resources."""

    def __init__(
        self,
        cursor: str | None = None,
        instance: Any = None,
        resources: Any = None,
        last_run_key: str | None = None,
        last_tick_completion_time: float | None = None,
        sensor_name: str | None = None,
    ) -> None:
        self.cursor = cursor
        self.instance = instance
        self.resources = resources
        self.last_run_key = last_run_key
        self.last_tick_completion_time = last_tick_completion_time
        self.sensor_name = sensor_name
        self.cursor_updated = False

    def update_cursor(self, cursor: str | None) -> None:
        self.cursor = cursor
        self.cursor_updated = True


def build_sensor_context(
    cursor: str | None = None,
    instance: Any = None,
    resources: Mapping[str, Any] | None = None,
    last_run_key: str | None = None,
    sensor_name: str | None = None,
) -> SensorEvaluationContext:
    return SensorEvaluationContext(cursor, instance, resources, last_run_key, sensor_name=sensor_name)


@dataclass(frozen=True, eq=False)
class SensorDefinition:
    name: str
    evaluation_fn: Callable[..., Any]
    job_names: tuple[str, ...]
    jobs: tuple[Any, ...] = ()
    minimum_interval_seconds: int = DEFAULT_MINIMUM_INTERVAL_SECONDS
    description: str | None = None
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED

    def evaluate_tick(self, context: SensorEvaluationContext) -> TickEvaluation:
        takes_context = bool(inspect.signature(self.evaluation_fn).parameters)
        returned = self.evaluation_fn(context) if takes_context else self.evaluation_fn()
        requests, skip = collect_tick_output(f"sensor '{self.name}'", returned, run_config_allowed=False)
        for r in requests:
            if r.job_name is None:
                if len(self.job_names) != 1:
                    raise DefinitionError(
                        f"sensor '{self.name}' targets {len(self.job_names)} jobs but a RunRequest names none",
                        "pass RunRequest(job_name=...)",
                    )
                r.job_name = self.job_names[0]
            elif r.job_name not in self.job_names:
                raise DefinitionError(
                    f"sensor '{self.name}' requested job '{r.job_name}', which it does not target",
                    f"target it with jobs=[...]; targets: {list(self.job_names)}",
                )
        return TickEvaluation(
            run_requests=tuple(requests),
            skip_message=None if requests else skip,
            cursor=context.cursor,
            cursor_updated=context.cursor_updated,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.evaluation_fn(*args, **kwargs)


def sensor(
    job: Any = None,
    *,
    jobs: Sequence[Any] | None = None,
    job_name: str | None = None,
    name: str | None = None,
    minimum_interval_seconds: int | None = None,
    description: str | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
) -> Callable[[Callable[..., Any]], SensorDefinition]:
    """Decorate ``def my_sensor(context)`` yielding RunRequest / SkipReason."""

    def decorate(fn: Callable[..., Any]) -> SensorDefinition:
        sensor_name = validate_name(name or fn.__name__, "sensor")
        owner = f"sensor '{sensor_name}'"
        # Dagster's first positional parameter is job_name: @sensor("my_job").
        first, named = (None, job) if isinstance(job, str) else (job, job_name)
        targets = ([first] if first is not None else []) + list(jobs or [])
        names = [target_job_name(owner, t) for t in targets]
        if named:
            names.append(named)
        if not names:
            raise DefinitionError(f"{owner} targets no job", "pass job=my_job or jobs=[...]")
        interval = (
            DEFAULT_MINIMUM_INTERVAL_SECONDS if minimum_interval_seconds is None else minimum_interval_seconds
        )
        if not isinstance(interval, int) or interval < 1:
            raise DefinitionError(
                f"{owner}: minimum_interval_seconds must be a whole number of seconds >= 1, got {interval!r}"
            )
        return SensorDefinition(
            name=sensor_name,
            evaluation_fn=fn,
            job_names=tuple(names),
            jobs=tuple(targets),
            minimum_interval_seconds=interval,
            description=description or docstring(fn),
            default_status=DefaultSensorStatus(default_status),
        )

    return decorate
