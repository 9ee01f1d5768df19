"""The code-location registry and the small key/value store, in SQL."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from locus.execution.events import ErrorInfo
from locus.storage.database import AnyRow, Database
from locus.storage.records import LocationRecord, LocationStatus
from locus.storage.tables import code_locations, kvs

# Registry changes are announced here (PostgreSQL), so followers - the API
# and the daemon on Kubernetes - pick a new location up at once.
LOCATIONS_CHANNEL = "locus_locations"


class SqlRegistry:
    _db: Database

    def _announce(self, conn: sa.Connection, name: str) -> None:
        if self._db.dialect == "postgresql":  # sent when the transaction commits
            conn.execute(sa.text("SELECT pg_notify(:channel, :name)"), {"channel": LOCATIONS_CHANNEL, "name": name})

    def upsert_location(self, location: LocationRecord) -> LocationRecord:
        body = {
            "image": location.image,
            "endpoint": location.endpoint,
            "snapshot_id": location.snapshot_id,
            "load_error": location.load_error.to_dict() if location.load_error is not None else None,
            "counts": dict(location.counts),
        }
        row = {
            "name": location.name,
            "status": location.status.value,
            "body": json.dumps(body),
            "updated_at": location.updated_at,
        }
        with self._db.write() as conn:
            conn.execute(self._db.upsert(code_locations, row, keys=("name",)))
            self._announce(conn, location.name)
        return location

    def get_location(self, name: str) -> LocationRecord | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(code_locations).where(code_locations.c.name == name)).first()
        return _location(row) if row is not None else None

    def get_locations(self) -> list[LocationRecord]:
        with self._db.read() as conn:
            return [_location(row) for row in conn.execute(sa.select(code_locations).order_by(code_locations.c.name))]

    def delete_location(self, name: str) -> bool:
        with self._db.write() as conn:
            deleted = conn.execute(code_locations.delete().where(code_locations.c.name == name)).rowcount > 0
            if deleted:
                self._announce(conn, name)
            return deleted

    def kv_get(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        with self._db.read() as conn:
            rows = conn.execute(sa.select(kvs.c.key, kvs.c.value).where(kvs.c.key.in_(list(keys))))
            return {row.key: row.value for row in rows}

    def kv_set(self, values: Mapping[str, str]) -> None:
        with self._db.write() as conn:
            for key, value in values.items():
                conn.execute(self._db.upsert(kvs, {"key": key, "value": value}, keys=("key",)))


def _location(row: AnyRow) -> LocationRecord:
    body = json.loads(row.body)
    return LocationRecord(
        name=row.name,
        status=LocationStatus(row.status),
        image=body["image"],
        endpoint=body["endpoint"],
        snapshot_id=body["snapshot_id"],
        load_error=ErrorInfo.from_dict(body["load_error"]) if body["load_error"] else None,
        counts=body["counts"],
        updated_at=row.updated_at,
    )
