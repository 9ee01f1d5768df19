"""The model of ``locus.yaml``, the instance configuration, and its loading.

Every value may be written ``{env: NAME}`` to read it from the environment;
those are resolved before validation, so ``port: {env: PGPORT}`` is still
checked as an integer. Every section is optional and has working defaults
(SQLite under ``$LOCUS_HOME``).

Kept free of SQLAlchemy: the CLI reads the config before deciding whether it
needs storage at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from locus.instance.errors import InstanceConfigError

CONFIG_FILE_NAME = "locus.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqliteStorageConfig(_Model):
    base_dir: str | None = Field(
        default=None, description="Folder of locus.db; relative to $LOCUS_HOME. Default: $LOCUS_HOME."
    )


class PostgresStorageConfig(_Model):
    """Either ``url``, or the parts (``host``, ``database``, ...)."""

    url: str | None = None
    host: str | None = None
    port: int = 5432
    database: str | None = None
    user: str | None = None
    password: str | None = None
    params: dict[str, str] = Field(
        default_factory=dict,
        description="Extra libpq connection parameters, e.g. sslmode, or options.",
    )

    @model_validator(mode="after")
    def _url_or_parts(self) -> PostgresStorageConfig:
        if self.url is not None and (self.host or self.database or self.user or self.password):
            raise ValueError("give either url or host/database/user/password, not both")
        if self.url is None and not (self.host and self.database):
            raise ValueError("needs url, or at least host and database")
        return self

    def to_url(self) -> str:
        if self.url is not None:
            if not self.params:
                return self.url
            return self.url + ("&" if "?" in self.url else "?") + urlencode(self.params)
        auth = ""
        if self.user:
            auth = quote(self.user, safe="")
            if self.password:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        query = f"?{urlencode(self.params)}" if self.params else ""
        return f"postgresql+psycopg://{auth}{self.host}:{self.port}/{quote(self.database or '')}{query}"


class StorageConfig(_Model):
    """Exactly one of ``sqlite`` or ``postgres``."""

    sqlite: SqliteStorageConfig | None = None
    postgres: PostgresStorageConfig | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> StorageConfig:
        if (self.sqlite is None) == (self.postgres is None):
            raise ValueError("set exactly one of sqlite or postgres")
        return self


class S3ComputeLogsConfig(_Model):
    """Step output uploaded to ``s3://<bucket>/<prefix>/<run_id>/<step_key>.out|.err``
    while the step runs. Credentials come from boto3's usual chain
    (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, or the pod's role)."""

    bucket: str = Field(min_length=1, description="The bucket; it must exist.")
    prefix: str = Field(default="locus-compute-logs", description="Key prefix of every log object.")
    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint, e.g. http://minio:9000. Default: AWS."
    )
    region_name: str | None = None
    upload_interval: float = Field(
        default=1.0, gt=0, description="Seconds between uploads of a running step's output."
    )


class ComputeLogsConfig(_Model):
    """Where step stdout/stderr are kept: files under ``base_dir``, or with
    ``s3``, objects in a bucket (``base_dir`` then holds the files only while
    steps write them)."""

    base_dir: str | None = Field(default=None, description="Relative to $LOCUS_HOME. Default: logs.")
    s3: S3ComputeLogsConfig | None = None


class K8sRunLauncherConfig(_Model):
    job_namespace: str | None = None
    service_account_name: str | None = None
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0)
    backoff_limit: int = Field(default=0, ge=0)


class RunLauncherConfig(_Model):
    """Where runs execute: ``local`` (subprocesses, the default) or ``k8s`` (Jobs)."""

    local: dict[str, Any] | None = None
    k8s: K8sRunLauncherConfig | None = None

    @model_validator(mode="after")
    def _at_most_one(self) -> RunLauncherConfig:
        if self.local is not None and self.k8s is not None:
            raise ValueError("set at most one of local or k8s")
        return self

    @property
    def kind(self) -> Literal["local", "k8s"]:
        return "k8s" if self.k8s is not None else "local"


