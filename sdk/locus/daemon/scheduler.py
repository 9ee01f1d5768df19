"""The scheduler: every RUNNING schedule of every loaded code location fires
once per cron tick, evaluated in its code server, its runs submitted with ids
derived from (schedule, tick) so that a daemon killed mid-tick and restarted
creates no second run.

Each due tick is a TickRecord keyed by its scheduled time, created STARTED
before anything else happens: a STARTED tick found on restart is one a dead
daemon left half-done, and is resumed; any other existing tick is done. After
downtime only the latest ``max_catchup_runs`` ticks run; the older ones are
recorded as SKIPPED. Locations are evaluated in parallel, each by one task of
a bounded pool, so a slow location delays only itself.

The start/stop helpers and the instigator-state rules (stored status wins,
else the definition's ``default_status``) are shared with the sensor loop.
"""

from __future__ import annotations

import bisect
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from locus.codeserver.client import CodeServerClient
from locus.codeserver.results import TickResult, plain_error
from locus.codeserver.snapshot import ScheduleSnapshot
from locus.definitions.cron import cron_ticks
from locus.definitions.errors import LocusError
from locus.execution.events import ErrorInfo
from locus.instance.instance import LocusInstance
from locus.storage.errors import DuplicateTickError
from locus.storage.records import InstigatorState, InstigatorType, TickRecord, TickStatus
from locus.workspace.manager import WorkspaceManager
from locus.workspace.state import LocationState
from locus.workspace.submission import RunSubmission, SubmissionError, submit_run

log = logging.getLogger(__name__)

# Deterministic run ids: uuid5(RUN_ID_NAMESPACE, "<origin>|<tick key>|<index>").
RUN_ID_NAMESPACE = uuid.UUID("6c6f6375-732d-4461-656d-6f6e2d72756e")
# Test hook: SIGKILL this process right after a scheduled run was submitted and
# before its tick is marked done (the crash the exactly-once guarantee is for).
KILL_AFTER_SUBMIT_ENV = "LOCUS_TEST_SCHEDULER_KILL_AFTER_SUBMIT"
# A state written because a definition is RUNNING by default, not by a user:
# its status follows ``default_status`` until someone starts or stops it.
FROM_DEFAULT = "status_from_default"
LAST_TICK_TIME = "last_tick_time"
# At most this many missed ticks are recorded one by one after long downtime.
MAX_SKIPPED_TICKS_RECORDED = 100
PURGE_EVERY_SECONDS = 3600.0
SCHEDULES_AT_ONCE_PER_LOCATION = 8
# Code-server evaluations in flight at once while a location's due ticks are processed.
PREFETCH_EVALUATIONS = 8
CRON_WINDOW_SECONDS = 3600.0


# -- instigator state (shared with the sensor loop) ----------------------------------


def origin_id(location: str, name: str) -> str:
    return f"{location}:{name}"


def run_id_for(*parts: str) -> str:
    return str(uuid.uuid5(RUN_ID_NAMESPACE, "|".join(parts)))


def is_running(state: InstigatorState | None, default_status: str) -> bool:
    if state is None or state.data.get(FROM_DEFAULT):
        return default_status == "RUNNING"
    return state.status == "RUNNING"


def start_instigator(
    instance: LocusInstance, kind: InstigatorType, location: str, name: str, now: float | None = None
) -> InstigatorState:
    """Mark RUNNING (stored, so it outlives restarts). A newly started schedule
    does not backfill: its last tick time starts now."""
    now = time.time() if now is None else now
    storage = instance.storage
    state = storage.get_instigator_state(origin_id(location, name))
    if state is not None and state.status == "RUNNING" and (LAST_TICK_TIME in state.data or kind == "sensor"):
        data = {k: v for k, v in state.data.items() if k != FROM_DEFAULT}
        return storage.set_instigator_state(replace(state, data=data, updated_at=now))
    data = {**(state.data if state is not None else {}), LAST_TICK_TIME: now}
    data.pop(FROM_DEFAULT, None)
    if kind == "sensor":
        del data[LAST_TICK_TIME]  # a started sensor is evaluated at once: there is nothing to backfill
    fresh = InstigatorState(origin_id(location, name), name, location, kind, "RUNNING", None, data, now)
    if state is not None:
        fresh = replace(state, status="RUNNING", data=data, updated_at=now)
    return storage.set_instigator_state(fresh)


