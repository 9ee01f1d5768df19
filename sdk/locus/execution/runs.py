"""The run record: one execution of a job, as every storage keeps it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from locus.definitions.asset_key import AssetKey
from locus.execution.events import RunStatus


def new_run_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class RunRecord:
    """What is known about a run. ``origin`` says how to load the job's code
    again in another process (a code pointer and location name)."""

    run_id: str
    job_name: str
    status: RunStatus = RunStatus.NOT_STARTED
    run_config: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    location_name: str | None = None
    asset_selection: tuple[AssetKey, ...] | None = None
    step_keys_to_execute: tuple[str, ...] | None = None
    parent_run_id: str | None = None
    root_run_id: str | None = None
    origin: Mapping[str, Any] | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    start_time: float | None = None
    end_time: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "job_name": self.job_name,
            "status": self.status.value,
            "run_config": dict(self.run_config),
            "tags": dict(self.tags),
            "location_name": self.location_name,
            "asset_selection": [list(k.path) for k in self.asset_selection]
            if self.asset_selection is not None
            else None,
            "step_keys_to_execute": list(self.step_keys_to_execute) if self.step_keys_to_execute is not None else None,
            "parent_run_id": self.parent_run_id,
            "root_run_id": self.root_run_id,
            "origin": dict(self.origin) if self.origin is not None else None,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "start_time": self.start_time,
            "end_time": self.end_time,
        }

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> RunRecord:
        selection = raw.get("asset_selection")
        steps = raw.get("step_keys_to_execute")
        return RunRecord(
            run_id=raw["run_id"],
            job_name=raw["job_name"],
            status=RunStatus(raw.get("status", RunStatus.NOT_STARTED.value)),
            run_config=raw.get("run_config") or {},
            tags=raw.get("tags") or {},
            location_name=raw.get("location_name"),
            asset_selection=tuple(AssetKey(k) for k in selection) if selection is not None else None,
            step_keys_to_execute=tuple(steps) if steps is not None else None,
            parent_run_id=raw.get("parent_run_id"),
            root_run_id=raw.get("root_run_id"),
            origin=raw.get("origin"),
            created_at=raw["created_at"],
            updated_at=raw.get("updated_at", raw["created_at"]),
            start_time=raw.get("start_time"),
            end_time=raw.get("end_time"),
        )

    def with_status(self, status: RunStatus, at: float) -> RunRecord:
        start = at if status == RunStatus.STARTED and self.start_time is None else self.start_time
        end = at if status.is_finished else self.end_time
        return replace(self, status=status, updated_at=at, start_time=start, end_time=end)


@dataclass(frozen=True)
class RunsFilter:
    """Which runs to list. Every field narrows; tags must all match."""

    run_ids: tuple[str, ...] | None = None
    job_name: str | None = None
    location_name: str | None = None
    statuses: tuple[RunStatus, ...] | None = None
    tags: Mapping[str, str] | None = None
    created_after: float | None = None
    created_before: float | None = None
