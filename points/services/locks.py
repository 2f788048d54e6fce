"""The rows that decide, locked in one order: accounts by member id
(``ledger_io.lock_balances``, bulk SQL), then months by date (here).

Every service that reads a balance, decides and writes locks first; never
read-decide-write as separate steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import connection

from points.models import Organisation, Period

CHUNK = 2000


def periods_lock(
    *, organisation: Organisation, months: Iterable[date], exclusive: bool = False
) -> dict[date, Period]:
    """Create missing months, then lock them in date order: shared for posting (postings
    do not wait for each other), exclusive for closing (a close waits for postings in
    flight, and postings wait for the close)."""
    wanted = sorted(set(months))
    Period.objects.bulk_create(
        [Period(organisation=organisation, month=month) for month in wanted],
        ignore_conflicts=True,
    )
    if connection.vendor == "postgresql" and not exclusive:
        table = Period._meta.db_table
        locked = Period.objects.raw(
            f"SELECT * FROM {table} WHERE organisation_id = %s AND month = ANY(%s) "  # noqa: S608
            "ORDER BY month FOR SHARE",
            [organisation.pk, wanted],
        )
        return {period.month: period for period in locked}
    return {
        period.month: period
        for period in Period.objects.select_for_update()
        .filter(organisation=organisation, month__in=wanted)
        .order_by("month")
    }
