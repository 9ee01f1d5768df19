"""Pytest fixtures for the local cluster harness (``LocalCluster``).

``tests/e2e_local/conftest.py`` belongs to the API server's own tests, so these
fixtures live here; a test module imports the ones it uses::

    from cluster_fixtures import cluster_namespace, local_cluster, local_cluster_images  # noqa: F401

and may override ``local_cluster_images`` (module scope) to declare its images.
One cluster serves a whole module (starting one takes about a second); each
test gets its own namespace so tests do not see each other's objects.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.local.cluster import LocalCluster
from e2e.local.images import ImageEnv

PYTHON_IMAGE = "local/python:3.11"


@pytest.fixture(scope="module")
def local_cluster_images() -> dict[str, ImageEnv]:
    """The image table of the module's cluster: by default just the running interpreter's environment."""
    return {PYTHON_IMAGE: ImageEnv.current_python()}


@pytest.fixture(scope="module")
def local_cluster(local_cluster_images: dict[str, ImageEnv],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The API server and the kubelet, for one test module (work dir kept under pytest's tmp folder)."""
    work_dir: Path = tmp_path_factory.mktemp("local-cluster")
    with LocalCluster(local_cluster_images, work_dir=work_dir) as cluster:
        yield cluster


@pytest.fixture
def cluster_namespace(local_cluster: LocalCluster) -> Iterator[str]:
    """A fresh namespace, deleted (with everything in it) after the test."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    local_cluster.create_namespace(name)
    yield name
    local_cluster.api.delete(f"/api/v1/namespaces/{name}")
