"""`locus instance` and running against the storage locus.yaml names."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import OWN_EXAMPLES, run_locus


def test_instance_migrate_creates_the_schema_and_info_shows_where(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run_locus("instance", "migrate", cwd=tmp_path, home=home)
    assert done.code == 0, done.output
    assert "schema" in done.stdout and (home / "locus.db").exists()
    info = run_locus("instance", "info", cwd=tmp_path, home=home)
    assert str(home / "logs") in info.stdout and "sqlite" in info.stdout.lower()


@pytest.mark.postgres
def test_runs_go_to_the_postgres_storage_named_in_locus_yaml(tmp_path: Path, postgres_url: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "locus.yaml").write_text("storage:\n  postgres:\n    url: {env: PG_URL}\n")
    env = {"PG_URL": postgres_url}
    migrated = run_locus("instance", "migrate", cwd=tmp_path, home=home, env=env)
    assert migrated.code == 0, migrated.output
    done = run_locus("asset", "materialize", "-f", str(OWN_EXAMPLES / "hello.py"), "--select", "*",
                     cwd=tmp_path, home=home, env=env)
    assert done.code == 0, done.output
    assert not (home / "locus.db").exists()
    listed = run_locus("run", "list", cwd=tmp_path, home=home, env=env)
    assert "SUCCESS" in listed.stdout and "__ASSET_JOB" in listed.stdout

    from locus.definitions.asset_key import AssetKey
    from locus.storage.sql_storage import SqlStorage

    with SqlStorage(postgres_url) as storage:
        assert storage.get_latest_materialization(AssetKey("my_asset")) is not None
