"""A run's events as server-sent events, for live tailing.

Each stored event becomes ``id: <storage id>`` + ``data: <event JSON>``, so a
browser's EventSource resumes after the last one it saw (``Last-Event-ID``).
The stream ends with ``event: end`` once the run has finished and every
event up to its final one has been sent.

Storage is polled every ``poll_seconds`` (~50 ms) with one indexed query:
PostgreSQL notifies only run status changes, not every event, and a
LISTEN connection per client would exhaust the pool long before polling
costs anything noticeable.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool

from locus.api.views import event_body
from locus.execution.events import RUN_STATUS_BY_EVENT, EventRecord
from locus.storage.base import Storage

BATCH = 500
# A comment line this often keeps proxies from closing an idle stream.
KEEPALIVE_SECONDS = 15.0
# Also re-read the run this often, in case it vanished (deleted by retention).
RECHECK_SECONDS = 5.0


def frame(record: EventRecord) -> str:
    return f"id: {record.storage_id}\ndata: {json.dumps(event_body(record), default=str)}\n\n"


def end_frame(status: str | None, last_id: int) -> str:
    return f"event: end\ndata: {json.dumps({'status': status, 'last_id': last_id})}\n\n"


async def run_events(storage: Storage, run_id: str, after: int, poll_seconds: float) -> AsyncIterator[str]:
    run = await run_in_threadpool(storage.get_run, run_id)
    finished = run is not None and run.status.is_finished
    status = run.status.value if run is not None else None
    last, quiet_since, checked_at = after, time.monotonic(), time.monotonic()
    while True:
        records = await run_in_threadpool(storage.get_events, run_id, last, BATCH)
        for record in records:
            yield frame(record)
            last = record.storage_id
            moved = RUN_STATUS_BY_EVENT.get(record.event.event_type)
            if moved is not None:
                status, finished = moved.value, moved.is_finished
        now = time.monotonic()
        if records:
            quiet_since = now
            if len(records) == BATCH:
                continue
        # This read began after the final event was stored, so it holds
        # everything logged before it: the stream is drained.
        if finished or run is None:
            yield end_frame(status, last)
            return
        if now - quiet_since >= KEEPALIVE_SECONDS:
            quiet_since = now
            yield ": keepalive\n\n"
        if now - checked_at >= RECHECK_SECONDS:
            checked_at = now
            run = await run_in_threadpool(storage.get_run, run_id)
            if run is None:
                continue
        await asyncio.sleep(poll_seconds)
