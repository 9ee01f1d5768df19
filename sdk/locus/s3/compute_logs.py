"""S3ComputeLogManager: step stdout/stderr kept as the objects
``<prefix>/<run_id>/<step_key>.out`` and ``.err`` in a bucket, so they
outlive the pod that printed them.

A running step writes to local files as always; a thread uploads each file
again every ``upload_interval`` seconds while it grows, and once more when
the step ends. S3 has no append, so every upload is the whole file so far
(its last ``max_upload_bytes`` for very chatty steps). Readers (the API,
``locus run logs``) read the objects, and the local files when an object is
not there yet.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from locus.execution.compute_logs import (
    STDERR_SUFFIX,
    STDOUT_SUFFIX,
    ComputeLogError,
    LocalComputeLogManager,
    StepLogFiles,
    StepLogs,
    check_name,
    tail_text,
)
from locus.s3.errors import explain
from locus.s3.resources import S3Resource

DEFAULT_PREFIX = "locus-compute-logs"
BUCKET_SETTING = "compute_logs.s3.bucket in locus.yaml (spec.computeLogs.s3.bucket of an Instance)"
# Bound of one upload: a harness-sized log, not an archive.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024


class S3ComputeLogManager:
    """Compute logs in ``s3://<bucket>/<prefix>/``, written through ``local_dir``."""

    def __init__(
        self,
        bucket: str,
        local_dir: Path | str,
        prefix: str = DEFAULT_PREFIX,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        upload_interval: float = 1.0,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        s3_resource: S3Resource | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.upload_interval = upload_interval
        self.max_upload_bytes = max_upload_bytes
        self.local = LocalComputeLogManager(Path(local_dir))
        self._resource = s3_resource or S3Resource(endpoint_url=endpoint_url, region_name=region_name)
        self._client: Any = None
        self._bucket_checked = False
        self._lock = threading.Lock()

    # -- naming ----------------------------------------------------------------
    def key(self, run_id: str, step_key: str, suffix: str) -> str:
        name = f"{check_name('run id', run_id)}/{check_name('step key', step_key)}{suffix}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def _run_prefix(self, run_id: str) -> str:
        run = check_name("run id", run_id)
        return f"{self.prefix}/{run}/" if self.prefix else f"{run}/"

    @property
    def endpoint(self) -> str:
        return self._resource.describe_endpoint()

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint} (written through {self.local.base_dir})"

    def __repr__(self) -> str:
        return f"S3ComputeLogManager(bucket={self.bucket!r}, prefix={self.prefix!r}, endpoint={self.endpoint!r})"

    # -- S3 --------------------------------------------------------------------
    def client(self) -> Any:
        with self._lock:  # boto3 sessions are not safe to create from several threads at once
            if self._client is None:
                self._client = self._resource.get_client()
            return self._client

    def error(self, exc: BaseException, doing: str, key: str | None = None) -> ComputeLogError:
        explained = explain(exc, self.bucket, self.endpoint, key, setting=BUCKET_SETTING)
        if explained is None:
            return ComputeLogError(f"compute logs: {doing} failed: {type(exc).__name__}: {exc}")
        return ComputeLogError(f"compute logs: {doing}: {explained.message}", explained.hint)

    def check_bucket(self) -> None:
        """Fail at the first step, naming bucket and endpoint, rather than
        lose every step's output quietly."""
        if self._bucket_checked:
            return
        try:
            self.client().head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise self.error(exc, "checking the bucket") from None
        self._bucket_checked = True

    def upload(self, path: Path, key: str) -> None:
        """Put the file (or its last ``max_upload_bytes``) as the object ``key``."""
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - self.max_upload_bytes))
            data = handle.read()
        if len(data) < size:
            data = f"[... {size - len(data)} earlier bytes not kept ...]\n".encode() + data
        self.client().put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="text/plain; charset=utf-8")

    def _read_object(self, key: str, max_bytes: int | None) -> str | None:
        """The object's text (its tail), or ``None`` when there is no such object."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if max_bytes is not None:
            args["Range"] = f"bytes=-{max_bytes}"
        try:
            response = self.client().get_object(**args)
        except Exception as exc:
            explained = explain(exc, self.bucket, self.endpoint, key, setting=BUCKET_SETTING)
            if explained is not None and explained.missing_key:
                return None
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code == "InvalidRange":  # an empty object cannot be read by range
                return ""
            raise self.error(exc, f"reading {key}", key) from None
        data: bytes = response["Body"].read()
        total = len(data)
        content_range = str(response.get("ContentRange") or "")
        if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
            total = int(content_range.rsplit("/", 1)[1])
        return tail_text(data, total)

    # -- ComputeLogManager -----------------------------------------------------
    @contextmanager
    def open_step(self, run_id: str, step_key: str) -> Iterator[StepLogFiles]:
        self.check_bucket()
        with self.local.open_step(run_id, step_key) as files:
            uploader = _StepUploader(self, files, self.key(run_id, step_key, ""))
            uploader.start()
            try:
                yield files
            finally:
                uploader.finish()

    def read_step(self, run_id: str, step_key: str, max_bytes: int | None = None) -> StepLogs:
        local = None
        texts = []
        for suffix in (STDOUT_SUFFIX, STDERR_SUFFIX):
            text = self._read_object(self.key(run_id, step_key, suffix), max_bytes)
            if text is None:
                # Not uploaded (yet): what this machine still has, if anything.
                local = local or self.local.read_step(run_id, step_key, max_bytes)
                text = local.stdout if suffix == STDOUT_SUFFIX else local.stderr
            texts.append(text)
        return StepLogs(*texts)

    def step_keys(self, run_id: str) -> list[str]:
        prefix = self._run_prefix(run_id)
        found = set(self.local.step_keys(run_id))
        try:
            pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    name = str(item["Key"])[len(prefix) :]
                    for suffix in (STDOUT_SUFFIX, STDERR_SUFFIX):
                        if name.endswith(suffix) and "/" not in name:
                            found.add(name.removesuffix(suffix))
        except Exception as exc:
            raise self.error(exc, "listing logs") from None
        return sorted(found)


class _StepUploader:
    """Uploads one running step's two files whenever they changed."""

    def __init__(self, manager: S3ComputeLogManager, files: StepLogFiles, key_stem: str) -> None:
        self._manager = manager
        self._targets = [(files.stdout, key_stem + STDOUT_SUFFIX), (files.stderr, key_stem + STDERR_SUFFIX)]
        self._uploaded: dict[str, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"locus-logs-{key_stem}", daemon=True)
        self._warned = False

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sync(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._manager.upload_interval):
            self._sync(final=False)

    def _sync(self, final: bool) -> None:
        for path, key in self._targets:
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            seen = (stat.st_size, stat.st_mtime_ns)
            if self._uploaded.get(key) == seen or (not final and stat.st_size == 0):
                continue
            try:
                self._manager.upload(path, key)
            except Exception as exc:
                self._warn(self._manager.error(exc, f"uploading {key}", key))
                continue
            self._uploaded[key] = seen

    def _warn(self, error: ComputeLogError) -> None:
        # A failed upload must not fail the step; the next one may succeed,
        # and the local file still has everything. Say it once, on the
        # process's own stderr (not the captured one).
        if not self._warned:
            self._warned = True
            print(f"locus: warning: {error}", file=sys.__stderr__, flush=True)
