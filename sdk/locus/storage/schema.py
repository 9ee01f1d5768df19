"""Schema versioning: check the database's revision when storage opens, and
run the Alembic migrations when it must.

Opening storage on a current schema reads ``alembic_version`` directly and
never imports alembic (its import costs more than the whole check). An empty
database gets the schema created; an older SQLite file is upgraded in place
(it belongs to this machine); an older PostgreSQL schema is shared by other
processes and possibly other versions, so upgrading it is an explicit step:
``locus instance migrate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from locus.storage.database import Database
from locus.storage.errors import SchemaOutdatedError, SchemaTooNewError

if TYPE_CHECKING:
    from alembic.config import Config

# Must equal the head of migrations/versions; tests/storage/test_schema.py checks it.
HEAD_REVISION = "0001"

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Any fixed number: serialises concurrent migrators (operator, daemon, API
# starting at once) on PostgreSQL.
_PG_MIGRATION_LOCK = 0x6C6F637573


@dataclass(frozen=True)
class SchemaState:
    """``initialized`` is False when Locus has never touched the database;
    ``revision`` is None when it has been but holds no revision (downgraded to base)."""

    initialized: bool
    revision: str | None


@dataclass(frozen=True)
class MigrationResult:
    from_revision: str | None
    to_revision: str

    @property
    def changed(self) -> bool:
        return self.from_revision != self.to_revision


def read_schema_state(conn: Connection) -> SchemaState:
    if not sa.inspect(conn).has_table("alembic_version"):
        return SchemaState(initialized=False, revision=None)
    revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return SchemaState(initialized=True, revision=revision)


def ensure_schema(db: Database) -> None:
    """Make the schema usable for this version, or say exactly why it is not."""
    with db.read() as conn:
        state = read_schema_state(conn)
    if state.revision == HEAD_REVISION:
        return
    if state.initialized and db.dialect != "sqlite":
        _check_known(state.revision)
        raise SchemaOutdatedError(
            f"the PostgreSQL schema is at revision {state.revision or 'base'}, "
            f"this version of Locus needs {HEAD_REVISION}",
            "run `locus instance migrate` (with the same locus.yaml) once no older Locus process uses this database",
        )
    upgrade(db)


def migrate(url: str) -> MigrationResult:
    """Upgrade the schema at ``url`` to the head revision (what
    ``locus instance migrate`` runs). Safe to run concurrently and repeatedly."""
    db = Database(url)
    try:
        return upgrade(db)
    finally:
        db.dispose()


def upgrade(db: Database, revision: str = "head") -> MigrationResult:
    from alembic import command

    with db.write() as conn:
        if db.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        # Read again under the lock: another process may have just migrated.
        before = read_schema_state(conn).revision
        _check_known(before)
        config = alembic_config(conn)
        command.upgrade(config, revision)
        after = read_schema_state(conn).revision
    return MigrationResult(from_revision=before, to_revision=after or "base")


def alembic_config(conn: Connection) -> Config:
    """An Alembic config bound to an open connection (see migrations/env.py)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config


def _check_known(revision: str | None) -> None:
    if revision is None or revision == HEAD_REVISION:
        return
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    try:
        script.get_revision(revision)
    except CommandError:
        raise SchemaTooNewError(
            f"the database schema is at revision {revision!r}, unknown to this version of Locus "
            f"(its newest is {HEAD_REVISION}): a newer Locus migrated it",
            "upgrade Locus to the version that migrated this database",
        ) from None
