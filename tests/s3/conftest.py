"""A real S3 endpoint for the object-storage tests: moto's server mode as a
subprocess on a free port, once per session, and a fresh bucket per test.

The server is ready when it says it is listening (its own log line, read
from the pipe); its request log is drained in a thread so the pipe never
fills.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from support import free_port

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a running moto S3 server."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **CREDENTIALS},
    )
    assert proc.stderr is not None
    listening = threading.Event()
    recent: collections.deque[str] = collections.deque(maxlen=50)

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            recent.append(line)
            if "Running on" in line:
                listening.set()
        listening.set()  # exited: stop waiting, the check below says why

    threading.Thread(target=drain, name="moto-server-log", daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    try:
        if not listening.wait(60) or proc.poll() is not None:
            pytest.fail(f"moto server did not start on port {port}:\n{''.join(recent)}")
        with urllib.request.urlopen(url, timeout=10) as response:  # answers S3's ListBuckets
            assert response.status == 200
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials for boto3 here and in the `locus` subprocesses."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3_client(s3_endpoint: str) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(s3_client: Any) -> str:
    """A new, empty bucket for one test."""
    name = f"locus-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def object_keys(s3_client: Any) -> Callable[[str, str], list[str]]:
    """``object_keys(bucket, prefix)``: the keys stored under ``prefix``, sorted."""

    def keys(bucket: str, prefix: str = "") -> list[str]:
        pages = s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    return keys
