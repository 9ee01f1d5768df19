"""What storage keeps beyond runs and events: schedule/sensor state, ticks,
the code-location registry, and what a retention purge removed."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from locus.execution.events import ErrorInfo

InstigatorType = Literal["schedule", "sensor"]
InstigatorStatus = Literal["RUNNING", "STOPPED"]


@dataclass(frozen=True)
class InstigatorState:
    """Whether a schedule or sensor is running, and the cursor it resumes from.

    ``origin_id`` is the instigator's stable id (location and name hashed by
    the caller), so state survives code reloads and renamed locations alike.
    """

    origin_id: str
    name: str
    location_name: str
    instigator_type: InstigatorType
    status: InstigatorStatus = "STOPPED"
    cursor: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    updated_at: float = field(default_factory=time.time)


class TickStatus(StrEnum):
    STARTED = "STARTED"
    SKIPPED = "SKIPPED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


@dataclass(frozen=True)
class TickRecord:
    """One evaluation of a schedule or sensor.

    ``tick_key`` is unique per origin (a schedule uses its scheduled time), so
    creating the same tick twice fails: that is what makes schedules fire
    exactly once even when two daemons race.
    """

    origin_id: str
    tick_key: str
    status: TickStatus = TickStatus.STARTED
    timestamp: float = field(default_factory=time.time)
    run_ids: tuple[str, ...] = ()
    run_keys: tuple[str, ...] = ()
    skip_reason: str | None = None
    error: ErrorInfo | None = None
    cursor: str | None = None
    tick_id: int | None = None


class LocationStatus(StrEnum):
    LOADING = "LOADING"
    LOADED = "LOADED"
    ERROR = "ERROR"
    UNREACHABLE = "UNREACHABLE"


@dataclass(frozen=True)
class LocationRecord:
    """A code location as the registry knows it: where its server listens,
    which snapshot it serves, and why it failed to load if it did."""

    name: str
    status: LocationStatus = LocationStatus.LOADING
    image: str | None = None
    endpoint: str | None = None
    snapshot_id: str | None = None
    load_error: ErrorInfo | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    updated_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class PurgeResult:
    """What a retention purge deleted."""

    runs_deleted: int = 0
    events_deleted: int = 0


@dataclass(frozen=True)
class DaemonHeartbeat:
    """A daemon loop's sign of life: which loop, which process, when."""

    daemon_type: str
    daemon_id: str
    timestamp: float
    info: Mapping[str, Any] = field(default_factory=dict)
