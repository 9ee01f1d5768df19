"""Response models: what the OpenAPI document promises for each endpoint.
Handlers build plain dicts (see ``views``); FastAPI checks them against
these models, so the spec and the answers cannot drift apart."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, machine-readable, e.g. run_not_found")
    message: str
    hint: str | None = Field(description="what to do about it")
    details: Any = Field(description="e.g. {errors: [{path, message}]} for 422")


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: Literal["ready"]
    storage: str
    schema_version: str


class Run(BaseModel):
    run_id: str
    job_name: str
    status: str
    run_config: dict[str, Any]
    tags: dict[str, str]
    location_name: str | None
    asset_selection: list[list[str]] | None
    step_keys_to_execute: list[str] | None
    parent_run_id: str | None
    root_run_id: str | None
    origin: dict[str, Any] | None
    created_at: float
    updated_at: float
    start_time: float | None
    end_time: float | None


class RunPage(BaseModel):
    runs: list[Run]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next (older) page; null on the last")


class RunCreated(BaseModel):
    run_id: str


class RunStatusBody(BaseModel):
    run_id: str
    status: str


class Event(BaseModel):
    storage_id: int
    run_id: str
    event_type: str
    message: str
    step_key: str | None
    level: str
    asset_key: list[str] | None
    error: dict[str, Any] | None
    data: dict[str, Any]
    timestamp: float


class RunDetail(BaseModel):
    run: Run
    events: list[Event]


class EventPage(BaseModel):
    events: list[Event]
    last_id: int = Field(description="the storage id to pass as ?after= next time")


class StepLogs(BaseModel):
    stdout: str
    stderr: str


class RunLogs(BaseModel):
    steps: dict[str, StepLogs]


class Materialization(BaseModel):
    run_id: str
    timestamp: float


class Asset(BaseModel):
    key: str = Field(description='path parts joined by "/"')
    location: str
    group: str
    kinds: list[str]
    description: str | None
    upstream: list[str]
    downstream: list[str]
    latest_materialization: Materialization | None


class AssetList(BaseModel):
    assets: list[Asset]


class Job(BaseModel):
    name: str
    location: str
    description: str | None
    tags: dict[str, str]
    executor: str
    ops: list[str]
    edges: list[list[str]] = Field(description="[upstream op, downstream op] pairs")
    asset_keys: list[str]
    config_schemas: dict[str, Any] = Field(description="op name -> the config it accepts")


class JobList(BaseModel):
    jobs: list[Job]


class Tick(BaseModel):
    tick_id: int | None
    origin_id: str
    tick_key: str
    status: str
    timestamp: float
    run_ids: list[str]
    run_keys: list[str]
    skip_reason: str | None
    error: dict[str, Any] | None
    cursor: str | None


class TickList(BaseModel):
    ticks: list[Tick]


class Schedule(BaseModel):
    location: str
    name: str
    origin_id: str
    job_name: str
    status: Literal["RUNNING", "STOPPED"]
    default_status: str
    cron_schedule: str
    cron_schedules: list[str]
    execution_timezone: str | None
    description: str | None
    last_tick: Tick | None


class ScheduleList(BaseModel):
    schedules: list[Schedule]


class Sensor(BaseModel):
    location: str
    name: str
    origin_id: str
    job_names: list[str]
    status: Literal["RUNNING", "STOPPED"]
    default_status: str
    minimum_interval_seconds: int
    description: str | None
    cursor: str | None
    last_tick: Tick | None


class SensorList(BaseModel):
    sensors: list[Sensor]
