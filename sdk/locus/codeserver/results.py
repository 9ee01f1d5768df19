"""What code-server calls return, and their JSON form on the wire.

Pure (no grpc): the server encodes these into the JSON payloads of
``code_server.proto`` and the client decodes them, so both sides share one
definition of every field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from locus.definitions.errors import LocusError
from locus.execution.events import ErrorInfo

# The contract version of locus.codeserver.v1 (GetServerInfo.protocol_version).
PROTOCOL_VERSION = 1


@dataclass(frozen=True)
class ServerInfo:
    server_id: str
    location_name: str
    image: str | None
    pid: int
    code_pointer: dict[str, Any]
    load_error: ErrorInfo | None


@dataclass(frozen=True)
class PlanResult:
    """A job's steps for a run, or why the run cannot be made (``errors``:
    (dotted path, message) pairs, e.g. ``("ops.x.config.limit", "expected int")``)."""

    job_name: str
    step_keys: list[str] = field(default_factory=list)
    asset_selection: list[list[str]] | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> bytes:
        return dumps(
            {
                "job_name": self.job_name,
                "step_keys": self.step_keys,
                "asset_selection": self.asset_selection,
                "errors": [list(e) for e in self.errors],
            }
        )

    @staticmethod
    def from_json(data: bytes) -> PlanResult:
        raw = json.loads(data)
        return PlanResult(
            job_name=raw["job_name"],
            step_keys=list(raw["step_keys"]),
            asset_selection=raw["asset_selection"],
            errors=[(path, message) for path, message in raw["errors"]],
        )


@dataclass(frozen=True)
class TickResult:
    """One evaluation of a schedule or sensor. Each run request is a dict with
    ``run_key``, ``job_name``, ``run_config``, ``tags`` and ``asset_selection``
    (a list of key paths, or None). ``error`` is set when the user's function
    raised, returned something invalid or timed out."""

    run_requests: list[dict[str, Any]] = field(default_factory=list)
    skip_message: str | None = None
    cursor: str | None = None
    error: ErrorInfo | None = None

    def to_json(self) -> bytes:
        return dumps(
            {
                "run_requests": self.run_requests,
                "skip_message": self.skip_message,
                "cursor": self.cursor,
                "error": self.error.to_dict() if self.error else None,
            }
        )

    @staticmethod
    def from_json(data: bytes) -> TickResult:
        raw = json.loads(data)
        return TickResult(
            run_requests=list(raw["run_requests"]),
            skip_message=raw["skip_message"],
            cursor=raw["cursor"],
            error=ErrorInfo.from_dict(raw["error"]) if raw["error"] else None,
        )


class LocationLoadError(LocusError):
    """The code server is up, but its code failed to load: ``error_info``
    holds the user's exception and traceback."""

    def __init__(self, location_name: str, error_info: ErrorInfo) -> None:
        super().__init__(
            f"code location '{location_name}' failed to load: {error_info.summary()}",
            "fix the error in the traceback, then restart or reload the location",
        )
        self.location_name = location_name
        self.error_info = error_info


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def error_bytes(error: ErrorInfo | None) -> bytes:
    return dumps(error.to_dict()) if error is not None else b""


def error_from_bytes(data: bytes) -> ErrorInfo | None:
    return ErrorInfo.from_dict(json.loads(data)) if data else None


def json_or(data: bytes, default: Any) -> Any:
    return json.loads(data) if data else default


def plain_error(cls_name: str, message: str) -> ErrorInfo:
    """An error that is not an exception (a timeout, a full worker pool)."""
    return ErrorInfo(cls_name=cls_name, message=message, traceback="")


def run_request_dict(request: Any) -> dict[str, Any]:
    selection = request.asset_selection
    return {
        "run_key": request.run_key,
        "job_name": request.job_name,
        "run_config": dict(request.run_config),
        "tags": dict(request.tags),
        "asset_selection": [list(k.path) for k in selection] if selection is not None else None,
    }
