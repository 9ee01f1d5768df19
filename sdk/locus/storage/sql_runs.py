"""Runs and their tags in SQL: add, read, list with filters and cursor
pagination, tag, delete.

Status, timestamps and the filterable fields are columns; the rest of the
record is a JSON body. Tags live in both: the body answers reads in one
query, ``run_tags`` answers filters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from locus.definitions.asset_key import AssetKey
from locus.execution.events import Event, EventType, RunStatus
from locus.execution.runs import RunRecord, RunsFilter
from locus.storage.database import AnyRow, Database
from locus.storage.errors import DuplicateRunError, StorageError
from locus.storage.sql_events import INSERT_EVENT, event_params, refresh_asset_keys
from locus.storage.tables import asset_keys, event_logs, run_tags, runs

_RUN_COLUMNS = (
    runs.c.run_id,
    runs.c.job_name,
    runs.c.status,
    runs.c.location_name,
    runs.c.parent_run_id,
    runs.c.root_run_id,
    runs.c.run_body,
    runs.c.created_at,
    runs.c.updated_at,
    runs.c.start_time,
    runs.c.end_time,
)


class SqlRuns:
    _db: Database

    def add_run(self, run: RunRecord) -> RunRecord:
        try:
            with self._db.write() as conn:
                conn.execute(runs.insert(), _run_row(run))
                if run.tags:
                    conn.execute(
                        run_tags.insert(),
                        [{"run_id": run.run_id, "key": k, "value": v} for k, v in run.tags.items()],
                    )
        except sa.exc.IntegrityError:
            raise DuplicateRunError(run.run_id) from None
        return run

    def add_queued_run(self, run: RunRecord, message: str) -> RunRecord:
        """Store a QUEUED run and its RUN_ENQUEUED event in one transaction."""
        event = Event(run.run_id, EventType.RUN_ENQUEUED, message)
        try:
            with self._db.write() as conn:
                conn.execute(runs.insert(), _run_row(replace(run, status=RunStatus.QUEUED)))
                if run.tags:
                    conn.execute(
                        run_tags.insert(),
                        [{"run_id": run.run_id, "key": k, "value": v} for k, v in run.tags.items()],
                    )
                conn.execute(INSERT_EVENT, event_params(event))
        except sa.exc.IntegrityError:
            raise DuplicateRunError(run.run_id) from None
        return replace(run, status=RunStatus.QUEUED)

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(*_RUN_COLUMNS).where(runs.c.run_id == run_id)).first()
        return _record(row) if row is not None else None

    def get_runs(
        self, filters: RunsFilter | None = None, limit: int | None = None, cursor: str | None = None
    ) -> list[RunRecord]:
        stmt = _filtered(sa.select(*_RUN_COLUMNS), filters).order_by(runs.c.id.desc())
        if cursor is not None:
            after = sa.select(runs.c.id).where(runs.c.run_id == cursor).scalar_subquery()
            stmt = stmt.where(runs.c.id < after)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.read() as conn:
            return [_record(row) for row in conn.execute(stmt)]

    def count_runs(self, filters: RunsFilter | None = None) -> int:
        stmt = _filtered(sa.select(sa.func.count()).select_from(runs), filters)
        with self._db.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def add_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        with self._db.write() as conn:
            body_text = conn.execute(sa.select(runs.c.run_body).where(runs.c.run_id == run_id)).scalar()
            if body_text is None:
                raise StorageError(f"no run with id {run_id!r} to tag", "add the run before tagging it")
            body = json.loads(body_text)
            body["tags"] = {**body["tags"], **tags}
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(run_body=json.dumps(body)))
            for key, value in tags.items():
                row = {"run_id": run_id, "key": key, "value": value}
                conn.execute(self._db.upsert(run_tags, row, keys=("run_id", "key")))

    def delete_run(self, run_id: str) -> bool:
        with self._db.write() as conn:
            affected = conn.execute(
                sa.select(asset_keys.c.asset_key).where(asset_keys.c.last_run_id == run_id)
            ).scalars()
            stale_keys = list(affected)
            conn.execute(event_logs.delete().where(event_logs.c.run_id == run_id))
            conn.execute(run_tags.delete().where(run_tags.c.run_id == run_id))
            deleted = conn.execute(runs.delete().where(runs.c.run_id == run_id)).rowcount
            # The run held these assets' latest materialisations: fall back to
            # the previous ones still in the log.
            refresh_asset_keys(conn, stale_keys)
        return deleted > 0


def _filtered(stmt: sa.Select[Any], filters: RunsFilter | None) -> sa.Select[Any]:
    if filters is None:
        return stmt
    if filters.run_ids is not None:
        stmt = stmt.where(runs.c.run_id.in_(filters.run_ids))
    if filters.job_name is not None:
        stmt = stmt.where(runs.c.job_name == filters.job_name)
    if filters.location_name is not None:
        stmt = stmt.where(runs.c.location_name == filters.location_name)
    if filters.statuses is not None:
        stmt = stmt.where(runs.c.status.in_([s.value for s in filters.statuses]))
    for key, value in (filters.tags or {}).items():
        tagged = sa.select(run_tags.c.run_id).where(run_tags.c.key == key, run_tags.c.value == value)
        stmt = stmt.where(runs.c.run_id.in_(tagged))
    if filters.created_after is not None:
        stmt = stmt.where(runs.c.created_at > filters.created_after)
    if filters.created_before is not None:
        stmt = stmt.where(runs.c.created_at < filters.created_before)
    return stmt


def _run_row(run: RunRecord) -> dict[str, Any]:
    body = {
        "run_config": dict(run.run_config),
        "tags": dict(run.tags),
        "asset_selection": (
            [list(key.path) for key in run.asset_selection] if run.asset_selection is not None else None
        ),
        "step_keys_to_execute": (list(run.step_keys_to_execute) if run.step_keys_to_execute is not None else None),
        "origin": dict(run.origin) if run.origin is not None else None,
    }
    return {
        "run_id": run.run_id,
        "job_name": run.job_name,
        "status": run.status.value,
        "location_name": run.location_name,
        "parent_run_id": run.parent_run_id,
        "root_run_id": run.root_run_id,
        "run_body": json.dumps(body),
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "start_time": run.start_time,
        "end_time": run.end_time,
    }


def _record(row: AnyRow) -> RunRecord:
    body = json.loads(row.run_body)
    selection = body["asset_selection"]
    step_keys = body["step_keys_to_execute"]
    return RunRecord(
        run_id=row.run_id,
        job_name=row.job_name,
        status=RunStatus(row.status),
        run_config=body["run_config"],
        tags=body["tags"],
        location_name=row.location_name,
        asset_selection=tuple(AssetKey(p) for p in selection) if selection is not None else None,
        step_keys_to_execute=tuple(step_keys) if step_keys is not None else None,
        parent_run_id=row.parent_run_id,
        root_run_id=row.root_run_id,
        origin=body["origin"],
        created_at=row.created_at,
        updated_at=row.updated_at,
        start_time=row.start_time,
        end_time=row.end_time,
    )
