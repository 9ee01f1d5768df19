"""Schema versions: created on an empty database, checked cheaply when
current, upgraded in place for SQLite, and refused with the fix for an
outdated PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa

from locus.storage.database import Database, normalize_url
from locus.storage.errors import SchemaOutdatedError, SchemaTooNewError, StorageError
from locus.storage.schema import HEAD_REVISION, MIGRATIONS_DIR, alembic_config, migrate
from locus.storage.sql_storage import SqlStorage
from locus.storage.tables import metadata


def downgrade_to_base(url: str) -> None:
    from alembic import command

    db = Database(url)
    with db.write() as conn:
        command.downgrade(alembic_config(conn), "base")
    db.dispose()


def set_revision(url: str, revision: str) -> None:
    db = Database(url)
    with db.write() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    db.dispose()


def test_head_revision_constant_matches_the_migrations() -> None:
    from alembic.script import ScriptDirectory

    assert ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head() == HEAD_REVISION


def test_migrations_create_exactly_the_tables_in_code(storage_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    SqlStorage(storage_url).dispose()
    db = Database(storage_url)
    with db.read() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    db.dispose()
    assert diff == []


def test_opening_a_current_schema_does_not_import_alembic(storage_url: str) -> None:
    SqlStorage(storage_url).dispose()
    probe = (
        "import sys\n"
        "from locus.storage.sql_storage import SqlStorage\n"
        f"SqlStorage({storage_url!r}).dispose()\n"
        "assert 'alembic' not in sys.modules, 'alembic was imported'\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)


@pytest.mark.postgres
def test_outdated_postgres_schema_asks_for_locus_instance_migrate(postgres_url: str) -> None:
    SqlStorage(postgres_url).dispose()
    downgrade_to_base(postgres_url)

    with pytest.raises(SchemaOutdatedError, match="locus instance migrate"):
        SqlStorage(postgres_url)

    result = migrate(postgres_url)
    assert (result.from_revision, result.to_revision, result.changed) == (None, HEAD_REVISION, True)
    with SqlStorage(postgres_url) as storage:
        assert storage.count_runs() == 0
    assert migrate(postgres_url).changed is False


def test_outdated_sqlite_file_is_upgraded_on_open(sqlite_url: str) -> None:
    SqlStorage(sqlite_url).dispose()
    downgrade_to_base(sqlite_url)

    with SqlStorage(sqlite_url) as storage:
        assert storage.count_runs() == 0


def test_a_schema_from_a_newer_locus_is_refused(storage_url: str) -> None:
    SqlStorage(storage_url).dispose()
    set_revision(storage_url, "9999_from_the_future")

    with pytest.raises(SchemaTooNewError, match="upgrade Locus"):
        SqlStorage(storage_url)


def test_postgres_urls_always_use_psycopg(postgres_url: str) -> None:
    assert normalize_url("postgresql://u:p@h:5432/db") == "postgresql+psycopg://u:p@h:5432/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    with SqlStorage(postgres_url) as storage:
        assert storage.url.startswith("postgresql+psycopg://")


@pytest.mark.parametrize(("url", "hint"), [("mysql://u@h/db", "postgresql://"), ("sqlite://", "file path")])
def test_unusable_urls_are_refused_with_the_fix(url: str, hint: str) -> None:
    with pytest.raises(StorageError, match=hint):
        SqlStorage(url)
