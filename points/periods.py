"""Period arithmetic in an organisation's time zone: week (from Monday), month, quarter,
year."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from points.models import Organisation, PeriodKind

#: The period kinds whose totals are maintained; "all time" is the account's lifetime total.
TOTAL_KINDS = (PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR)


def period_start(kind: str, day: date) -> date:
    if kind == PeriodKind.WEEK:
        return day - timedelta(days=day.weekday())
    if kind == PeriodKind.MONTH:
        return day.replace(day=1)
    if kind == PeriodKind.QUARTER:
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if kind == PeriodKind.YEAR:
        return date(day.year, 1, 1)
    raise ValueError(f"unknown period kind {kind!r}")


def period_end(kind: str, start: date) -> date:
    """The last day of the period that begins on ``start``."""
    if kind == PeriodKind.WEEK:
        return start + timedelta(days=6)
    months = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}[kind]  # type: ignore[index]
    year, month = divmod(start.month - 1 + months, 12)
    return date(start.year + year, month + 1, 1) - timedelta(days=1)


def month_start(day: date) -> date:
    return day.replace(day=1)


def parse_month(text: str) -> date:
    """ "2026-10" → date(2026, 10, 1); ValueError otherwise."""
    try:
        return datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError as error:
        raise ValueError(f"{text!r} is not a month like 2026-10") from error


def organisation_today(organisation: Organisation, now: datetime | None = None) -> date:
    """Today's date in the organisation's time zone."""
    moment = now or timezone.now()
    return moment.astimezone(ZoneInfo(organisation.timezone)).date()
