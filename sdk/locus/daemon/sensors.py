"""The sensor loop: every RUNNING sensor is evaluated in its code server at
most once per ``minimum_interval_seconds`` (plus a small per-sensor offset,
so that many sensors with one interval do not all fire in the same pass).

Evaluations run in a bounded worker pool per code location and the loop
never waits for them: a slow or stuck sensor holds one worker of its own
location until its timeout, while every other location keeps its pace. Each
pass collects what finished and submits the sensors that are due and idle.

A run request's ``run_key`` becomes its run id (per sensor), so a key is
submitted once across all evaluations and daemons, whatever the cursor does.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Any

from locus.codeserver.results import TickResult
from locus.codeserver.snapshot import SensorSnapshot
from locus.daemon.scheduler import (
    FROM_DEFAULT,
    LAST_TICK_TIME,
    error_of,
    is_running,
    origin_id,
    run_id_for,
    start_instigator,
    stop_instigator,
    submit_requests,
    update_state_data,
)
from locus.instance.instance import LocusInstance
from locus.storage.errors import DuplicateTickError
from locus.storage.records import InstigatorState, TickRecord, TickStatus
from locus.workspace.manager import WorkspaceManager

log = logging.getLogger(__name__)

LAST_RUN_KEY = "last_run_key"
# The per-sensor offset is at most this share of its interval, and at most MAX_JITTER_SECONDS.
DEFAULT_JITTER = 0.1
MAX_JITTER_SECONDS = 5.0


def start_sensor(instance: LocusInstance, location: str, name: str, now: float | None = None) -> InstigatorState:
    return start_instigator(instance, "sensor", location, name, now)


def stop_sensor(instance: LocusInstance, location: str, name: str, now: float | None = None) -> InstigatorState:
    return stop_instigator(instance, "sensor", location, name, now)


def jitter_offset(origin: str, interval: float, share: float) -> float:
    """A stable offset in [0, share * interval): spreads sensors without randomness."""
    return min(share * interval, MAX_JITTER_SECONDS) * (zlib.crc32(origin.encode()) / 2**32)


class SensorLoop:
    name = "sensors"

    def __init__(
        self,
        instance: LocusInstance,
        manager: WorkspaceManager,
        clock: Callable[[], float] = time.time,
        *,
        interval: float | None = None,
        workers_per_location: int | None = None,
        evaluation_timeout: float | None = None,
        jitter: float = DEFAULT_JITTER,
    ) -> None:
        config = instance.config.sensors
        self._instance = instance
        self._manager = manager
        self._clock = clock
        self.interval = interval if interval is not None else config.interval_seconds
        self.workers_per_location = workers_per_location or config.num_workers or 4
        self.evaluation_timeout = evaluation_timeout or config.evaluation_timeout_seconds
        self.jitter = jitter
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._running: dict[str, Future[None]] = {}  # origin id -> its evaluation in flight
        self._last_evaluation: dict[str, float] = {}
        self._lock = threading.Lock()

    def tick(self, now: float) -> None:
        """Collect finished evaluations; submit each due sensor whose previous
        evaluation has finished. Returns without waiting for them."""
        with self._lock:
            self._collect()
            for location in self._manager.locations():
                snapshot = location.snapshot
                if not location.is_loaded or snapshot is None or not snapshot.sensors:
                    continue
                try:
                    states = {
                        s.origin_id: s for s in self._instance.storage.get_instigator_states("sensor", location.name)
                    }
                except Exception:
                    log.exception("sensors: cannot read the state of location '%s'", location.name)
                    continue
                for sensor in snapshot.sensors:
                    origin = origin_id(location.name, sensor.name)
                    state = states.get(origin)
                    if origin in self._running or not is_running(state, sensor.default_status):
                        continue
                    if not self._due(origin, sensor, state, now):
                        continue
                    self._last_evaluation[origin] = now
                    pool = self._pool(location.name)
                    self._running[origin] = pool.submit(self._evaluate, location.name, sensor, now)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no evaluation is in flight (tests, shutdown)."""
        with self._lock:
            pending = list(self._running.values())
        _, not_done = wait(pending, timeout=timeout)
        with self._lock:
            self._collect()
        return not not_done

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    def _pool(self, location: str) -> ThreadPoolExecutor:
        pool = self._pools.get(location)
        if pool is None:
            pool = ThreadPoolExecutor(self.workers_per_location, thread_name_prefix=f"locus-sensors-{location}")
            self._pools[location] = pool
        return pool

    def _collect(self) -> None:
        for origin, future in list(self._running.items()):
            if future.done():
                del self._running[origin]
                if future.exception() is not None:
                    log.error("sensor %s: evaluation failed", origin, exc_info=future.exception())

    def _due(self, origin: str, sensor: SensorSnapshot, state: InstigatorState | None, now: float) -> bool:
        last = self._last_evaluation.get(origin)
        if last is None and state is not None:
            stored = state.data.get(LAST_TICK_TIME)
            last = float(stored) if stored is not None else None
        if last is None:
            return True
        interval = float(sensor.minimum_interval_seconds)
        return now - last >= interval + jitter_offset(origin, interval, self.jitter)

    # -- one evaluation, in a worker of the sensor's location ----------------------------

    def _evaluate(self, location: str, sensor: SensorSnapshot, now: float) -> None:
        storage = self._instance.storage
        origin = origin_id(location, sensor.name)
        state = storage.get_instigator_state(origin) or InstigatorState(
            origin, sensor.name, location, "sensor", "RUNNING", None, {FROM_DEFAULT: True}, now
        )
        try:
            tick = storage.create_tick(TickRecord(origin, f"{now:.6f}", TickStatus.STARTED, timestamp=now))
        except DuplicateTickError:
            return  # evaluated at this instant already
        try:
            client = self._manager.client(location)
            result = client.evaluate_sensor(
                sensor.name, state.cursor, state.data.get(LAST_RUN_KEY), self.evaluation_timeout
            )
        except Exception as exc:
            result = TickResult(error=error_of(exc))
        if storage.get_instigator_state(origin) is None:
            storage.set_instigator_state(state)
        if result.error is not None:
            storage.update_tick(replace(tick, status=TickStatus.FAILURE, error=result.error))
            update_state_data(self._instance, state, now, **{LAST_TICK_TIME: now})
            return

        already: list[str] = []
        fresh: list[Mapping[str, Any]] = []
        for request in result.run_requests:
            key = request.get("run_key")
            if key and self._instance.get_run(run_id_for(origin, "run_key", str(key))) is not None:
                already.append(str(key))
            else:
                fresh.append(request)

        def run_id(index: int, request: Mapping[str, Any]) -> str:
            key = request.get("run_key")
            return run_id_for(origin, "run_key", str(key)) if key else run_id_for(origin, tick.tick_key, str(index))

        run_ids, error = submit_requests(
            self._manager,
            self._instance,
            location,
            fresh,
            default_job=sensor.job_names[0] if len(sensor.job_names) == 1 else None,
            tags={"locus/sensor_name": sensor.name, "locus/tick": str(tick.tick_id)},
            run_id=run_id,
            queued_by=f"sensor '{sensor.name}'",
        )
        run_keys = tuple(str(r["run_key"]) for r in result.run_requests if r.get("run_key"))
        done = replace(tick, run_ids=run_ids, run_keys=run_keys, cursor=result.cursor)
        if error is not None:
            done = replace(done, status=TickStatus.FAILURE, error=error)
        elif run_ids:
            done = replace(done, status=TickStatus.SUCCESS)
        else:
            reason = result.skip_message
            if already and not reason:
                reason = f"run key(s) already requested: {', '.join(already)}"
            done = replace(done, status=TickStatus.SKIPPED, skip_reason=reason)
        storage.update_tick(done)
        changes: dict[str, Any] = {LAST_TICK_TIME: now}
        if result.cursor is not None:
            changes["cursor"] = result.cursor
        if run_keys:
            changes[LAST_RUN_KEY] = run_keys[-1]
        update_state_data(self._instance, state, now, **changes)
