"""A keyed work queue for controllers, after client-go's workqueue.

Watch events only *enqueue a key*; a few workers reconcile keys. A key is
never reconciled by two workers at once, a key added while it is being
processed is reconciled once more afterwards, and a burst of events for one
key collapses into one reconcile. This is what lets 200 Deployments be
handled without busy loops: nothing runs unless something changed or a
timer (progress deadline, Job deadline, TTL, back-off) is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger("kubelet.workqueue")

Reconcile = Callable[[Hashable], Awaitable[float | None]]


class WorkQueue:
    def __init__(self, name: str, reconcile: Reconcile, workers: int = 4) -> None:
        self.name = name
        self._reconcile = reconcile
        self._workers = workers
        self._queue: asyncio.Queue[Hashable] = asyncio.Queue()
        self._queued: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._dirty: set[Hashable] = set()
        self._timers: dict[Hashable, tuple[float, asyncio.TimerHandle]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._failures: dict[Hashable, int] = {}

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}")
                       for i in range(self._workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _, handle in self._timers.values():
            handle.cancel()

    def add(self, key: Hashable) -> None:
        if key in self._queued:
            return
        if key in self._processing:
            self._dirty.add(key)
            return
        self._queued.add(key)
        self._queue.put_nowait(key)

    def add_after(self, key: Hashable, delay: float) -> None:
        """Reconcile ``key`` in ``delay`` seconds (the earliest of several requests wins)."""
        loop = asyncio.get_running_loop()
        due = loop.time() + max(delay, 0)
        current = self._timers.get(key)
        if current is not None:
            if current[0] <= due:
                return
            current[1].cancel()
        self._timers[key] = (due, loop.call_at(due, self._fire, key))

    def _fire(self, key: Hashable) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._processing.add(key)
            requeue: float | None = None
            try:
                requeue = await self._reconcile(key)
                self._failures.pop(key, None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures = self._failures[key] = self._failures.get(key, 0) + 1
                requeue = min(0.2 * 2 ** (failures - 1), 10.0)
                log.warning("%s: reconciling %s failed (%s); retrying in %.1fs", self.name, key, exc, requeue,
                            exc_info=failures == 1)
            finally:
                self._processing.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self.add(key)
            if requeue is not None:
                self.add_after(key, requeue)
