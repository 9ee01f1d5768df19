"""Step output in object storage: uploaded while the step runs, readable by
`locus run logs`, the API and the manager after the local files are gone,
and clear errors for a missing bucket."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from locus.api.app import create_app
from locus.execution.compute_logs import ComputeLogError, StepLogs
from locus.instance.instance import LocusInstance
from locus.s3 import S3ComputeLogManager
from support import run_locus

LOCATION = '''
import os
import sys
import time

import boto3

from locus import Definitions, asset, define_asset_job, in_process_executor, job, multiprocess_executor, op


@asset
def chatty():
    print("hello from chatty")
    print("a warning from chatty", file=sys.stderr)
    return 1


chatty_in_process = define_asset_job("chatty_in_process", selection=["chatty"], executor_def=in_process_executor)


@op
def waits_for_its_log(context):
    """Prints, then returns only once that line is in the bucket: the upload
    happens while the step is still running."""
    print("started")
    s3 = boto3.client("s3", endpoint_url=os.environ["LOCUS_S3_ENDPOINT_URL"])
    key = f"logs/{context.run_id}/waits_for_its_log.out"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if b"started" in s3.get_object(Bucket=os.environ["LOCUS_S3_BUCKET"], Key=key)["Body"].read():
                print("seen in the bucket")
                return
        except s3.exceptions.NoSuchKey:
            pass
        time.sleep(0.05)
    raise RuntimeError("the step's output never reached the bucket while it ran")


@job(executor_def=multiprocess_executor)
def live_upload():
    waits_for_its_log()


defs = Definitions(assets=[chatty], jobs=[chatty_in_process, live_upload])
'''


def s3_config(bucket: str, endpoint: str) -> str:
    return (
        f"compute_logs:\n  s3: {{bucket: {bucket}, endpoint_url: '{endpoint}', prefix: logs, upload_interval: 0.1}}\n"
    )


@pytest.fixture
def location(tmp_path: Path) -> Path:
    folder = tmp_path / "location"
    folder.mkdir()
    (folder / "location.py").write_text(LOCATION)
    return folder


@pytest.fixture
def home(tmp_path: Path, bucket: str, s3_endpoint: str) -> Path:
    """A LOCUS_HOME whose compute logs go to the test's bucket."""
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "locus.yaml").write_text(s3_config(bucket, s3_endpoint))
    return folder


def run_id_of(stdout: str) -> str:
    return stdout.split("Run ", 1)[1].split()[0]


