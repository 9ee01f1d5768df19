"""Schedule tick arithmetic across time zones and daylight-saving changes
(New York, 2026: clocks go forward on 8 March at 02:00, back on 1 November at 02:00)."""

from __future__ import annotations

from datetime import UTC, datetime

from locus.definitions.cron import cron_ticks, next_tick

NY = "America/New_York"


def utc(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


def as_utc(ticks: list[float]) -> list[str]:
    return [datetime.fromtimestamp(t, UTC).strftime("%m-%d %H:%M") for t in ticks]


def test_every_minute_fires_once_per_minute() -> None:
    ticks = cron_ticks(["* * * * *"], None, utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 0, 5))
    assert as_utc(ticks) == ["01-01 00:01", "01-01 00:02", "01-01 00:03", "01-01 00:04", "01-01 00:05"]


def test_daily_nine_am_new_york_keeps_wall_clock_across_spring_forward() -> None:
    ticks = cron_ticks(["0 9 * * *"], NY, utc(2026, 3, 7, 0), utc(2026, 3, 10, 0))
    assert as_utc(ticks) == ["03-07 14:00", "03-08 13:00", "03-09 13:00"]


def test_daily_nine_am_new_york_keeps_wall_clock_across_fall_back() -> None:
    ticks = cron_ticks(["0 9 * * *"], NY, utc(2026, 10, 31, 0), utc(2026, 11, 3, 0))
    assert as_utc(ticks) == ["10-31 13:00", "11-01 14:00", "11-02 14:00"]


def test_time_in_the_spring_gap_fires_at_the_end_of_the_gap() -> None:
    ticks = cron_ticks(["30 2 * * *"], NY, utc(2026, 3, 7, 12), utc(2026, 3, 9, 12))
    assert as_utc(ticks) == ["03-08 07:00", "03-09 06:30"]  # 03:00 EDT, then 02:30 EDT


def test_repeated_time_in_the_fall_fires_once_at_the_later_occurrence() -> None:
    ticks = cron_ticks(["30 1 * * *"], NY, utc(2026, 10, 31, 12), utc(2026, 11, 2, 12))
    assert as_utc(ticks) == ["11-01 06:30", "11-02 06:30"]  # 01:30 EST both days


def test_hourly_schedule_skips_the_gap_and_fires_twice_in_the_repeat() -> None:
    spring = cron_ticks(["0 * * * *"], NY, utc(2026, 3, 8, 5, 30), utc(2026, 3, 8, 8, 30))
    assert as_utc(spring) == ["03-08 06:00", "03-08 07:00", "03-08 08:00"]  # 01:00 EST, 03:00 EDT, 04:00 EDT
    fall = cron_ticks(["0 * * * *"], NY, utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 7, 30))
    assert as_utc(fall) == ["11-01 05:00", "11-01 06:00", "11-01 07:00"]  # 01:00 EDT, 01:00 EST, 02:00 EST


def test_several_cron_strings_merge_without_duplicates() -> None:
    ticks = cron_ticks(["0 * * * *", "0,30 * * * *"], None, utc(2026, 1, 1, 0), utc(2026, 1, 1, 1))
    assert as_utc(ticks) == ["01-01 00:30", "01-01 01:00"]


def test_window_is_exclusive_at_start_and_inclusive_at_end() -> None:
    assert cron_ticks(["0 * * * *"], None, utc(2026, 1, 1, 0), utc(2026, 1, 1, 0)) == []
    assert as_utc(cron_ticks(["0 * * * *"], None, utc(2026, 1, 1, 0), utc(2026, 1, 1, 1))) == ["01-01 01:00"]


def test_next_tick_looks_ahead_to_a_yearly_schedule() -> None:
    assert as_utc([next_tick(["0 0 1 1 *"], None, utc(2026, 1, 2, 0))]) == ["01-01 00:00"]
    assert datetime.fromtimestamp(next_tick(["0 0 1 1 *"], None, utc(2026, 1, 2, 0)), UTC).year == 2027
