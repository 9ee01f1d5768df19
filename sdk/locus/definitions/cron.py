"""Cron arithmetic for schedules: which tick times fall in a window, in the
schedule's time zone, across daylight-saving changes. Pure: no clock, no I/O.

Daylight saving follows Dagster's documented behaviour: a time that does not
exist (spring forward) fires at the end of the gap, except for hourly
schedules, which skip it; a time that happens twice (fall back) fires once,
at the later occurrence, except for hourly schedules, which fire for both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


def _exists(local: datetime) -> bool:
    wall = local.replace(tzinfo=None)
    return local.astimezone(UTC).astimezone(local.tzinfo).replace(tzinfo=None) == wall


def _ambiguous(local: datetime) -> bool:
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def _end_of_gap(local: datetime) -> datetime:
    # Transitions happen on the hour and shift by at most an hour: the first
    # existing wall time after the gap is the hour's start plus the DST shift.
    tz = local.tzinfo
    assert tz is not None
    shift = tz.dst(local + timedelta(hours=1)) or timedelta(hours=1)
    return local.replace(minute=0, second=0, microsecond=0) + shift


def repeats_every_hour(cron: str) -> bool:
    minute, hour = cron.split()[:2]
    return hour == "*" and "*" not in minute and "/" not in minute


def _one_cron(cron: str, tz: ZoneInfo, after: float, until: float) -> Iterator[float]:
    from croniter import croniter

    start = datetime.fromtimestamp(after, tz).replace(tzinfo=None) - timedelta(hours=1)
    stop = datetime.fromtimestamp(until, tz).replace(tzinfo=None) + timedelta(hours=1)
    hourly = repeats_every_hour(cron)
    it = croniter(cron, start)
    while True:
        wall: datetime = it.get_next(datetime)
        if wall > stop:
            return
        local = wall.replace(tzinfo=tz)
        if not _exists(local):
            if hourly:
                continue
            candidates = [_end_of_gap(local)]
        elif _ambiguous(local):
            candidates = [local.replace(fold=0), local.replace(fold=1)] if hourly else [local.replace(fold=1)]
        else:
            candidates = [local]
        for candidate in candidates:
            ts = candidate.timestamp()
            if after < ts <= until:
                yield ts


def cron_ticks(cron_schedules: Sequence[str], timezone: str | None, after: float, until: float) -> list[float]:
    """Tick times (epoch seconds) in ``(after, until]``, ascending, each once
    even when several of the schedule's cron strings name it."""
    tz = ZoneInfo(timezone or "UTC")
    return sorted({ts for cron in cron_schedules for ts in _one_cron(cron, tz, after, until)})


def next_tick(cron_schedules: Sequence[str], timezone: str | None, after: float) -> float:
    """The first tick strictly after ``after`` (looks up to a year ahead)."""
    horizon = after
    for days in (1, 32, 367):
        found = cron_ticks(cron_schedules, timezone, horizon, after + days * 86400)
        if found:
            return found[0]
        horizon = after + days * 86400
    raise ValueError(f"cron {list(cron_schedules)} has no tick within a year after {after}")
