"""What schedules and sensors return: run requests and skip reasons."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from locus.definitions.asset_key import AssetKey, CoercibleToAssetKey
from locus.definitions.errors import DefinitionError


class DefaultScheduleStatus(StrEnum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


DefaultSensorStatus = DefaultScheduleStatus


class RunRequest:
    """Ask for one run. ``run_key`` makes it idempotent: a sensor's request
    with a key already used starts no second run."""

    __slots__ = ("asset_selection", "job_name", "run_config", "run_key", "tags")

    def __init__(
        self,
        run_key: str | None = None,
        run_config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        job_name: str | None = None,
        asset_selection: Iterable[CoercibleToAssetKey] | None = None,
    ) -> None:
        self.run_key = run_key
        self.run_config = dict(run_config or {})
        self.tags = dict(tags or {})
        self.job_name = job_name
        self.asset_selection = (
            tuple(AssetKey.from_coercible(k) for k in asset_selection)
            if asset_selection is not None
            else None
        )

    def __repr__(self) -> str:
        return f"RunRequest(run_key={self.run_key!r}, job_name={self.job_name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunRequest) and all(
            getattr(self, s) == getattr(other, s) for s in self.__slots__
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class SkipReason:
    skip_message: str | None = None


@dataclass(frozen=True)
class TickEvaluation:
    """The outcome of evaluating a schedule or sensor once."""

    run_requests: tuple[RunRequest, ...] = ()
    skip_message: str | None = None
    cursor: str | None = None
    cursor_updated: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


def collect_tick_output(
    owner: str, returned: Any, run_config_allowed: bool
) -> tuple[list[RunRequest], str | None]:
    """Normalise what a schedule/sensor function returned or yielded."""
    requests: list[RunRequest] = []
    skip: str | None = None
    items: Iterable[Any]
    if returned is None:
        items = ()
    elif isinstance(returned, RunRequest | SkipReason) or (
        run_config_allowed and isinstance(returned, Mapping)
    ):
        items = (returned,)
    elif isinstance(returned, Iterable) and not isinstance(returned, str | bytes | Mapping):
        items = returned
    else:
        raise DefinitionError(
            f"{owner} returned {returned!r}",
            "return or yield RunRequest(...) or SkipReason(...)"
            + (", or a run config dict" if run_config_allowed else ""),
        )
    for item in items:
        if isinstance(item, RunRequest):
            requests.append(item)
        elif isinstance(item, SkipReason):
            skip = item.skip_message or ""
        elif run_config_allowed and isinstance(item, Mapping):
            requests.append(RunRequest(run_config=item))
        else:
            raise DefinitionError(f"{owner} produced {item!r}", "yield RunRequest(...) or SkipReason(...)")
    if not requests and skip is None:
        skip = "no run requests"
    return requests, skip
