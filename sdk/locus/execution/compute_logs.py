"""Compute logs: each step's stdout and stderr, written while the step runs
and read back by the API and ``locus run logs``.

A ``ComputeLogManager`` decides where they are kept. While a step runs its
streams always go to two local files (``<dir>/<run_id>/<step_key>.out`` and
``.err``); a manager may copy them elsewhere as they grow (the S3 manager in
``locus.s3`` uploads them every second and at the step's end), so that the
output outlives the process, and the pod, that printed it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from locus.definitions.errors import LocusError

# File suffix of each stream.
STDOUT_SUFFIX = ".out"
STDERR_SUFFIX = ".err"


class ComputeLogError(LocusError):
    """Compute logs cannot be written or read (e.g. their bucket is missing)."""


@dataclass(frozen=True)
class StepLogFiles:
    """The local files a running step's streams are written to."""

    stdout: Path
    stderr: Path


@dataclass(frozen=True)
class StepLogs:
    """What a step printed (or its tail, when read with ``max_bytes``)."""

    stdout: str = ""
    stderr: str = ""


class ComputeLogManager(Protocol):
    """Where step output goes and where it is read back from."""

    def open_step(self, run_id: str, step_key: str) -> AbstractContextManager[StepLogFiles]:
        """For as long as the step runs: the local files its output is
        appended to. The manager keeps them durable while open (every flush
        interval) and once more on exit."""
        ...

    def read_step(self, run_id: str, step_key: str, max_bytes: int | None = None) -> StepLogs:
        """The step's output; with ``max_bytes``, the last that many bytes of
        each stream. Empty strings when the step printed nothing."""
        ...

    def step_keys(self, run_id: str) -> list[str]:
        """The steps of the run that have logs, sorted."""
        ...

    def describe(self) -> str:
        """Where the logs are, for people (``locus instance info``)."""
        ...


def check_name(kind: str, name: str) -> str:
    """Run ids and step keys become path parts: refuse any that could leave
    their folder (the API passes request values through here)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ComputeLogError(f"{kind} {name!r} cannot name compute logs", f"give a plain {kind}")
    return name


def log_paths(base: Path, run_id: str, step_key: str) -> tuple[Path, Path]:
    folder = base / check_name("run id", run_id)
    step = check_name("step key", step_key)
    return folder / f"{step}{STDOUT_SUFFIX}", folder / f"{step}{STDERR_SUFFIX}"


def tail_text(data: bytes, total_size: int) -> str:
    """``data`` (the last bytes of a stream of ``total_size``) as text, saying
    how much was left out."""
    text = data.decode("utf-8", errors="replace")
    skipped = total_size - len(data)
    return f"[... {skipped} earlier bytes not shown ...]\n{text}" if skipped > 0 else text


def read_file_tail(path: Path, max_bytes: int | None = None) -> str:
    """The file's text (its last ``max_bytes``); empty when it does not exist."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            start = max(0, size - max_bytes) if max_bytes is not None else 0
            handle.seek(start)
            return tail_text(handle.read(), size)
    except FileNotFoundError:
        return ""


class LocalComputeLogManager:
    """Step output in files under ``base_dir`` (``$LOCUS_HOME/logs`` by
    default): readable only where that folder is, e.g. on one machine or a
    shared volume."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir)

    @contextmanager
    def open_step(self, run_id: str, step_key: str) -> Iterator[StepLogFiles]:
        out, err = log_paths(self.base_dir, run_id, step_key)
        out.parent.mkdir(parents=True, exist_ok=True)
        # Writers append straight to the files; nothing to copy elsewhere.
        yield StepLogFiles(out, err)

    def read_step(self, run_id: str, step_key: str, max_bytes: int | None = None) -> StepLogs:
        out, err = log_paths(self.base_dir, run_id, step_key)
        return StepLogs(read_file_tail(out, max_bytes), read_file_tail(err, max_bytes))

    def step_keys(self, run_id: str) -> list[str]:
        folder = self.base_dir / check_name("run id", run_id)
        if not folder.is_dir():
            return []
        found = {p.stem for p in folder.iterdir() if p.suffix in (STDOUT_SUFFIX, STDERR_SUFFIX) and p.is_file()}
        return sorted(found)

    def describe(self) -> str:
        return str(self.base_dir)

    def __repr__(self) -> str:
        return f"LocalComputeLogManager({str(self.base_dir)!r})"


def read_step_logs(base: Path, run_id: str, step_key: str) -> tuple[str, str]:
    """(stdout, stderr) of a step from a local compute-log folder."""
    logs = LocalComputeLogManager(base).read_step(run_id, step_key)
    return logs.stdout, logs.stderr


class _Tee:
    """Writes to the captured file and still to the terminal."""

    def __init__(self, file: IO[str], original: Any) -> None:
        self._file = file
        self._original = original

    def write(self, text: str) -> int:
        self._file.write(text)
        return int(self._original.write(text) or 0)

    def flush(self) -> None:
        self._file.flush()
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


@contextmanager
def capture_step_output(manager: ComputeLogManager | None, run_id: str, step_key: str) -> Iterator[None]:
    """Capture what Python code prints during a step (in-process executor)."""
    if manager is None:
        yield
        return
    with ExitStack() as stack:
        files = stack.enter_context(manager.open_step(run_id, step_key))
        # Line-buffered, so each printed line is in the file (and can be
        # uploaded or tailed) while the step is still running.
        out = stack.enter_context(files.stdout.open("a", encoding="utf-8", buffering=1))
        err = stack.enter_context(files.stderr.open("a", encoding="utf-8", buffering=1))
        old_out, old_err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(out, old_out), _Tee(err, old_err)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = old_out, old_err
