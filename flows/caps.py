"""How much of a rule's caps a member has used: the ledger's count (``points.selectors``),
plus what is approved and waiting to be posted, which the ledger's caps will count when HR's
summary posts it (the pending pool is posted once a month, so the ledger alone would say a
cap is untouched all month)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import date

from flows.models import (
    DeclarationItem,
    DeclarationStatus,
    ItemStatus,
    NoticeItem,
    NoticeStatus,
    SummaryItem,
)
from points.models import Member, RuleItem
from points.periods import month_start, period_end
from points.selectors.ledger import CapUsage, member_cap_usage, rule_cap_usage

#: A gathered item in one of these will never be posted, or has been (the ledger counts it).
_NOT_WAITING = (ItemStatus.POSTED, ItemStatus.CANCELLED, ItemStatus.REFUSED)


def pending_cap_usage(
    *, member_ids: Iterable[int], rule_ids: Iterable[int], day: date
) -> dict[tuple[int, int], tuple[int, int]]:
    """Points approved (declarations and notices in the pending pool, gathered or not) and
    not posted yet, by (member, rule): on ``day`` and in its month. Two queries."""
    begin = month_start(day)
    window = (begin, period_end("month", begin))
    member_ids, rule_ids = list(member_ids), list(rule_ids)
    done = SummaryItem.objects.filter(status__in=_NOT_WAITING)
    rows: list[tuple[int, int, date, int]] = [
        (member_id, rule_id, event_date, quantity * (approved if approved is not None else points))
        for member_id, rule_id, event_date, quantity, points, approved in (
            DeclarationItem.objects.filter(
                declaration__status=DeclarationStatus.APPROVED,
                pool_month__isnull=False,
                declaration__member_id__in=member_ids,
                rule_item_id__in=rule_ids,
                event_date__range=window,
            )
            .exclude(pk__in=done.filter(declaration_item__isnull=False).values("declaration_item"))
            .values_list(
                "declaration__member_id",
                "rule_item_id",
                "event_date",
                "quantity",
                "points",
                "approved_points",
            )
        )
    ]
    rows += [
        (member_id, rule_id, event_date, quantity * points)
        for member_id, rule_id, event_date, quantity, points in (
            NoticeItem.objects.filter(
                notice__status=NoticeStatus.APPROVED,
                pool_month__isnull=False,
                member_id__in=member_ids,
                rule_item_id__in=rule_ids,
                event_date__range=window,
            )
            .exclude(pk__in=done.filter(notice_item__isnull=False).values("notice_item"))
            .values_list("member_id", "rule_item_id", "event_date", "quantity", "points")
        )
    ]
    usage: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for member_id, rule_id, event_date, points in rows:
        used = usage[(member_id, rule_id)]
        used[1] += points
        if event_date == day:
            used[0] += points
    return {key: (today, month) for key, (today, month) in usage.items()}


def member_caps(*, member: Member, day: date) -> list[CapUsage]:
    """``member_cap_usage`` (each capped rule that applies to the member) with what is
    approved and waiting to be posted."""
    caps = member_cap_usage(member=member, day=day)
    if not caps:
        return caps
    pending = pending_cap_usage(member_ids=[member.pk], rule_ids=[c.rule.pk for c in caps], day=day)
    return [_with_pending(cap, pending, member.pk) for cap in caps]


def rule_caps(*, rule: RuleItem, members: list[Member], day: date) -> dict[int, CapUsage]:
    """``rule_cap_usage`` (one rule, many members, by member id) with what is approved and
    waiting to be posted."""
    if not members:
        return {}
    usages = rule_cap_usage(rule=rule, members=members, day=day)
    pending = pending_cap_usage(member_ids=[m.pk for m in members], rule_ids=[rule.pk], day=day)
    return {pk: _with_pending(usage, pending, pk) for pk, usage in usages.items()}


def _with_pending(
    usage: CapUsage, pending: dict[tuple[int, int], tuple[int, int]], member_id: int
) -> CapUsage:
    """``usage`` (the ledger's) with the member's approved points waiting to be posted."""
    today, month = pending.get((member_id, usage.rule.pk), (0, 0))
    return replace(
        usage,
        used_today=usage.used_today + today,
        used_this_month=usage.used_this_month + month,
    )
