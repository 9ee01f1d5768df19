"""LocusInstance: one process's view of the instance, i.e. its storage,
its compute-log manager (where step output goes) and the filesystem IO
manager's base folder, built from ``$LOCUS_HOME/locus.yaml`` (or defaults:
SQLite under ``$LOCUS_HOME``).

It is the ExecutionInstance the engine runs against, delegating the run
store to Storage.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from locus.execution.compute_logs import ComputeLogManager, LocalComputeLogManager
from locus.execution.events import Event, EventRecord, EventType
from locus.execution.runs import RunRecord
from locus.instance.config import CONFIG_FILE_NAME, ComputeLogsConfig, InstanceConfig, load_instance_config
from locus.instance.errors import InstanceConfigError
from locus.storage.base import Storage
from locus.storage.schema import migrate as migrate_schema
from locus.storage.sql_storage import SqlStorage

LOCUS_HOME_ENV = "LOCUS_HOME"
DEFAULT_HOME = ".locus"
SQLITE_FILE_NAME = "locus.db"


def locus_home() -> Path:
    """``$LOCUS_HOME``, or ``.locus`` in the working directory; created if missing."""
    home = Path(os.environ.get(LOCUS_HOME_ENV) or DEFAULT_HOME).absolute()
    home.mkdir(parents=True, exist_ok=True)
    return home


def build_compute_log_manager(config: ComputeLogsConfig, local_dir: Path) -> ComputeLogManager:
    """The manager ``compute_logs`` asks for; S3 writes through ``local_dir``."""
    if config.s3 is None:
        return LocalComputeLogManager(local_dir)
    # Imported only when configured: boto3 is an optional extra (locus[s3]).
    try:
        from locus.s3.compute_logs import S3ComputeLogManager
    except ImportError as exc:
        raise InstanceConfigError(
            f"compute_logs.s3 needs boto3, which is not installed ({exc})", "pip install 'locus[s3]'"
        ) from None
    s3 = config.s3
    return S3ComputeLogManager(
        bucket=s3.bucket,
        prefix=s3.prefix,
        endpoint_url=s3.endpoint_url,
        region_name=s3.region_name,
        local_dir=local_dir,
        upload_interval=s3.upload_interval,
    )


def storage_url(config: InstanceConfig, home: Path) -> str:
    """The storage URL a config means; relative SQLite folders are under ``home``."""
    if config.storage.postgres is not None:
        return config.storage.postgres.to_url()
    base_dir = config.storage.sqlite.base_dir if config.storage.sqlite is not None else None
    folder = home / base_dir if base_dir else home
    return f"sqlite:///{folder / SQLITE_FILE_NAME}"


class LocusInstance:
    def __init__(self, storage: Storage, home: Path, config: InstanceConfig | None = None) -> None:
        self._storage = storage
        self._home = home
        self._config = config or InstanceConfig()
        self._compute_log_manager: ComputeLogManager | None = None

    @classmethod
    def get(cls, migrate: bool = False) -> LocusInstance:
        """The instance of ``$LOCUS_HOME``: its ``locus.yaml`` if present,
        else SQLite at ``$LOCUS_HOME/locus.db``. ``migrate=True`` first
        upgrades an outdated schema (what ``locus instance migrate`` does)."""
        home = locus_home()
        config_file = home / CONFIG_FILE_NAME
        config = load_instance_config(config_file) if config_file.exists() else InstanceConfig()
        return cls.from_config(config, home, migrate=migrate)

    @classmethod
    def from_config(cls, config: InstanceConfig, home: Path, migrate: bool = False) -> LocusInstance:
        url = storage_url(config, home)
        if migrate:
            migrate_schema(url)
        return cls(SqlStorage(url), home, config)

    @classmethod
    def for_url(cls, url: str, home: Path) -> LocusInstance:
        """Storage at ``url`` and defaults for everything else (tests, tools)."""
        return cls(SqlStorage(url), home)

    @property
    def storage(self) -> Storage:
        return self._storage

    @property
    def config(self) -> InstanceConfig:
        return self._config

    @property
    def home(self) -> Path:
        return self._home

    @property
    def compute_logs_dir(self) -> Path:
        """The local folder step output is written to while a step runs (and,
        without ``compute_logs.s3``, kept in)."""
        return self._home / (self._config.compute_logs.base_dir or "logs")

    @property
    def compute_log_manager(self) -> ComputeLogManager:
        """Where step output is kept and read back from, per ``compute_logs``."""
        if self._compute_log_manager is None:
            self._compute_log_manager = build_compute_log_manager(self._config.compute_logs, self.compute_logs_dir)
        return self._compute_log_manager

    @property
    def storage_dir(self) -> Path:
        return self._home / "storage"

    def describe_storage(self) -> str:
        return self._storage.describe()

    def schema_version(self) -> str | None:
        return self._storage.schema_version()

    # -- RunStore, delegated -----------------------------------------------
    def add_run(self, run: RunRecord) -> RunRecord:
        return self._storage.add_run(run)

    def get_run(self, run_id: str) -> RunRecord | None:
        return self._storage.get_run(run_id)

    def store_event(self, event: Event) -> int:
        return self._storage.store_event(event)

    def get_events(
        self,
        run_id: str,
        after_id: int = 0,
        limit: int | None = None,
        event_types: Sequence[EventType] | None = None,
    ) -> list[EventRecord]:
        return self._storage.get_events(run_id, after_id, limit, event_types)

    # -- lifecycle -----------------------------------------------------------
    def dispose(self) -> None:
        self._storage.dispose()

    def __enter__(self) -> LocusInstance:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.dispose()

    def __repr__(self) -> str:
        return f"LocusInstance(home={str(self._home)!r}, storage={self._storage!r})"
