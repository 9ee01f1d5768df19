"""Listing runs: newest first, cursor pagination without duplicates, and
every filter, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.stack import seed_run
from locus.execution.events import RunStatus
from locus.execution.runs import RunRecord
from locus.instance.instance import LocusInstance

T0 = 1_700_000_000.0


def _page(http: TestClient, **params: Any) -> dict[str, Any]:
    response = http.get("/api/runs", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_250_runs_come_in_pages_of_100_newest_first_without_duplicates(
    instance: LocusInstance, http: TestClient
) -> None:
    storage = instance.storage
    for n in range(250):
        storage.add_run(RunRecord(f"run-{n:03d}", "etl", RunStatus.SUCCESS, created_at=T0 + n, updated_at=T0 + n))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        body = _page(http, limit=100, **({"cursor": cursor} if cursor else {}))
        seen += [r["run_id"] for r in body["runs"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [f"run-{n:03d}" for n in reversed(range(250))]
    assert len(set(seen)) == 250


def test_an_exact_last_page_has_no_next_cursor(instance: LocusInstance, http: TestClient) -> None:
    for n in range(4):
        instance.add_run(RunRecord(f"r{n}", "etl", created_at=T0 + n))
    first = _page(http, limit=2)
    second = _page(http, limit=2, cursor=first["next_cursor"])
    assert [r["run_id"] for r in second["runs"]] == ["r1", "r0"] and second["next_cursor"] is None


def test_filters_by_status_job_location_tag_and_time(instance: LocusInstance, http: TestClient) -> None:
    seed_run(instance, "a", job="etl", location="pipeline", status=RunStatus.SUCCESS,
             tags={"team": "sales", "env": "prod"}, created_at=T0 + 1)
    seed_run(instance, "b", job="etl", location="pipeline", status=RunStatus.FAILURE,
             tags={"team": "sales"}, created_at=T0 + 2)
    seed_run(instance, "c", job="report", location="other", status=RunStatus.SUCCESS,
             tags={"team": "ops"}, created_at=T0 + 3)
    seed_run(instance, "d", job="report", location="other", status=RunStatus.QUEUED, created_at=T0 + 4)

    def ids(**params: Any) -> list[str]:
        return [r["run_id"] for r in _page(http, **params)["runs"]]

    assert ids() == ["d", "c", "b", "a"]
    assert ids(status="SUCCESS") == ["c", "a"]
    assert ids(status=["FAILURE", "QUEUED"]) == ["d", "b"]
    assert ids(job="etl") == ["b", "a"]
    assert ids(location="other") == ["d", "c"]
    assert ids(tag="team:sales") == ["b", "a"]
    assert ids(tag=["team:sales", "env:prod"]) == ["a"]
    assert ids(created_after=T0 + 2) == ["d", "c"]
    assert ids(created_before="2023-11-14T22:13:22Z") == ["a"]  # T0 + 2, exclusive
    assert ids(created_after=T0 + 1, created_before=T0 + 4, job="report") == ["c"]
    assert ids(status="SUCCESS", tag="team:ops") == ["c"]


def test_bad_filters_are_422_naming_the_parameter(http: TestClient) -> None:
    for params, field in [
        ({"status": "DONE"}, "query.status"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 5000}, "query.limit"),
        ({"tag": "no-colon"}, "query.tag"),
        ({"created_after": "yesterday"}, "query.created_after"),
        ({"cursor": "no-such-run"}, "query.cursor"),
    ]:
        response = http.get("/api/runs", params=params)
        assert response.status_code == 422, (params, response.text)
        error = response.json()["error"]
        assert any(e["path"].startswith(field) for e in error["details"]["errors"]), (params, error)