@pytest.mark.parametrize("job", ["chatty_in_process", "__ASSET_JOB"], ids=["in-process", "multiprocess"])
def test_printed_output_outlives_the_local_files(
    job: str,
    location: Path,
    home: Path,
    bucket: str,
    s3_endpoint: str,
    object_keys: Callable[..., list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    done = run_locus(
        "asset", "materialize", "-f", "location.py", "--select", "chatty", "-j", job, cwd=location, home=home
    )
    assert done.code == 0, done.stderr
    run_id = run_id_of(done.stdout)
    assert object_keys(bucket, "logs/") == [f"logs/{run_id}/chatty.err", f"logs/{run_id}/chatty.out"]

    shutil.rmtree(home / "logs")  # as when the pod that ran the step is deleted

    # The CLI...
    shown = run_locus("run", "logs", run_id, cwd=location, home=home)
    assert shown.code == 0, shown.stderr
    assert "--- chatty stdout ---\nhello from chatty\n" in shown.stdout
    assert "--- chatty stderr ---\na warning from chatty\n" in shown.stdout
    # ...the manager, from anywhere...
    manager = S3ComputeLogManager(bucket, home / "elsewhere", prefix="logs", endpoint_url=s3_endpoint)
    assert manager.step_keys(run_id) == ["chatty"]
    logs = manager.read_step(run_id, "chatty")
    assert logs.stdout == "hello from chatty\n" and "a warning from chatty\n" in logs.stderr
    # ...and the API (which the web page reads).
    monkeypatch.setenv("LOCUS_HOME", str(home))
    with LocusInstance.get() as instance, TestClient(create_app(instance, auth_token=None)) as http:
        assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
        steps = http.get(f"/api/runs/{run_id}/logs").json()["steps"]
    assert steps["chatty"]["stdout"] == "hello from chatty\n"
    assert not (home / "logs").exists()


def test_output_reaches_the_bucket_while_the_step_runs(
    location: Path, home: Path, bucket: str, s3_endpoint: str
) -> None:
    env = {"LOCUS_S3_ENDPOINT_URL": s3_endpoint, "LOCUS_S3_BUCKET": bucket}

    done = run_locus("job", "execute", "-f", "location.py", "-j", "live_upload", cwd=location, home=home, env=env)

    assert done.code == 0, done.stdout + done.stderr
    manager = S3ComputeLogManager(bucket, home / "logs", prefix="logs", endpoint_url=s3_endpoint)
    assert manager.read_step(run_id_of(done.stdout), "waits_for_its_log").stdout == "started\nseen in the bucket\n"


def test_the_manager_uploads_every_interval_and_at_the_end(
    tmp_path: Path, bucket: str, s3_endpoint: str, s3_client: Any
) -> None:
    manager = S3ComputeLogManager(bucket, tmp_path, prefix="p/", endpoint_url=s3_endpoint, upload_interval=0.05)
    uploaded = threading.Event()

    def stored() -> bytes:
        try:
            return bytes(s3_client.get_object(Bucket=bucket, Key="p/r1/step.out")["Body"].read())
        except s3_client.exceptions.NoSuchKey:
            return b""

    with manager.open_step("r1", "step") as files:
        assert files.stdout == tmp_path / "r1" / "step.out"
        with files.stdout.open("a") as out:
            out.write("first\n")
        deadline = time.monotonic() + 10
        while not uploaded.is_set() and time.monotonic() < deadline:
            if stored() == b"first\n":
                uploaded.set()
            else:
                uploaded.wait(0.02)
        assert uploaded.is_set(), "the partial log was not uploaded while the step ran"
        with files.stdout.open("a") as out:
            out.write("second\n")
    # Leaving the step uploads what was written last, and the empty stderr too.
    assert stored() == b"first\nsecond\n"
    assert manager.read_step("r1", "step") == StepLogs("first\nsecond\n", "")
    assert manager.read_step("r1", "step", max_bytes=7) == StepLogs("[... 6 earlier bytes not shown ...]\nsecond\n", "")
    assert manager.step_keys("r1") == ["step"]
    assert manager.step_keys("r2") == []
    assert manager.read_step("r2", "nothing") == StepLogs()
    with pytest.raises(ComputeLogError, match="cannot name compute logs"):
        manager.read_step("r1", "../secrets")


def test_big_logs_are_uploaded_as_their_tail(tmp_path: Path, bucket: str, s3_endpoint: str) -> None:
    manager = S3ComputeLogManager(bucket, tmp_path, endpoint_url=s3_endpoint, max_upload_bytes=10)
    with manager.open_step("r1", "step") as files:
        files.stdout.write_text("0123456789abcdefghij")

    assert manager.read_step("r1", "step").stdout == "[... 10 earlier bytes not kept ...]\nabcdefghij"


def test_a_missing_log_bucket_fails_the_run_naming_bucket_and_endpoint(
    location: Path, tmp_path: Path, s3_endpoint: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "locus.yaml").write_text(s3_config("no-such-logs", s3_endpoint))
    expected = f"S3 bucket 'no-such-logs' does not exist at {s3_endpoint}"

    for job in ("chatty_in_process", "__ASSET_JOB"):
        done = run_locus(
            "asset", "materialize", "-f", "location.py", "--select", "chatty", "-j", job, cwd=location, home=home
        )
        assert done.code == 1
        assert expected in done.stderr, done.stderr
        shown = run_locus("run", "logs", run_id_of(done.stderr), cwd=location, home=home)
        assert shown.code == 1
        assert f"cannot read the step output: compute logs: listing logs: {expected}" in shown.stderr
        assert "RUN_FAILURE" in shown.stdout  # the events are shown all the same


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("{bucket: b, endpont_url: 'http://x'}", "compute_logs.s3.endpont_url: unknown key 'endpont_url'"),
        ("{prefix: p}", "compute_logs.s3.bucket: Field required"),
        ("{bucket: b, upload_interval: 0}", "compute_logs.s3.upload_interval: Input should be greater than 0"),
        ("my-bucket", "compute_logs.s3: Input should be a valid dictionary"),
    ],
)
def test_a_bad_s3_section_is_one_message_naming_the_key(tmp_path: Path, section: str, expected: str) -> None:
    (tmp_path / "locus.yaml").write_text(f"compute_logs:\n  s3: {section}\n")

    done = run_locus("run", "list", cwd=tmp_path, home=tmp_path)

    assert done.code == 2
    assert expected in done.stderr, done.stderr
    assert done.stderr.count("compute_logs.s3") == 2, done.stderr  # the message and its fix
    assert "Traceback" not in done.stderr


def test_the_api_names_a_missing_log_bucket(tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.stack import seed_run

    (tmp_path / "locus.yaml").write_text(s3_config("no-such-logs", s3_endpoint))
    monkeypatch.setenv("LOCUS_HOME", str(tmp_path))
    with LocusInstance.get(migrate=True) as instance, TestClient(create_app(instance, auth_token=None)) as http:
        seed_run(instance, "r1")
        response = http.get("/api/runs/r1/logs")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "compute_logs_unavailable"
    assert f"S3 bucket 'no-such-logs' does not exist at {s3_endpoint}" in error["message"]
    assert "compute_logs.s3.bucket" in error["hint"]
