"""SqlStorage: the Storage protocol on SQLite or PostgreSQL, assembled from
one part per concept (runs, events, schedules, registry)."""

from __future__ import annotations

from types import TracebackType

from locus.execution.events import RUN_STATUS_BY_EVENT, Event, RunStatus
from locus.execution.runs import RunRecord
from locus.storage.base import Storage
from locus.storage.database import Database
from locus.storage.schema import ensure_schema, read_schema_state
from locus.storage.sql_daemon import SqlDaemon
from locus.storage.sql_events import SqlEvents
from locus.storage.sql_registry import SqlRegistry
from locus.storage.sql_runs import SqlRuns
from locus.storage.sql_schedules import SqlSchedules


class SqlStorage(SqlRuns, SqlEvents, SqlSchedules, SqlRegistry, SqlDaemon):
    """Storage at ``url``: ``sqlite:///path/locus.db`` or
    ``postgresql://user:password@host:port/database`` (always through psycopg 3).

    Opening creates the schema in an empty database, upgrades an older SQLite
    file, and refuses an older PostgreSQL schema (SchemaOutdatedError says to
    run ``locus instance migrate``). One instance is safe to share between the
    threads of a process; keep it for the life of the process and ``dispose()``
    it at the end.
    """

    def __init__(self, url: str) -> None:
        self._db = Database(url)
        try:
            ensure_schema(self._db)
        except BaseException:
            self._db.dispose()
            raise

    def store_event(self, event: Event) -> int:
        event_id = super().store_event(event)
        status = RUN_STATUS_BY_EVENT.get(event.event_type)
        if status is not None:
            # After the commit, so a woken queue sees the new status.
            self.notify_run_status(event.run_id, status)
        return event_id

    def add_queued_run(self, run: RunRecord, message: str) -> RunRecord:
        queued = super().add_queued_run(run, message)
        self.notify_run_status(run.run_id, RunStatus.QUEUED)  # after the commit, as store_event does
        return queued

    @property
    def url(self) -> str:
        return self._db.url

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect

    def describe(self) -> str:
        return self._db.engine.url.render_as_string(hide_password=True)

    def schema_version(self) -> str | None:
        with self._db.read() as conn:
            return read_schema_state(conn).revision

    def dispose(self) -> None:
        self._db.dispose()

    def __enter__(self) -> SqlStorage:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"SqlStorage({self.describe()!r})"


def _conforms(storage: SqlStorage) -> Storage:
    # Makes mypy prove that SqlStorage satisfies the Storage protocol.
    return storage
