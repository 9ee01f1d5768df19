"""locus.yaml: defaults, {env: NAME} values, and errors that name the file,
the field and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from locus.definitions.errors import LocusError
from locus.instance.config import InstanceConfig, load_instance_config, parse_instance_config
from locus.instance.errors import InstanceConfigError

FULL = """
storage:
  postgres:
    host: db.internal
    port: {env: PGPORT}
    database: locus
    user: locus
    password: {env: PGPASSWORD}
    params: {sslmode: require}
compute_logs:
  base_dir: /var/log/locus
run_launcher:
  k8s: {job_namespace: runs, backoff_limit: 1}
run_coordinator:
  max_concurrent_runs: 10
  tag_concurrency_limits:
    - {key: database, value: redshift, limit: 2}
    - {key: team, limit: 4}
run_monitoring: {enabled: true, start_timeout_seconds: 60, poll_interval_seconds: 5}
run_retries: {enabled: true, max_retries: 3, retry_on_asset_or_op_failure: false}
schedules: {use_threads: true, num_workers: 4}
sensors: {use_threads: false}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "locus.yaml"
    path.write_text(text)
    return path


def test_an_empty_file_means_sqlite_and_defaults(tmp_path: Path) -> None:
    config = load_instance_config(write(tmp_path, ""))

    assert config == InstanceConfig()
    assert config.storage.sqlite is not None and config.storage.postgres is None
    assert config.run_coordinator.max_concurrent_runs == -1
    assert config.run_launcher.kind == "local"


def test_a_full_file_with_env_values(tmp_path: Path) -> None:
    config = load_instance_config(write(tmp_path, FULL), environ={"PGPORT": "6432", "PGPASSWORD": "s3cret/@"})

    postgres = config.storage.postgres
    assert postgres is not None and postgres.port == 6432
    assert (
        postgres.to_url() == "postgresql+psycopg://locus:s3cret%2F%40@db.internal:6432/locus?sslmode=require"
    )
    assert config.run_launcher.kind == "k8s"
    limits = config.run_coordinator.tag_concurrency_limits
    assert [(limit.key, limit.value, limit.limit) for limit in limits] == [
        ("database", "redshift", 2),
        ("team", None, 4),
    ]
    assert config.run_retries.max_retries == 3 and config.schedules.num_workers == 4


def test_postgres_by_url(tmp_path: Path) -> None:
    text = "storage:\n  postgres:\n    url: {env: DATABASE_URL}\n"
    config = load_instance_config(write(tmp_path, text), environ={"DATABASE_URL": "postgresql://u@h/db"})
    assert config.storage.postgres is not None and config.storage.postgres.to_url() == "postgresql://u@h/db"


def test_a_missing_env_var_names_the_field_and_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    with pytest.raises(InstanceConfigError) as caught:
        load_instance_config(path, environ={"PGPORT": "5432"})
    message = str(caught.value)
    assert str(path) in message
    assert "storage.postgres.password" in message and "PGPASSWORD" in message


def test_an_unknown_key_names_its_path_and_the_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "run_coordinator:\n  max_concurent_runs: 3\n")
    with pytest.raises(InstanceConfigError) as caught:
        load_instance_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "run_coordinator.max_concurent_runs: unknown key" in message
    assert "max_concurrent_runs" in message and "tag_concurrency_limits" in message


def test_a_wrong_type_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "storage:\n  postgres: {host: h, database: d, port: {env: PGPORT}}\n")
    with pytest.raises(InstanceConfigError) as caught:
        load_instance_config(path, environ={"PGPORT": "fivefourthreetwo"})
    assert "storage.postgres.port" in str(caught.value) and "fivefourthreetwo" in str(caught.value)

    bad_limit = "run_coordinator:\n  tag_concurrency_limits:\n    - {key: team, limit: many}\n"
    with pytest.raises(InstanceConfigError, match=r"run_coordinator\.tag_concurrency_limits\.0\.limit"):
        parse_instance_config(bad_limit)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "storage:\n  sqlite: {}\n  postgres: {url: 'postgresql://h/d'}\n",
            "exactly one of sqlite or postgres",
        ),
        ("storage:\n  postgres: {url: 'postgresql://h/d', host: h}\n", "either url or host"),
        ("storage:\n  postgres: {host: h, password: hunter2}\n", "at least host and database"),
    ],
)
def test_storage_choices_are_checked(text: str, expected: str) -> None:
    with pytest.raises(InstanceConfigError, match=expected) as caught:
        parse_instance_config(text)
    assert "storage" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "storage:\n  sqlite: {base_dir: [\n")
    with pytest.raises(InstanceConfigError, match="invalid YAML at line") as caught:
        load_instance_config(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, LocusError)


def test_reading_the_config_does_not_import_sqlalchemy() -> None:
    probe = "import sys, locus.instance.config; assert 'sqlalchemy' not in sys.modules"
    subprocess.run([sys.executable, "-c", probe], check=True)
