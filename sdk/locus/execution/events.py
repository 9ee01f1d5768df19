"""Typed events: everything that happens in a run is one of these, stored in
order in the event log and read back identically from every storage."""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from locus.definitions.asset_key import AssetKey

_LOCUS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _is_internal(filename: str) -> bool:
    return filename.startswith(_LOCUS_DIR) or filename.startswith("<frozen importlib")


class EventType(StrEnum):
    RUN_ENQUEUED = "RUN_ENQUEUED"
    RUN_STARTING = "RUN_STARTING"
    RUN_START = "RUN_START"
    RUN_SUCCESS = "RUN_SUCCESS"
    RUN_FAILURE = "RUN_FAILURE"
    RUN_CANCELING = "RUN_CANCELING"
    RUN_CANCELED = "RUN_CANCELED"
    STEP_START = "STEP_START"
    STEP_OUTPUT = "STEP_OUTPUT"
    STEP_SUCCESS = "STEP_SUCCESS"
    STEP_FAILURE = "STEP_FAILURE"
    STEP_SKIPPED = "STEP_SKIPPED"
    STEP_UP_FOR_RETRY = "STEP_UP_FOR_RETRY"
    ASSET_MATERIALIZATION = "ASSET_MATERIALIZATION"
    LOG = "LOG"
    ENGINE_EVENT = "ENGINE_EVENT"


class RunStatus(StrEnum):
    QUEUED = "QUEUED"
    NOT_STARTED = "NOT_STARTED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"

    @property
    def is_finished(self) -> bool:
        return self in FINISHED_STATUSES


FINISHED_STATUSES = frozenset({RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED})

# Run status is derived from run-level events, so every store updates it in the
# same transaction that records the event: the log and the status never disagree.
RUN_STATUS_BY_EVENT: Mapping[EventType, RunStatus] = {
    EventType.RUN_ENQUEUED: RunStatus.QUEUED,
    EventType.RUN_STARTING: RunStatus.STARTING,
    EventType.RUN_START: RunStatus.STARTED,
    EventType.RUN_SUCCESS: RunStatus.SUCCESS,
    EventType.RUN_FAILURE: RunStatus.FAILURE,
    EventType.RUN_CANCELING: RunStatus.CANCELING,
    EventType.RUN_CANCELED: RunStatus.CANCELED,
}


@dataclass(frozen=True)
class ErrorInfo:
    """A serialisable exception: class name, message, formatted traceback, cause."""

    cls_name: str
    message: str
    traceback: str
    cause: ErrorInfo | None = None

    @staticmethod
    def from_exception(exc: BaseException) -> ErrorInfo:
        cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        return ErrorInfo(
            cls_name=type(exc).__name__,
            message=str(exc),
            traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__, chain=False)),
            cause=ErrorInfo.from_exception(cause) if cause is not None else None,
        )

    @staticmethod
    def from_user_exception(exc: BaseException) -> ErrorInfo:
        """Like ``from_exception``, but the traceback starts at the first
        frame of user code: Locus's own frames and importlib's are noise."""
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None and _is_internal(tb.tb_frame.f_code.co_filename):
            tb = tb.tb_next
        return ErrorInfo.from_exception(exc.with_traceback(tb))

    def to_dict(self) -> dict[str, Any]:
        return {
            "cls_name": self.cls_name,
            "message": self.message,
            "traceback": self.traceback,
            "cause": self.cause.to_dict() if self.cause else None,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ErrorInfo:
        cause = data.get("cause")
        return ErrorInfo(
            cls_name=data["cls_name"],
            message=data["message"],
            traceback=data["traceback"],
            cause=ErrorInfo.from_dict(cause) if cause else None,
        )

    def summary(self) -> str:
        return f"{self.cls_name}: {self.message}"


@dataclass(frozen=True)
class Event:
    """One entry of a run's event log.

    ``data`` holds the type-specific fields as JSON values: ``output_name`` on
    STEP_OUTPUT, ``metadata`` on ASSET_MATERIALIZATION, ``duration_ms`` on
    STEP_SUCCESS/STEP_FAILURE, ``attempt`` on retries.
    """

    run_id: str
    event_type: EventType
    message: str = ""
    step_key: str | None = None
    level: str = "INFO"
    asset_key: AssetKey | None = None
    error: ErrorInfo | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=time.time)

    @property
    def is_step_event(self) -> bool:
        return self.step_key is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "event_type": self.event_type.value,
            "message": self.message,
            "step_key": self.step_key,
            "level": self.level,
            "asset_key": list(self.asset_key.path) if self.asset_key else None,
            "error": self.error.to_dict() if self.error else None,
            "data": dict(self.data),
            "timestamp": self.timestamp,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), default=str)

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> Event:
        return Event(
            run_id=raw["run_id"],
            event_type=EventType(raw["event_type"]),
            message=raw.get("message", ""),
            step_key=raw.get("step_key"),
            level=raw.get("level", "INFO"),
            asset_key=AssetKey(raw["asset_key"]) if raw.get("asset_key") else None,
            error=ErrorInfo.from_dict(raw["error"]) if raw.get("error") else None,
            data=raw.get("data") or {},
            timestamp=raw["timestamp"],
        )

    @staticmethod
    def from_json(text: str) -> Event:
        return Event.from_dict(json.loads(text))


@dataclass(frozen=True)
class EventRecord:
    """An event as stored: with the storage id that orders a run's log."""

    storage_id: int
    event: Event
