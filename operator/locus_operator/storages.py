"""The operator's connections to each Instance's database: where it
registers code locations and reads the schema version.

An Instance's reconcile sets (or replaces, when the settings change) its
storage once the migration Job has finished; CodeLocation reconciles only
read it. Database calls are synchronous and run in threads."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from locus.storage.base import Storage
from locus.storage.records import LocationRecord
from locus.storage.sql_storage import SqlStorage

log = logging.getLogger(__name__)

InstanceKey = tuple[str, str]  # (namespace, name)


@dataclass
class _Entry:
    url: str
    storage: Storage


@dataclass
class InstanceStorages:
    _entries: dict[InstanceKey, _Entry] = field(default_factory=dict)

    def set(self, key: InstanceKey, url: str) -> Storage:
        entry = self._entries.get(key)
        if entry is not None and entry.url == url:
            return entry.storage
        if entry is not None:
            entry.storage.dispose()
        storage = SqlStorage(url)
        self._entries[key] = _Entry(url, storage)
        return storage

    def get(self, key: InstanceKey) -> Storage | None:
        entry = self._entries.get(key)
        return entry.storage if entry is not None else None

    def drop(self, key: InstanceKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            entry.storage.dispose()

    def close(self) -> None:
        for key in list(self._entries):
            self.drop(key)


async def register(storage: Storage, record: LocationRecord) -> None:
    """Write ``record`` unless the registry already says the same."""

    def write() -> None:
        current = storage.get_location(record.name)
        if current is not None and _same(current, record):
            return
        storage.upsert_location(record)

    await asyncio.to_thread(write)


def _same(a: LocationRecord, b: LocationRecord) -> bool:
    return (a.status, a.image, a.endpoint, a.snapshot_id, a.load_error, dict(a.counts)) == (
        b.status,
        b.image,
        b.endpoint,
        b.snapshot_id,
        b.load_error,
        dict(b.counts),
    )


async def deregister(storage: Storage, name: str) -> bool:
    return await asyncio.to_thread(storage.delete_location, name)


async def count_locations(storage: Storage) -> int:
    return len(await asyncio.to_thread(storage.get_locations))


async def schema_version(storage: Storage) -> str | None:
    return await asyncio.to_thread(storage.schema_version)
