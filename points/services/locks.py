"""The rows that decide, locked in one order (accounts by member id, then months by date).

Every service that reads a balance, decides and writes locks through here first; never
read-decide-write as separate steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import connection

from points.models import Account, Organisation, Period

CHUNK = 2000


def accounts_lock(*, organisation: Organisation, member_ids: Iterable[int]) -> dict[int, Account]:
    """Create missing accounts, then ``SELECT ... FOR UPDATE`` them in member order."""
    ids = sorted(set(member_ids))
    table = Account._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (member_id, organisation_id, lifetime_total, redeemable, "  # noqa: S608
                "frozen, flagged_for_review, updated_at) SELECT m, %s, 0, 0, false, false, now() "
                f"FROM unnest(%s::bigint[]) AS m WHERE NOT EXISTS (SELECT 1 FROM {table} a "
                "WHERE a.member_id = m) ON CONFLICT (member_id) DO NOTHING",
                [organisation.pk, ids],
            )
        locked = Account.objects.raw(
            f"SELECT * FROM {table} WHERE member_id = ANY(%s) ORDER BY member_id FOR UPDATE",  # noqa: S608
            [ids],
        )
        return {account.member_id: account for account in locked}
    accounts: dict[int, Account] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        have = set(Account.objects.filter(member_id__in=chunk).values_list("member_id", flat=True))
        missing = [m for m in chunk if m not in have]
        if missing:
            Account.objects.bulk_create(
                [Account(member_id=m, organisation=organisation) for m in missing],
                ignore_conflicts=True,
            )
        for account in (
            Account.objects.select_for_update().filter(member_id__in=chunk).order_by("member_id")
        ):
            accounts[account.member_id] = account
    return accounts


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
