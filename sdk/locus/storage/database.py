"""One open SQLAlchemy engine per storage, with the connection settings that
make SQLite safe for several threads and processes, and read/write
transactions that behave the same on SQLite and PostgreSQL.

Connections stay open in the pool: opening one costs ~5 ms, a query on an
open one ~0.06 ms, so a connection per call would dominate every run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from locus.storage.errors import StorageError

# Several processes (daemon, API, run workers) share one SQLite file locally:
# writers wait this long for the lock instead of failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000

_WRITE = "locus_write"

AnyRow: TypeAlias = sa.Row[*tuple[Any, ...]]


def normalize_url(url: str) -> str:
    """Use psycopg 3 for every PostgreSQL URL, whatever driver it names."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Database:
    """The engine plus the two ways storage code talks to it."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        parsed = sa.make_url(self.url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(parsed)
        elif self.dialect == "postgresql":
            # Autocommit by default: reads and single-statement writes need no
            # BEGIN/COMMIT round trips; write() asks for a real transaction.
            self.engine = sa.create_engine(
                parsed, isolation_level="AUTOCOMMIT", pool_size=5, max_overflow=20, pool_recycle=3600
            )
        else:
            raise StorageError(
                f"unsupported storage URL {parsed.render_as_string(hide_password=True)!r}",
                "use sqlite:///path/to/locus.db or postgresql://user@host:port/database",
            )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads. On PostgreSQL each statement runs on its
        own (autocommit: one round trip instead of three); on SQLite they
        share one snapshot."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                yield conn
            else:
                with conn.begin():
                    yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed on exit. On SQLite it takes the write
        lock up front (BEGIN IMMEDIATE), so a read-then-write cannot fail
        half-way with SQLITE_BUSY when another process wrote in between."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="READ COMMITTED")
            else:
                conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def write_one(self) -> Iterator[Connection]:
        """A connection for exactly one write statement. PostgreSQL runs it in
        autocommit, since a single statement is atomic anyway: that saves the
        BEGIN and COMMIT round trips on the hottest path (store_event)."""
        if self.dialect == "postgresql":
            with self.engine.connect() as conn:
                yield conn
        else:
            with self.write() as conn:
                yield conn

    def upsert(self, table: sa.Table, values: dict[str, Any], keys: Sequence[str]) -> sa.Executable:
        """INSERT ... ON CONFLICT (keys) DO UPDATE, in the dialect's spelling."""
        insert = postgresql.insert(table) if self.dialect == "postgresql" else sqlite.insert(table)
        stmt = insert.values(values)
        updates = {name: stmt.excluded[name] for name in values if name not in keys}
        if not updates:
            return stmt.on_conflict_do_nothing(index_elements=list(keys))
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_engine(url: sa.URL) -> Engine:
    database = url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        raise StorageError(
            "in-memory SQLite cannot be shared between threads and processes",
            "give a file path: sqlite:///path/to/locus.db",
        )
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module (it would otherwise
        # begin lazily and never for DDL); "begin" below emits BEGIN itself.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        # WAL lets readers proceed while one process writes; NORMAL sync is
        # crash-safe in WAL mode and skips an fsync per commit.
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine
