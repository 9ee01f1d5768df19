"""LocusInstance: found from $LOCUS_HOME, configured by locus.yaml, and a
working ExecutionInstance for the engine."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from locus.execution.events import Event, EventType, RunStatus
from locus.execution.runs import RunRecord
from locus.instance.config import parse_instance_config
from locus.instance.errors import InstanceConfigError
from locus.instance.instance import LocusInstance
from locus.storage.database import Database
from locus.storage.errors import SchemaOutdatedError


def test_without_locus_home_it_uses_dot_locus_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOCUS_HOME", raising=False)
    monkeypatch.chdir(tmp_path)

    with LocusInstance.get() as instance:
        instance.add_run(RunRecord(run_id="r1", job_name="job"))
        assert instance.home == tmp_path / ".locus"
        assert instance.compute_logs_dir == tmp_path / ".locus" / "logs"
        assert instance.storage_dir == tmp_path / ".locus" / "storage"
    assert (tmp_path / ".locus" / "locus.db").exists()


def test_locus_yaml_in_locus_home_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "locus.yaml").write_text(
        "storage:\n  sqlite: {base_dir: db}\ncompute_logs: {base_dir: /tmp/locus-logs}\n"
    )
    monkeypatch.setenv("LOCUS_HOME", str(home))

    with LocusInstance.get() as instance:
        assert instance.compute_logs_dir == Path("/tmp/locus-logs")
        assert instance.config.storage.sqlite is not None
    assert (home / "db" / "locus.db").exists()


def test_a_broken_locus_yaml_stops_get_with_its_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locus.yaml").write_text("storage:\n  sqlit: {}\n")
    monkeypatch.setenv("LOCUS_HOME", str(tmp_path))

    with pytest.raises(InstanceConfigError, match=r"locus\.yaml.*storage\.sqlit: unknown key"):
        LocusInstance.get()


def test_runs_and_events_go_through_to_storage(storage_url: str, tmp_path: Path) -> None:
    with LocusInstance.for_url(storage_url, tmp_path) as instance:
        instance.add_run(RunRecord(run_id="r1", job_name="job"))
        first = instance.store_event(Event("r1", EventType.RUN_START, timestamp=5.0))
        instance.store_event(Event("r1", EventType.RUN_SUCCESS, timestamp=6.0))

        run = instance.get_run("r1")
        assert run is not None and (run.status, run.start_time, run.end_time) == (RunStatus.SUCCESS, 5.0, 6.0)
        assert [r.event.event_type for r in instance.get_events("r1", after_id=first)] == [
            EventType.RUN_SUCCESS
        ]
        assert instance.storage.count_runs() == 1


@pytest.mark.postgres
def test_from_config_with_postgres(postgres_url: str, tmp_path: Path) -> None:
    config = parse_instance_config(f"storage:\n  postgres:\n    url: '{postgres_url}'\n")
    with LocusInstance.from_config(config, tmp_path) as instance:
        instance.add_run(RunRecord(run_id="r1", job_name="job"))
        assert instance.get_run("r1") is not None


@pytest.mark.postgres
def test_get_with_migrate_upgrades_an_outdated_postgres_schema(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from locus.storage.schema import HEAD_REVISION

    (tmp_path / "locus.yaml").write_text(f"storage:\n  postgres:\n    url: '{postgres_url}'\n")
    monkeypatch.setenv("LOCUS_HOME", str(tmp_path))
    db = Database(postgres_url)
    with db.write() as conn:  # an old schema: alembic's table, no revision yet
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
    db.dispose()

    with pytest.raises(SchemaOutdatedError):
        LocusInstance.get()
    with LocusInstance.get(migrate=True) as instance:
        assert instance.schema_version() == HEAD_REVISION
        assert "postgresql+psycopg://" in instance.describe_storage()