class UniqueValues(_Model):
    """``value: {applyLimitPerUniqueValue: true}`` (Dagster's shape): the limit
    applies to each distinct value of the key separately."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    apply_limit_per_unique_value: bool = Field(alias="applyLimitPerUniqueValue")


class TagConcurrencyLimit(_Model):
    key: str
    value: str | UniqueValues | None = Field(
        default=None,
        description="Omit to limit every value of the key together; {applyLimitPerUniqueValue: true} "
        "to limit each value separately.",
    )
    limit: int = Field(ge=0)

    @field_validator("value", mode="before")
    @classmethod
    def _value_shape(cls, value: Any) -> Any:
        # Checked here, not by the union, so that a wrong mapping gets one
        # message naming the accepted shapes instead of one per union member.
        if isinstance(value, dict):
            flag = value.get("applyLimitPerUniqueValue")
            if set(value) != {"applyLimitPerUniqueValue"} or not isinstance(flag, bool):
                raise ValueError("must be a string, or the mapping {applyLimitPerUniqueValue: true}")
            return UniqueValues.model_validate(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # `value: 3` in YAML means the tag value "3"
        if value is not None and not isinstance(value, str):
            raise ValueError("must be a string, or the mapping {applyLimitPerUniqueValue: true}")
        return value

    @property
    def per_unique_value(self) -> bool:
        return isinstance(self.value, UniqueValues) and self.value.apply_limit_per_unique_value


class RunCoordinatorConfig(_Model):
    max_concurrent_runs: int = Field(default=-1, ge=-1, description="-1: no limit; 0: pause the queue.")
    tag_concurrency_limits: list[TagConcurrencyLimit] = Field(default_factory=list)
    dequeue_interval_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How often the queue looks for startable runs when nothing wakes it "
        "(PostgreSQL wakes it at once when a run is queued or finishes).",
    )


class RunMonitoringConfig(_Model):
    enabled: bool = True
    start_timeout_seconds: float = Field(default=180.0, gt=0, description="Fail runs STARTING this long.")
    cancel_timeout_seconds: float = Field(
        default=180.0, gt=0, description="Force-kill runs CANCELING this long and mark them CANCELED."
    )
    poll_interval_seconds: float = Field(default=5.0, gt=0, description="Seconds between monitoring passes.")
    max_resume_run_attempts: int = Field(
        default=0,
        ge=0,
        description="Runs whose worker died are resumed (re-executed from failure as a new run) this often; "
        "0: they fail.",
    )


class RunRetriesConfig(_Model):
    enabled: bool = False
    max_retries: int = Field(default=0, ge=0, description="The run tag locus/max_retries overrides it.")
    retry_on_asset_or_op_failure: bool = Field(
        default=True, description="false: retry only runs that failed without a step failing (e.g. a lost worker)."
    )
    retry_strategy: Literal["FROM_FAILURE", "ALL_STEPS"] = Field(
        default="FROM_FAILURE", description="The run tag locus/retry_strategy overrides it."
    )


class WorkerConfig(_Model):
    """How the daemon evaluates schedules or sensors."""

    use_threads: bool = Field(
        default=False,
        description="Accepted for Dagster compatibility; Locus always evaluates in worker threads, "
        "so that one slow code location cannot hold up the others.",
    )
    num_workers: int | None = Field(default=None, ge=1)
    evaluation_timeout_seconds: float = Field(
        default=60.0, gt=0, description="How long one evaluation may run in the code server before its tick fails."
    )
    interval_seconds: float = Field(default=1.0, gt=0, description="Seconds between the daemon loop's passes.")


class SchedulesConfig(WorkerConfig):
    """``num_workers``: code locations evaluated at once (default 8)."""

    max_catchup_runs: int = Field(
        default=1,
        ge=1,
        description="After downtime, how many of the latest missed ticks of a schedule still run; "
        "older missed ticks are recorded as SKIPPED.",
    )
    tick_retention_days: float = Field(
        default=7.0,
        gt=0,
        description="Ticks of schedules and sensors alike older than this are deleted (checked hourly).",
    )


class SensorsConfig(WorkerConfig):
    """``num_workers``: sensors evaluated at once per code location (default 4)."""


class ApiConfig(_Model):
    """The REST API. With a token set (here, or in the environment variable
    ``LOCUS_API_TOKEN``, which wins), every endpoint but ``/healthz`` needs
    ``Authorization: Bearer <token>`` or the cookie ``locus_token``."""

    auth_token: str | None = Field(
        default=None,
        min_length=1,
        description="Bearer token the API requires; write {env: NAME} to keep it out of the file. "
        "Unset: no authentication.",
    )


class InstanceConfig(_Model):
    storage: StorageConfig = Field(default_factory=lambda: StorageConfig(sqlite=SqliteStorageConfig()))
    compute_logs: ComputeLogsConfig = Field(default_factory=ComputeLogsConfig)
    run_launcher: RunLauncherConfig = Field(default_factory=RunLauncherConfig)
    run_coordinator: RunCoordinatorConfig = Field(default_factory=RunCoordinatorConfig)
    run_monitoring: RunMonitoringConfig = Field(default_factory=RunMonitoringConfig)
    run_retries: RunRetriesConfig = Field(default_factory=RunRetriesConfig)
    schedules: SchedulesConfig = Field(default_factory=SchedulesConfig)
    sensors: SensorsConfig = Field(default_factory=SensorsConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)


def load_instance_config(path: Path, environ: Mapping[str, str] | None = None) -> InstanceConfig:
    """Read and validate ``path``; every problem is one InstanceConfigError."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InstanceConfigError(f"{path}: cannot read the instance config: {exc.strerror}") from None
    return parse_instance_config(text, source=str(path), environ=environ)


