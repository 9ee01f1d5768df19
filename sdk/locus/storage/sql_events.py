"""The event log in SQL: append events (moving run status and the asset
index in the same transaction), read them back in order, answer "latest
materialisation", and purge old runs for retention.

``store_event`` is the hot path: every step writes several events, so it is
one short transaction on a pooled connection with pre-built statements.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from locus.definitions.asset_key import AssetKey
from locus.execution.events import (
    FINISHED_STATUSES,
    RUN_STATUS_BY_EVENT,
    Event,
    EventRecord,
    EventType,
    RunStatus,
)
from locus.storage.database import Database
from locus.storage.records import PurgeResult
from locus.storage.tables import asset_keys as asset_index
from locus.storage.tables import event_logs, run_tags, runs

_MATERIALIZATION = EventType.ASSET_MATERIALIZATION.value

# Statements of the hot path, built once with named parameters (the params
# dict of store_event) so SQLAlchemy compiles each only once. The names carry
# a "p_" prefix because SQLAlchemy reserves column names in INSERT/UPDATE.
INSERT_EVENT = event_logs.insert().values(
    {name: sa.bindparam(f"p_{name}") for name in ("run_id", "event_type", "step_key", "asset_key", "timestamp", "body")}
)
_INSERT_EVENT_RETURNING_ID = INSERT_EVENT.returning(event_logs.c.id)
_ASSET_INDEX_COLUMNS = ("last_materialization_event_id", "last_run_id", "last_materialization_timestamp")


def _asset_upsert(insert: Any, event_id: Any) -> Any:
    source = sa.select(
        sa.bindparam("p_asset_key", type_=sa.String),
        event_id,
        sa.bindparam("p_run_id", type_=sa.String),
        sa.bindparam("p_timestamp", type_=sa.Double),
    )
    stmt = insert.from_select(["asset_key", *_ASSET_INDEX_COLUMNS], source)
    return stmt.on_conflict_do_update(
        index_elements=["asset_key"], set_={name: stmt.excluded[name] for name in _ASSET_INDEX_COLUMNS}
    )


_SQLITE_ASSET_UPSERT = _asset_upsert(sqlite.insert(asset_index), sa.bindparam("p_event_id", type_=sa.BigInteger))


@functools.cache
def _run_status_update(status: RunStatus) -> sa.Update:
    """The SQL form of RunRecord.with_status: the first STARTED sets
    start_time, a finished status sets end_time."""
    at: sa.BindParameter[float] = sa.bindparam("p_timestamp", type_=sa.Double)
    values: dict[str, Any] = {"status": sa.bindparam("p_status"), "updated_at": at}
    if status == RunStatus.STARTED:
        values["start_time"] = sa.func.coalesce(runs.c.start_time, at)
    if status.is_finished:
        values["end_time"] = at
    return runs.update().where(runs.c.run_id == sa.bindparam("p_run_id")).values(values)


@functools.cache
def _pg_store_event(status: RunStatus | None, materialized: bool) -> sa.Select[int]:
    """INSERT the event and, in data-modifying CTEs of the same statement,
    move the run's status or the asset index."""
    inserted = _INSERT_EVENT_RETURNING_ID.cte("inserted")
    stmt = sa.select(inserted.c.id)
    if status is not None:
        stmt = stmt.add_cte(_run_status_update(status).cte("run_status"))
    if materialized:
        stmt = stmt.add_cte(_asset_upsert(postgresql.insert(asset_index), inserted.c.id).cte("asset_index"))
    return stmt


def event_params(event: Event) -> dict[str, Any]:
    """The named parameters of the event statements above."""
    status = RUN_STATUS_BY_EVENT.get(event.event_type)
    return {
        "p_run_id": event.run_id,
        "p_event_type": event.event_type.value,
        "p_step_key": event.step_key,
        "p_asset_key": event.asset_key.to_string() if event.asset_key is not None else None,
        "p_timestamp": event.timestamp,
        "p_body": event.to_json(),
        "p_status": status.value if status is not None else None,
    }


