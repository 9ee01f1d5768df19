"""A keyed work queue like controller-runtime's: a key waiting twice is
reconciled once, one key is never reconciled by two workers at once, and a
failing reconcile is retried with backoff a bounded number of times (then it
waits for the next event or resync)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Reconcile = Callable[[Hashable], Awaitable[None]]


@dataclass
class WorkQueue:
    reconcile: Reconcile
    workers: int = 8
    max_retries: int = 5
    base_delay: float = 0.2
    max_delay: float = 10.0
    _queue: asyncio.Queue[Hashable] = field(default_factory=asyncio.Queue)
    _waiting: set[Hashable] = field(default_factory=set)
    _running: set[Hashable] = field(default_factory=set)
    _again: set[Hashable] = field(default_factory=set)  # changed while running: reconcile once more
    _failures: dict[Hashable, int] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def add(self, key: Hashable) -> None:
        if key in self._running:
            self._again.add(key)
        elif key not in self._waiting:
            self._waiting.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: Hashable, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self.add, key)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work(), name=f"reconcile-{i}") for i in range(self.workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def idle(self) -> bool:
        return not self._waiting and not self._running

    async def _work(self) -> None:
        while True:
            key = await self._queue.get()
            self._waiting.discard(key)
            self._running.add(key)
            try:
                await self.reconcile(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                failures = self._failures.get(key, 0) + 1
                self._failures[key] = failures
                if failures <= self.max_retries:
                    delay = min(self.base_delay * 2 ** (failures - 1), self.max_delay)
                    log.warning("reconcile of %s failed (attempt %d), retrying in %.1fs", key, failures, delay,
                                exc_info=True)
                    self.add_after(key, delay)
                else:
                    log.error("reconcile of %s failed %d times; waiting for the next change", key, failures,
                              exc_info=True)
                    self._failures.pop(key, None)
            else:
                self._failures.pop(key, None)
            finally:
                self._running.discard(key)
                if key in self._again:
                    self._again.discard(key)
                    self.add(key)