def stop_instigator(
    instance: LocusInstance, kind: InstigatorType, location: str, name: str, now: float | None = None
) -> InstigatorState:
    now = time.time() if now is None else now
    state = instance.storage.get_instigator_state(origin_id(location, name))
    if state is None:
        state = InstigatorState(origin_id(location, name), name, location, kind)
    data = {k: v for k, v in state.data.items() if k != FROM_DEFAULT}
    return instance.storage.set_instigator_state(replace(state, status="STOPPED", data=data, updated_at=now))


def start_schedule(instance: LocusInstance, location: str, name: str, now: float | None = None) -> InstigatorState:
    return start_instigator(instance, "schedule", location, name, now)


def stop_schedule(instance: LocusInstance, location: str, name: str, now: float | None = None) -> InstigatorState:
    return stop_instigator(instance, "schedule", location, name, now)


def update_state_data(instance: LocusInstance, state: InstigatorState, now: float, **changes: Any) -> InstigatorState:
    """Write ``changes`` into the stored state's data (``cursor`` to its cursor),
    re-reading it first so that a start/stop made meanwhile is not overwritten."""
    current = instance.storage.get_instigator_state(state.origin_id) or state
    cursor = changes.pop("cursor", current.cursor)
    updated = replace(current, cursor=cursor, data={**current.data, **changes}, updated_at=now)
    return instance.storage.set_instigator_state(updated)


def first_seen(instance: LocusInstance, state: InstigatorState | None, template: InstigatorState) -> InstigatorState:
    """The state of a running instigator seen for the first time (running by
    default, or started before any tick time was stored)."""
    if state is None:
        return instance.storage.set_instigator_state(template)
    return update_state_data(instance, state, template.updated_at, **{LAST_TICK_TIME: template.updated_at})


def error_of(exc: BaseException) -> ErrorInfo:
    if isinstance(exc, LocusError):
        return plain_error(type(exc).__name__, str(exc))
    return ErrorInfo.from_exception(exc)


def find_tick(instance: LocusInstance, origin: str, tick_key: str) -> TickRecord | None:
    for limit in (50, None):
        found = [t for t in instance.storage.get_ticks(origin, limit) if t.tick_key == tick_key]
        if found:
            return found[0]
    return None


def claim_tick(instance: LocusInstance, tick: TickRecord) -> TickRecord | None:
    """Create the tick; if it exists, return it only when a dead daemon left it
    STARTED (to resume), else None (it is done)."""
    try:
        return instance.storage.create_tick(tick)
    except DuplicateTickError:
        existing = find_tick(instance, tick.origin_id, tick.tick_key)
        return existing if existing is not None and existing.status == TickStatus.STARTED else None


# -- the loop --------------------------------------------------------------------------