class SqlEvents:
    _db: Database

    def store_event(self, event: Event) -> int:
        status = RUN_STATUS_BY_EVENT.get(event.event_type)
        materialized = event.event_type == EventType.ASSET_MATERIALIZATION and event.asset_key is not None
        params = event_params(event)
        if self._db.dialect == "postgresql":
            # One statement, atomic by itself, in one round trip.
            with self._db.write_one() as conn:
                event_id: int = conn.execute(_pg_store_event(status, materialized), params).scalar_one()
            return event_id
        with self._db.write() as conn:
            event_id = conn.execute(_INSERT_EVENT_RETURNING_ID, params).scalar_one()
            if status is not None:
                conn.execute(_run_status_update(status), params)
            if materialized:
                conn.execute(_SQLITE_ASSET_UPSERT, {**params, "p_event_id": event_id})
        return event_id

    def get_events(
        self,
        run_id: str,
        after_id: int = 0,
        limit: int | None = None,
        event_types: Sequence[EventType] | None = None,
    ) -> list[EventRecord]:
        stmt = (
            sa.select(event_logs.c.id, event_logs.c.body)
            .where(event_logs.c.run_id == run_id, event_logs.c.id > after_id)
            .order_by(event_logs.c.id)
        )
        if event_types is not None:
            stmt = stmt.where(event_logs.c.event_type.in_([t.value for t in event_types]))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.read() as conn:
            return [EventRecord(storage_id=row.id, event=Event.from_json(row.body)) for row in conn.execute(stmt)]

    def get_latest_materialization(self, asset_key: AssetKey) -> EventRecord | None:
        return self.get_latest_materializations([asset_key]).get(asset_key)

    def get_latest_materializations(self, asset_keys: Sequence[AssetKey] | None = None) -> dict[AssetKey, EventRecord]:
        stmt = sa.select(asset_index.c.asset_key, event_logs.c.id, event_logs.c.body).join(
            event_logs, event_logs.c.id == asset_index.c.last_materialization_event_id
        )
        if asset_keys is not None:
            stmt = stmt.where(asset_index.c.asset_key.in_([key.to_string() for key in asset_keys]))
        with self._db.read() as conn:
            return {
                AssetKey.from_string(row.asset_key): EventRecord(row.id, Event.from_json(row.body))
                for row in conn.execute(stmt)
            }

    def purge(self, older_than: float | datetime) -> PurgeResult:
        cutoff = older_than.timestamp() if isinstance(older_than, datetime) else time.time() - older_than
        old_finished = sa.select(runs.c.run_id).where(
            runs.c.created_at < cutoff, runs.c.status.in_([s.value for s in FINISHED_STATUSES])
        )
        # An asset's latest materialisation outlives retention, or the asset
        # would look never materialised.
        kept = sa.select(asset_index.c.last_materialization_event_id)
        with self._db.write() as conn:
            events_deleted = conn.execute(
                event_logs.delete().where(event_logs.c.run_id.in_(old_finished), event_logs.c.id.not_in(kept))
            ).rowcount
            conn.execute(run_tags.delete().where(run_tags.c.run_id.in_(old_finished)))
            runs_deleted = conn.execute(runs.delete().where(runs.c.run_id.in_(old_finished))).rowcount
        return PurgeResult(runs_deleted=runs_deleted, events_deleted=events_deleted)


def refresh_asset_keys(conn: Connection, keys: Iterable[str]) -> None:
    """Point each asset's index row at its latest materialisation still in
    the log (after events were deleted), or drop the row if none is left."""
    for key in keys:
        latest = conn.execute(
            sa.select(event_logs.c.id, event_logs.c.run_id, event_logs.c.timestamp)
            .where(event_logs.c.asset_key == key, event_logs.c.event_type == _MATERIALIZATION)
            .order_by(event_logs.c.id.desc())
            .limit(1)
        ).first()
        where = asset_index.c.asset_key == key
        if latest is None:
            conn.execute(asset_index.delete().where(where))
        else:
            conn.execute(
                asset_index.update()
                .where(where)
                .values(
                    last_materialization_event_id=latest.id,
                    last_run_id=latest.run_id,
                    last_materialization_timestamp=latest.timestamp,
                )
            )
