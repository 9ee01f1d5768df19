"""The code-location registry and the key/value store."""

from __future__ import annotations

from dataclasses import replace

from locus.execution.events import ErrorInfo
from locus.storage.records import LocationRecord, LocationStatus
from locus.storage.sql_storage import SqlStorage


def test_locations_are_upserted_listed_and_deleted(storage: SqlStorage) -> None:
    loading = LocationRecord("numbers", image="img:1", endpoint="localhost:4000", updated_at=1.0)
    storage.upsert_location(loading)
    broken = LocationRecord(
        "broken",
        LocationStatus.ERROR,
        load_error=ErrorInfo("ImportError", "no module x", "Traceback ..."),
        updated_at=2.0,
    )
    storage.upsert_location(broken)

    loaded = replace(
        loading,
        status=LocationStatus.LOADED,
        snapshot_id="abc",
        counts={"assets": 3, "jobs": 1},
        updated_at=3.0,
    )
    storage.upsert_location(loaded)

    assert storage.get_location("numbers") == loaded
    assert storage.get_locations() == [broken, loaded]
    assert storage.delete_location("broken") is True
    assert storage.delete_location("broken") is False
    assert storage.get_location("broken") is None


def test_kv_set_overwrites_and_get_returns_known_keys(storage: SqlStorage) -> None:
    storage.kv_set({"a": "1", "b": "2"})
    storage.kv_set({"b": "3"})

    assert storage.kv_get(["a", "b", "missing"]) == {"a": "1", "b": "3"}
    assert storage.kv_get([]) == {}