def parse_instance_config(
    text: str, source: str = CONFIG_FILE_NAME, environ: Mapping[str, str] | None = None
) -> InstanceConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise InstanceConfigError(
            f"{source}: invalid YAML{where}: {problem}", "fix the YAML syntax"
        ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InstanceConfigError(
            f"{source}: the top level must be a mapping, got {type(raw).__name__}",
            "write sections such as `storage:` at the top level",
        )
    resolved = resolve_env(raw, os.environ if environ is None else environ, source)
    try:
        return InstanceConfig.model_validate(resolved)
    except ValidationError as exc:
        raise _config_error(source, exc) from None


def resolve_env(value: Any, environ: Mapping[str, str], source: str, path: tuple[str | int, ...] = ()) -> Any:
    """Replace every ``{env: NAME}`` with the variable's value."""
    if isinstance(value, dict):
        if set(value) == {"env"} and isinstance(value["env"], str):
            name = value["env"]
            if name not in environ:
                raise InstanceConfigError(
                    f"{source}: {_dotted(path)}: environment variable {name} is not set",
                    f"export {name}=..., or write the value in place of {{env: {name}}}",
                )
            return environ[name]
        return {k: resolve_env(v, environ, source, (*path, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, environ, source, (*path, i)) for i, v in enumerate(value)]
    return value


def _config_error(source: str, exc: ValidationError) -> InstanceConfigError:
    lines = []
    hints = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            parent = loc[:-1]
            allowed = ", ".join(_allowed_keys(parent))
            lines.append(f"{_dotted(loc)}: unknown key {loc[-1]!r}")
            hints.append(f"use one of the keys of {_dotted(parent) or 'the top level'}: {allowed}")
        else:
            hints.append(_fix_for(error["type"], _dotted(loc)))
            message = error["msg"].removeprefix("Value error, ")
            value = error["input"]
            # Show the offending scalar, never a whole section or a password.
            if not isinstance(value, dict | list) and "password" not in loc:
                message += f" (got {value!r})"
            lines.append(f"{_dotted(loc) or 'top level'}: {message}")
    return InstanceConfigError(f"{source}: " + "\n  ".join(lines), "; ".join(dict.fromkeys(hints)))


_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "list_type": "a list (- item lines)",
}


def _fix_for(error_type: str, path: str) -> str:
    if error_type == "missing":
        return f"add {path}"
    if error_type in _EXPECTED:
        return f"make {path} {_EXPECTED[error_type]}"
    return f"change {path} as the message says"


def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model at ``loc`` accepts, to suggest in the error."""
    model: type[BaseModel] = InstanceConfig
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[str(part)].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        inner = [a for c in candidates for a in (c, *getattr(c, "__args__", ()))]
        found = next((a for a in inner if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if found is None:
            return []
        model = found
    return list(model.model_fields)


def _dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in loc)
