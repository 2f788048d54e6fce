"""The rows that decide, locked in one order (members by id, then months by date).

Every service that reads a balance, decides and writes locks through here first; never
read-decide-write as separate steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from points.models import Account, Organisation, Period

CHUNK = 5000


def accounts_lock(*, organisation: Organisation, member_ids: Iterable[int]) -> dict[int, Account]:
    """Create missing accounts, then ``SELECT ... FOR UPDATE`` them in member order."""
    wanted = sorted(set(member_ids))
    accounts: dict[int, Account] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
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


def periods_lock(*, organisation: Organisation, months: Iterable[date]) -> dict[date, Period]:
    """Create missing months, then lock them in date order."""
    wanted = sorted(set(months))
    Period.objects.bulk_create(
        [Period(organisation=organisation, month=month) for month in wanted],
        ignore_conflicts=True,
    )
    return {
        period.month: period
        for period in Period.objects.select_for_update()
        .filter(organisation=organisation, month__in=wanted)
        .order_by("month")
    }
