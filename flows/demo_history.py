"""Twelve months of history for the demo factory, so that "my points" and the dashboards
have charts to draw: for each of the eleven months before this one, every member's fixed
points (the factory's fixed point table) and a few daily awards and deductions from the
catalog, approved by their superior.

Everything is posted through the ledger's services (caps, co-awards and totals apply), and
only into open months: the step runs before the publicity demo closes last month, and a
month that is already closed is left as it is. Idempotent: a month that holds the demo's
keys is not posted again, and every key is derived from the month and the member."""

from __future__ import annotations

import random
from datetime import date, timedelta

from points.demo.seed import SeedResult
from points.models import (
    LedgerEntry,
    Member,
    MemberKind,
    MemberStatus,
    Organisation,
    OrgUnit,
    Period,
    RuleItem,
)
from points.periods import month_start, organisation_today, period_end
from points.services.accounts import fixed_points_post_month
from points.services.ledger import PostingItem, ledger_post_batch

ORGANISATION = "demo-factory"
#: Months of history before this one (the charts show these and this month).
MONTHS = 11
KEY = "demo-history"
NOTE = "演示：历史积分"

#: Uncapped catalog rules (code, points per unit or None for the rule's value), awards
#: more often than deductions; capped rules are left to the other demo steps.
EVENTS: list[tuple[str, int | None]] = [
    ("SAF-001", None),
    ("PERF-007", None),
    ("PERF-008", None),
    ("PERF-009", None),
    ("ATT-001", None),
    ("SVC-001", None),
    ("SUG-001", 30),
    ("TRN-002", None),
    ("ATD-002", None),
    ("ATD-003", None),
    ("QLT-001", None),
    ("HYG-002", None),
]


def _months(today: date) -> list[date]:
    months = []
    month = month_start(today)
    for _ in range(MONTHS):
        month = month_start(month - timedelta(days=1))
        months.append(month)
    return sorted(months)


def _daily_items(
    members: list[Member], approvers: dict[int, int | None], rules: dict[str, RuleItem], month: date
) -> list[PostingItem]:
    items = []
    last_day = period_end("month", month).day
    for member in members:
        rng = random.Random(f"{KEY}:{member.employee_no}:{month:%Y-%m}")  # noqa: S311 - demo data
        for n in range(rng.choice((0, 0, 1, 1, 2))):
            code, points = rng.choice(EVENTS)
            rule = rules.get(code)
            if rule is None:
                continue
            value = points or rule.points_min
            items.append(
                PostingItem(
                    member_id=member.pk,
                    idempotency_key=f"{KEY}:{month:%Y-%m}:{member.employee_no}:{n}",
                    effective_date=month.replace(day=rng.randint(1, last_day)),
                    amount=rule.sign * value,
                    rule_item_id=rule.pk,
                    rule_points_min=rule.points_min,
                    rule_points_max=rule.points_max,
                    approved_by_id=approvers.get(member.pk),
                    note=NOTE,
                )
            )
    return items


def _superiors(organisation: Organisation, members: list[Member]) -> dict[int, int | None]:
    """Each member's superior's login, as ``member_superior`` finds it, from one read of
    the tree: the leader of their unit or the nearest one above who is someone else."""
    units = {u.pk: u for u in OrgUnit.objects.filter(organisation=organisation)}
    leaders = dict(
        Member.objects.filter(organisation=organisation, status=MemberStatus.ACTIVE).values_list(
            "pk", "user_id"
        )
    )
    found: dict[int, int | None] = {}
    for member in members:
        unit: OrgUnit | None = units.get(member.unit_id)
        found[member.pk] = None
        while unit is not None:
            if unit.leader_id and unit.leader_id != member.pk and unit.leader_id in leaders:
                found[member.pk] = leaders[unit.leader_id]
                break
            unit = units.get(unit.parent_id) if unit.parent_id else None
    return found


def seed_history(result: SeedResult) -> None:
    organisation = Organisation.objects.filter(code=ORGANISATION).first()
    if organisation is None:
        return
    today = organisation_today(organisation)
    closed = set(
        Period.objects.filter(organisation=organisation, closed_at__isnull=False).values_list(
            "month", flat=True
        )
    )
    months = [
        m
        for m in _months(today)
        if m not in closed
        and not LedgerEntry.objects.filter(
            organisation=organisation, idempotency_key__startswith=f"{KEY}:{m:%Y-%m}:"
        ).exists()
    ]
    if not months:
        return
    members = list(
        Member.objects.filter(
            organisation=organisation, status=MemberStatus.ACTIVE, kind=MemberKind.PERSON
        ).order_by("employee_no")
    )
    approvers = _superiors(organisation, members)
    rules = {
        r.code: r
        for r in RuleItem.objects.filter(
            organisation=organisation, code__in=[code for code, _points in EVENTS]
        )
    }
    for month in months:
        fixed = fixed_points_post_month(organisation=organisation, month=month, today=today)
        daily = ledger_post_batch(
            organisation=organisation,
            items=_daily_items(members, approvers, rules, month),
            today=today,
        )
        posted = fixed.posted_count + daily.posted_count
        if posted:
            result.created["history entries"] = result.created.get("history entries", 0) + posted
