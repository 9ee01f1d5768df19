"""Shared fixtures: storage URLs for SQLite and for a real PostgreSQL.

Each PostgreSQL test gets its own schema (created and dropped around the
test; ``search_path`` points the connection at it), which is much faster
than a database per test. Heavy imports stay inside the fixtures so that
SDK tests measuring ``import locus`` are not affected.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

POSTGRES_URL_ENV = "LOCUS_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _libpq_url(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The server URL, once checked reachable; skipped loudly if it is not
    (and failed instead when CI=true: CI must not silently skip PostgreSQL)."""
    import psycopg

    url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    try:
        psycopg.connect(_libpq_url(url), connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL UNREACHABLE at {url} ({exc}); set {POSTGRES_URL_ENV} or start the server"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A URL whose connections see only a fresh, empty schema."""
    import psycopg

    schema = f"locus_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(_libpq_url(postgres_server_url), autocommit=True)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in postgres_server_url else "?"
    try:
        yield f"{postgres_server_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'locus.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs once per backend."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def storage(storage_url: str) -> Iterator[Any]:
    from locus.storage.sql_storage import SqlStorage

    with SqlStorage(storage_url) as opened:
        yield opened
