"""Periods: week (from Monday), month, quarter and year, in the organisation's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from points.models import Organisation
from points.periods import organisation_today, parse_month, period_end, period_start


def test_period_starts_and_ends() -> None:
    day = date(2026, 11, 22)  # a Sunday
    assert period_start("week", day) == date(2026, 11, 16)
    assert period_start("month", day) == date(2026, 11, 1)
    assert period_start("quarter", day) == date(2026, 10, 1)
    assert period_start("year", day) == date(2026, 1, 1)
    assert period_end("week", date(2026, 11, 16)) == date(2026, 11, 22)
    assert period_end("month", date(2026, 2, 1)) == date(2026, 2, 28)
    assert period_end("quarter", date(2026, 10, 1)) == date(2026, 12, 31)
    assert period_end("year", date(2026, 1, 1)) == date(2026, 12, 31)


def test_today_is_taken_in_the_organisations_time_zone() -> None:
    evening_utc = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert organisation_today(Organisation(timezone="Asia/Shanghai"), evening_utc) == date(
        2026, 12, 1
    )
    assert organisation_today(Organisation(timezone="Europe/London"), evening_utc) == date(
        2026, 11, 30
    )


def test_parse_month() -> None:
    assert parse_month("2026-10") == date(2026, 10, 1)
    with pytest.raises(ValueError):
        parse_month("2026-13")
