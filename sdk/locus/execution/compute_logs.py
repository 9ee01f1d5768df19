"""Per-step stdout/stderr capture into the compute-log folder:
``<dir>/<run_id>/<step_key>.out`` and ``.err``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def log_paths(base: Path, run_id: str, step_key: str) -> tuple[Path, Path]:
    folder = base / run_id
    return folder / f"{step_key}.out", folder / f"{step_key}.err"


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
def capture_step_output(base: Path | None, run_id: str, step_key: str) -> Iterator[None]:
    """Capture what Python code prints during a step (in-process executor)."""
    if base is None:
        yield
        return
    out_path, err_path = log_paths(base, run_id, step_key)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("a", encoding="utf-8") as out, err_path.open("a", encoding="utf-8") as err:
        old_out, old_err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(out, old_out), _Tee(err, old_err)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = old_out, old_err


def read_step_logs(base: Path, run_id: str, step_key: str) -> tuple[str, str]:
    out_path, err_path = log_paths(base, run_id, step_key)
    return _read(out_path), _read(err_path)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