class SchedulerLoop:
    name = "scheduler"

    def __init__(
        self,
        instance: LocusInstance,
        manager: WorkspaceManager,
        clock: Callable[[], float] = time.time,
        max_workers: int | None = None,
        *,
        interval: float | None = None,
        max_catchup_runs: int | None = None,
        evaluation_timeout: float | None = None,
        tick_retention_seconds: float | None = None,
    ) -> None:
        config = instance.config.schedules
        self._instance = instance
        self._manager = manager
        self._clock = clock
        self.interval = interval if interval is not None else config.interval_seconds
        self.max_catchup_runs = max_catchup_runs if max_catchup_runs is not None else config.max_catchup_runs
        self.evaluation_timeout = evaluation_timeout or config.evaluation_timeout_seconds
        self.tick_retention_seconds = tick_retention_seconds or config.tick_retention_days * 86400
        workers = max_workers or config.num_workers or 8
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="locus-scheduler")
        self._busy: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._last_purge: float | None = None
        # (crons, timezone) -> (window start, window end, the ticks in it)
        self._windows: dict[tuple[tuple[str, ...], str | None], tuple[float, float, list[float]]] = {}
        # SQLite has one writer: threads of one process would only queue on its
        # lock (with the busy handler's sleeps), so there schedules go one by one.
        self._at_once = 1 if getattr(instance.storage, "dialect", "") == "sqlite" else SCHEDULES_AT_ONCE_PER_LOCATION

    def tick(self, now: float) -> None:
        """Start one pass for each loaded location not still busy with its
        previous pass; wait for them up to ``interval`` (a slow location
        finishes in the background and is skipped until it has)."""
        self._purge(now)
        started: list[Future[None]] = []
        with self._lock:
            for location in self._manager.locations():
                snapshot = location.snapshot
                if not location.is_loaded or snapshot is None or not snapshot.schedules:
                    continue
                previous = self._busy.get(location.name)
                if previous is not None and not previous.done():
                    log.info("location '%s' is still evaluating schedules; it is skipped this pass", location.name)
                    continue
                future = self._pool.submit(self._location_pass, location, now)
                self._busy[location.name] = future
                started.append(future)
        wait(started, timeout=self.interval)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no location pass is running (tests, shutdown)."""
        with self._lock:
            pending = list(self._busy.values())
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- one location, one schedule ------------------------------------------------

    def _location_pass(self, location: LocationState, now: float) -> None:
        try:
            client = self._manager.client(location.name)
            states = {s.origin_id: s for s in self._instance.storage.get_instigator_states("schedule", location.name)}
        except Exception:
            log.exception("scheduler: location '%s' is unavailable", location.name)
            return
        assert location.snapshot is not None
        work = [
            (schedule, states.get(origin_id(location.name, schedule.name)))
            for schedule in location.snapshot.schedules
            if self._needs_pass(origin_id(location.name, schedule.name), schedule, states, now)
        ]
        if not work:
            return
        evaluations = self._prefetch(client, work, now)
        cursors: dict[str, float] = {}

        def one(item: tuple[ScheduleSnapshot, InstigatorState | None]) -> None:
            schedule, state = item
            try:
                last = self._schedule_pass(location.name, client, schedule, state, now, evaluations)
            except Exception:
                log.exception("scheduler: schedule '%s' of '%s' failed", schedule.name, location.name)
                return
            if last is not None:
                cursors[origin_id(location.name, schedule.name)] = last  # one key per thread: no lock needed

        try:
            if len(work) == 1 or self._at_once == 1:
                for item in work:
                    one(item)
            else:
                # Schedules of one location due together are evaluated a few at a time
                # (the code server's evaluation workers are shared with its sensors).
                with ThreadPoolExecutor(min(len(work), self._at_once)) as pool:
                    list(pool.map(one, work))
        finally:
            self._advance_cursors(location.name, cursors, now)

    def _prefetch(
        self, client: CodeServerClient, work: Sequence[tuple[ScheduleSnapshot, InstigatorState | None]], now: float
    ) -> dict[tuple[str, float], Future[TickResult]]:
        """Start the code-server evaluations of every tick this pass will run,
        a few at a time: evaluating has no side effects, and overlapping the
        round trips keeps 1,000 schedules due together from waiting on each
        other. Storage work stays one tick after another (SQLite has one writer)."""
        due = [(s, at) for s, state in work for at in self._split_due(s, state, now)[1]]
        if len(due) < 2:
            return {}
        pool = ThreadPoolExecutor(min(len(due), PREFETCH_EVALUATIONS), thread_name_prefix="schedule-eval")
        try:
            return {(s.name, at): pool.submit(self._evaluate, client, s.name, at) for s, at in due}
        finally:
            pool.shutdown(wait=False)

    def _evaluate(self, client: CodeServerClient, name: str, at: float) -> TickResult:
        try:
            return client.evaluate_schedule(name, at, self.evaluation_timeout)
        except Exception as exc:
            return TickResult(error=error_of(exc))

    def _split_due(
        self, schedule: ScheduleSnapshot, state: InstigatorState | None, now: float
    ) -> tuple[list[float], list[float]]:
        """(missed ticks to record as skipped, ticks to run) for a running
        schedule with a stored tick time; nothing otherwise."""
        if not is_running(state, schedule.default_status) or state is None:
            return [], []
        last = state.data.get(LAST_TICK_TIME)
        if last is None:
            return [], []
        due = self._due(schedule, float(last), now)
        keep = max(1, self.max_catchup_runs)
        return due[:-keep], due[-keep:]

    def _needs_pass(
        self, origin: str, schedule: ScheduleSnapshot, states: Mapping[str, InstigatorState], now: float
    ) -> bool:
        """Cheap: running, and first seen or with a tick due."""
        state = states.get(origin)
        if not is_running(state, schedule.default_status):
            return False
        last = state.data.get(LAST_TICK_TIME) if state is not None else None
        return last is None or bool(self._due(schedule, float(last), now))

    def _due(self, schedule: ScheduleSnapshot, last: float, now: float) -> list[float]:
        """``cron_ticks`` through a window cached per (crons, timezone): cron
        arithmetic costs milliseconds per call, too much for every schedule on
        every pass, and most schedules share a handful of crons."""
        key = (schedule.cron_schedules, schedule.execution_timezone)
        with self._lock:
            window = self._windows.get(key)
        if window is None or not (window[0] <= last and now <= window[1]):
            begin, end = min(last, now - CRON_WINDOW_SECONDS), max(now, last) + CRON_WINDOW_SECONDS
            window = (begin, end, cron_ticks(schedule.cron_schedules, schedule.execution_timezone, begin, end))
            with self._lock:
                self._windows[key] = window
        ticks = window[2]
        return ticks[bisect.bisect_right(ticks, last) : bisect.bisect_right(ticks, now)]

    def _schedule_pass(
        self,
        location: str,
        client: CodeServerClient,
        schedule: ScheduleSnapshot,
        state: InstigatorState | None,
        now: float,
        evaluations: Mapping[tuple[str, float], Future[TickResult]] | None = None,
    ) -> float | None:
        """Handle the schedule's due ticks; returns its new last tick time (the
        caller stores the cursors of a whole pass at once), or None."""
        if not is_running(state, schedule.default_status):
            return None
        origin = origin_id(location, schedule.name)
        last = state.data.get(LAST_TICK_TIME) if state is not None else None
        if state is None or last is None:
            data = {FROM_DEFAULT: True, LAST_TICK_TIME: now}
            template = InstigatorState(origin, schedule.name, location, "schedule", "RUNNING", None, data, now)
            first_seen(self._instance, state, template)
            return None
        missed, to_run = self._split_due(schedule, state, now)
        for scheduled in missed[-MAX_SKIPPED_TICKS_RECORDED:]:
            self._skip_tick(location, client, schedule, origin, scheduled, len(missed))
        for scheduled in to_run:
            prefetched = (evaluations or {}).get((schedule.name, scheduled))
            self._run_tick(location, client, schedule, origin, scheduled, prefetched)
        return (to_run or missed)[-1] if (to_run or missed) else None

    def _advance_cursors(self, location: str, cursors: Mapping[str, float], now: float) -> None:
        """Store each schedule's last tick time, merged into its state as it is
        now (a start/stop made meanwhile is kept). Only a cursor: every tick is
        already claimed in storage, so a daemon that dies before this and
        restarts finds those ticks done instead of running them twice."""
        if not cursors:
            return
        current = {s.origin_id: s for s in self._instance.storage.get_instigator_states("schedule", location)}
        updated = [
            replace(state, data={**state.data, LAST_TICK_TIME: cursors[origin]}, updated_at=now)
            for origin, state in current.items()
            if origin in cursors
        ]
        self._instance.storage.set_instigator_states(updated)

    def _skip_tick(
        self, location: str, client: CodeServerClient, schedule: ScheduleSnapshot, origin: str, at: float, missed: int
    ) -> None:
        reason = (
            f"missed while the daemon was not running ({missed} tick(s) missed); only the latest "
            f"{self.max_catchup_runs} run (max_catchup_runs)"
        )
        tick = TickRecord(origin, tick_key(at), TickStatus.SKIPPED, timestamp=at, skip_reason=reason)
        try:
            self._instance.storage.create_tick(tick)
        except DuplicateTickError:
            existing = find_tick(self._instance, origin, tick.tick_key)
            if existing is not None and existing.status == TickStatus.STARTED:
                self._run_tick(location, client, schedule, origin, at)  # a dead daemon's half-done tick

    def _run_tick(
        self,
        location: str,
        client: CodeServerClient,
        schedule: ScheduleSnapshot,
        origin: str,
        at: float,
        prefetched: Future[TickResult] | None = None,
    ) -> None:
        key = tick_key(at)
        tick = claim_tick(self._instance, TickRecord(origin, key, TickStatus.STARTED, timestamp=at))
        if tick is None:
            return
        result = prefetched.result() if prefetched is not None else self._evaluate(client, schedule.name, at)
        if result.error is not None:
            self._instance.storage.update_tick(replace(tick, status=TickStatus.FAILURE, error=result.error))
            return
        tags = {
            "locus/schedule_name": schedule.name,
            "locus/tick": str(tick.tick_id),
            "locus/scheduled_execution_time": scheduled_iso(at, schedule.execution_timezone),
        }
        run_ids, error = submit_requests(
            self._manager,
            self._instance,
            location,
            result.run_requests,
            default_job=schedule.job_name,
            tags=tags,
            run_id=lambda i, _request: run_id_for(origin, key, str(i)),
            queued_by=f"schedule '{schedule.name}'",
        )
        if run_ids and os.environ.get(KILL_AFTER_SUBMIT_ENV):
            os.kill(os.getpid(), signal.SIGKILL)
        run_keys = tuple(r["run_key"] for r in result.run_requests if r.get("run_key"))
        if error is not None:
            done = replace(tick, status=TickStatus.FAILURE, run_ids=run_ids, run_keys=run_keys, error=error)
        elif run_ids:
            done = replace(tick, status=TickStatus.SUCCESS, run_ids=run_ids, run_keys=run_keys)
        else:
            done = replace(tick, status=TickStatus.SKIPPED, skip_reason=result.skip_message)
        self._instance.storage.update_tick(done)

    def _purge(self, now: float) -> None:
        if self._last_purge is not None and now - self._last_purge < PURGE_EVERY_SECONDS:
            return
        self._last_purge = now
        try:
            purged = self._instance.storage.purge_ticks(now - self.tick_retention_seconds)
        except Exception:
            log.exception("scheduler: purging old ticks failed")
            return
        if purged:
            log.info("purged %d tick(s) older than %gs", purged, self.tick_retention_seconds)


def tick_key(scheduled: float) -> str:
    return str(int(scheduled))


def scheduled_iso(at: float, timezone: str | None) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(timezone or "UTC")).isoformat()


def submit_requests(
    manager: WorkspaceManager,
    instance: LocusInstance,
    location: str,
    requests: Sequence[Mapping[str, Any]],
    *,
    default_job: str | None,
    tags: Mapping[str, str],
    run_id: Callable[[int, Mapping[str, Any]], str],
    queued_by: str,
) -> tuple[tuple[str, ...], ErrorInfo | None]:
    """Submit each run request (idempotently: ``run_id`` is deterministic);
    the run ids submitted, and the error that stopped the rest, if any."""
    run_ids: list[str] = []
    for index, request in enumerate(requests):
        request_tags = {**dict(request.get("tags") or {}), **tags}
        if request.get("run_key"):
            request_tags["locus/run_key"] = str(request["run_key"])
        submission = RunSubmission(
            location=location,
            job_name=request.get("job_name") or default_job,
            asset_selection=request.get("asset_selection"),
            run_config=dict(request.get("run_config") or {}),
            tags=request_tags,
            run_id=run_id(index, request),
            queued_by=queued_by,
        )
        try:
            run = submit_run(manager, instance, submission)
        except SubmissionError as exc:
            return tuple(run_ids), plain_error(f"SubmissionError[{exc.code}]", str(exc))
        except Exception as exc:
            return tuple(run_ids), error_of(exc)
        run_ids.append(run.run_id)
    return tuple(run_ids), None
