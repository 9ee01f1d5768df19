"""Errors the storage layer raises, each saying what to do about it."""

from __future__ import annotations

from locus.definitions.errors import LocusError


class StorageError(LocusError):
    """Base of the storage errors."""


class DuplicateRunError(StorageError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"a run with id {run_id!r} already exists", "give the new run a fresh id (new_run_id())")
        self.run_id = run_id


class DuplicateTickError(StorageError):
    """The tick was already created, by this process or another: skip it."""

    def __init__(self, origin_id: str, tick_key: str) -> None:
        super().__init__(
            f"tick {tick_key!r} of {origin_id!r} already exists",
            "another evaluation already claimed this tick; skip it",
        )
        self.origin_id = origin_id
        self.tick_key = tick_key


class UnknownTickError(StorageError):
    def __init__(self, tick_id: int | None) -> None:
        super().__init__(f"no tick with id {tick_id!r}", "update the TickRecord that create_tick() returned")
        self.tick_id = tick_id


class SchemaOutdatedError(StorageError):
    """The database schema is older than this version of Locus expects."""


class SchemaTooNewError(StorageError):
    """The database was migrated by a newer version of Locus."""
