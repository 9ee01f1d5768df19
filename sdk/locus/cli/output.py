"""How the CLI shows things: live run progress, run summaries, tables."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TextIO

from locus.execution.events import Event, EventType, RunStatus

_MARKS = {
    EventType.STEP_START: "▸",
    EventType.STEP_SUCCESS: "✓",
    EventType.STEP_FAILURE: "✗",
    EventType.STEP_SKIPPED: "↷",
    EventType.STEP_UP_FOR_RETRY: "↻",
    EventType.RUN_START: "●",
    EventType.RUN_SUCCESS: "●",
    EventType.RUN_FAILURE: "●",
    EventType.ASSET_MATERIALIZATION: "◆",
    EventType.LOG: "·",
}


class ProgressPrinter:
    """Prints each event of a running run as one line, as it happens."""

    def __init__(self, stream: TextIO | None = None, verbose: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.started = time.monotonic()

    def __call__(self, event: Event) -> None:
        if event.event_type == EventType.STEP_START and not self.verbose:
            return
        if event.event_type in (EventType.STEP_OUTPUT, EventType.ENGINE_EVENT) and not self.verbose:
            return
        mark = _MARKS.get(event.event_type, "·")
        elapsed = time.monotonic() - self.started
        print(f"{elapsed:7.2f}s {mark} {event.message}", file=self.stream, flush=True)


def format_duration(start: float | None, end: float | None) -> str:
    if start is None:
        return "-"
    seconds = (end or time.time()) - start
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def format_time(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=False))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


STATUS_WORD = {
    RunStatus.SUCCESS: "SUCCESS",
    RunStatus.FAILURE: "FAILURE",
    RunStatus.CANCELED: "CANCELED",
}
