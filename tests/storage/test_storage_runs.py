"""Runs in storage: what is stored reads back, lists filter and page."""

from __future__ import annotations

from typing import Any

import pytest

from locus.definitions.asset_key import AssetKey
from locus.execution.events import RunStatus
from locus.execution.runs import RunRecord, RunsFilter, new_run_id
from locus.storage.errors import DuplicateRunError, StorageError
from locus.storage.sql_storage import SqlStorage


def make_run(job_name: str = "job", **kwargs: Any) -> RunRecord:
    return RunRecord(run_id=new_run_id(), job_name=job_name, **kwargs)


def test_a_run_reads_back_with_every_field(storage: SqlStorage) -> None:
    run = RunRecord(
        run_id=new_run_id(),
        job_name="etl",
        status=RunStatus.QUEUED,
        run_config={"ops": {"load": {"config": {"rows": 3}}}},
        tags={"team": "data", "locus/priority": "1"},
        location_name="warehouse",
        asset_selection=(AssetKey(["raw", "orders"]), AssetKey("clean")),
        step_keys_to_execute=("load", "clean"),
        parent_run_id="parent",
        root_run_id="root",
        origin={"module": "pipelines", "attribute": "defs"},
        created_at=1000.5,
        updated_at=1001.25,
    )
    storage.add_run(run)

    assert storage.get_run(run.run_id) == run
    assert storage.get_run("no-such-run") is None


def test_adding_a_run_twice_is_refused(storage: SqlStorage) -> None:
    run = storage.add_run(make_run())
    with pytest.raises(DuplicateRunError, match=run.run_id):
        storage.add_run(run)


def test_runs_list_newest_first_and_page_by_cursor(storage: SqlStorage) -> None:
    ids = [storage.add_run(make_run(created_at=100.0)).run_id for _ in range(7)]
    newest_first = list(reversed(ids))

    assert [r.run_id for r in storage.get_runs()] == newest_first

    pages, cursor = [], None
    while page := storage.get_runs(limit=3, cursor=cursor):
        pages.append([r.run_id for r in page])
        cursor = page[-1].run_id
    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:7]]


def test_filters_narrow_and_count_agrees(storage: SqlStorage) -> None:
    a = storage.add_run(make_run("a", tags={"team": "x", "env": "prod"}, location_name="l1", created_at=10))
    b = storage.add_run(make_run("a", tags={"team": "y", "env": "prod"}, location_name="l2", created_at=20))
    c = storage.add_run(make_run("b", status=RunStatus.SUCCESS, tags={"team": "x"}, created_at=30))

    def ids(filters: RunsFilter) -> set[str]:
        found = {r.run_id for r in storage.get_runs(filters)}
        assert storage.count_runs(filters) == len(found)
        return found

    assert ids(RunsFilter(job_name="a")) == {a.run_id, b.run_id}
    assert ids(RunsFilter(tags={"team": "x"})) == {a.run_id, c.run_id}
    assert ids(RunsFilter(tags={"team": "x", "env": "prod"})) == {a.run_id}
    assert ids(RunsFilter(tags={"team": "nobody"})) == set()
    assert ids(RunsFilter(statuses=(RunStatus.SUCCESS,))) == {c.run_id}
    assert ids(RunsFilter(location_name="l2")) == {b.run_id}
    assert ids(RunsFilter(run_ids=(a.run_id, c.run_id))) == {a.run_id, c.run_id}
    assert ids(RunsFilter(created_after=10, created_before=30)) == {b.run_id}
    assert storage.count_runs() == 3


def test_added_tags_are_read_and_filtered(storage: SqlStorage) -> None:
    run = storage.add_run(make_run(tags={"team": "x"}))

    storage.add_tags(run.run_id, {"team": "y", "retry": "1"})

    stored = storage.get_run(run.run_id)
    assert stored is not None and stored.tags == {"team": "y", "retry": "1"}
    assert [r.run_id for r in storage.get_runs(RunsFilter(tags={"team": "y"}))] == [run.run_id]
    assert storage.get_runs(RunsFilter(tags={"team": "x"})) == []


def test_deleting_a_run_removes_it(storage: SqlStorage) -> None:
    run = storage.add_run(make_run(tags={"team": "x"}))

    assert storage.delete_run(run.run_id) is True
    assert storage.get_run(run.run_id) is None
    assert storage.count_runs(RunsFilter(tags={"team": "x"})) == 0
    assert storage.delete_run(run.run_id) is False


def test_tagging_an_unknown_run_says_so(storage: SqlStorage) -> None:
    with pytest.raises(StorageError, match="no run with id 'ghost'"):
        storage.add_tags("ghost", {"a": "b"})
