"""Schedule and sensor state and their ticks in SQL.

A tick is created exactly once per (origin_id, tick_key): the unique
constraint, not a read-then-insert, decides which daemon wins a race.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from locus.execution.events import ErrorInfo
from locus.storage.database import AnyRow, Database
from locus.storage.errors import DuplicateTickError, UnknownTickError
from locus.storage.records import InstigatorState, InstigatorType, TickRecord, TickStatus
from locus.storage.tables import instigators, ticks


class SqlSchedules:
    _db: Database

    def get_instigator_state(self, origin_id: str) -> InstigatorState | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(instigators).where(instigators.c.origin_id == origin_id)).first()
        return _state(row) if row is not None else None

    def set_instigator_state(self, state: InstigatorState) -> InstigatorState:
        self.set_instigator_states([state])
        return state

    def set_instigator_states(self, states: Sequence[InstigatorState]) -> None:
        if not states:
            return
        with self._db.write() as conn:
            for state in states:
                conn.execute(self._db.upsert(instigators, _instigator_row(state), keys=("origin_id",)))

    def get_instigator_states(
        self, instigator_type: InstigatorType | None = None, location_name: str | None = None
    ) -> list[InstigatorState]:
        stmt = sa.select(instigators).order_by(instigators.c.location_name, instigators.c.name)
        if instigator_type is not None:
            stmt = stmt.where(instigators.c.instigator_type == instigator_type)
        if location_name is not None:
            stmt = stmt.where(instigators.c.location_name == location_name)
        with self._db.read() as conn:
            return [_state(row) for row in conn.execute(stmt)]

    def delete_instigator_state(self, origin_id: str) -> bool:
        with self._db.write() as conn:
            return conn.execute(instigators.delete().where(instigators.c.origin_id == origin_id)).rowcount > 0

    def create_tick(self, tick: TickRecord) -> TickRecord:
        try:
            with self._db.write() as conn:
                row = {"origin_id": tick.origin_id, "tick_key": tick.tick_key, **_tick_values(tick)}
                tick_id: int = conn.execute(ticks.insert().returning(ticks.c.id), row).scalar_one()
        except sa.exc.IntegrityError:
            raise DuplicateTickError(tick.origin_id, tick.tick_key) from None
        return replace(tick, tick_id=tick_id)

    def update_tick(self, tick: TickRecord) -> TickRecord:
        with self._db.write() as conn:
            updated = conn.execute(ticks.update().where(ticks.c.id == tick.tick_id).values(_tick_values(tick))).rowcount
        if tick.tick_id is None or not updated:
            raise UnknownTickError(tick.tick_id)
        return tick

    def get_ticks(self, origin_id: str, limit: int | None = None) -> list[TickRecord]:
        stmt = (
            sa.select(ticks).where(ticks.c.origin_id == origin_id).order_by(ticks.c.timestamp.desc(), ticks.c.id.desc())
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.read() as conn:
            return [_tick(row) for row in conn.execute(stmt)]

    def purge_ticks(self, before: float) -> int:
        with self._db.write() as conn:
            return conn.execute(ticks.delete().where(ticks.c.timestamp < before)).rowcount


def _state(row: AnyRow) -> InstigatorState:
    return InstigatorState(
        origin_id=row.origin_id,
        name=row.name,
        location_name=row.location_name,
        instigator_type=row.instigator_type,
        status=row.status,
        cursor=row.cursor,
        data=json.loads(row.data),
        updated_at=row.updated_at,
    )


def _tick_values(tick: TickRecord) -> dict[str, Any]:
    body = {
        "run_ids": list(tick.run_ids),
        "run_keys": list(tick.run_keys),
        "skip_reason": tick.skip_reason,
        "error": tick.error.to_dict() if tick.error is not None else None,
        "cursor": tick.cursor,
    }
    return {"status": tick.status.value, "timestamp": tick.timestamp, "body": json.dumps(body)}


def _tick(row: AnyRow) -> TickRecord:
    body = json.loads(row.body)
    return TickRecord(
        tick_id=row.id,
        origin_id=row.origin_id,
        tick_key=row.tick_key,
        status=TickStatus(row.status),
        timestamp=row.timestamp,
        run_ids=tuple(body["run_ids"]),
        run_keys=tuple(body["run_keys"]),
        skip_reason=body["skip_reason"],
        error=ErrorInfo.from_dict(body["error"]) if body["error"] else None,
        cursor=body["cursor"],
    )


def _instigator_row(state: InstigatorState) -> dict[str, Any]:
    return {
        "origin_id": state.origin_id,
        "name": state.name,
        "location_name": state.location_name,
        "instigator_type": state.instigator_type,
        "status": state.status,
        "cursor": state.cursor,
        "data": json.dumps(dict(state.data)),
        "updated_at": state.updated_at,
    }
