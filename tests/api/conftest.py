"""Fixtures of the API tests: an empty instance per backend with a client
on its app (no code servers), and module-wide stacks with real code
servers on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.stack import Stack, write_workspace
from locus.api.app import create_app
from locus.instance.instance import LocusInstance


@pytest.fixture(autouse=True)
def _no_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCUS_API_TOKEN", raising=False)


@pytest.fixture
def instance(storage_url: str, tmp_path: Path) -> Iterator[LocusInstance]:
    home = tmp_path / "home"
    home.mkdir()
    with LocusInstance.for_url(storage_url, home) as opened:
        yield opened


@pytest.fixture
def http(instance: LocusInstance) -> Iterator[TestClient]:
    with TestClient(create_app(instance, auth_token=None)) as client:
        yield client


def _pg_schema_url(server_url: str) -> Iterator[str]:
    import psycopg

    schema = f"locus_api_{uuid.uuid4().hex[:12]}"
    libpq = "postgresql://" + server_url.split("://", 1)[1]
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in server_url else "?"
        yield f"{server_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(libpq, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Real code servers (pipeline, broken), queue and API, once per backend."""
    os.environ.pop("LOCUS_API_TOKEN", None)
    root = tmp_path_factory.mktemp(f"stack-{request.param}")
    workspace = write_workspace(root)
    urls: Iterator[str]
    if request.param == "sqlite":
        urls = iter([f"sqlite:///{root / 'home' / 'locus.db'}"])
    else:
        urls = _pg_schema_url(request.getfixturevalue("postgres_server_url"))
    url = next(urls)
    running = Stack(workspace, root / "home", url)
    try:
        yield running
    finally:
        running.close()
        next(urls, None)  # drops the PostgreSQL schema
