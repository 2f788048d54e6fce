"""Reads of a member's "my points" page (我的积分): balance and period totals, ranks, the
last twelve months, the history, open declarations, appeals and redemptions, the prizes won,
and the reset reminder.

Every read is a fixed number of queries whatever the member's history holds: the figures
come from the maintained totals (``member_statement``, ``PeriodTotal``), never from summing
the ledger, and the history is read a page at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.contenttypes.models import ContentType
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.urls import reverse

from flows.models import (
    DECLARATION_UNDECIDED,
    Appeal,
    Declaration,
    DeclarationItem,
    SummaryItem,
)
from flows.publicity import appeal_visible_to
from flows.services import declaration_may_withdraw
from points.models import LedgerEntry, Member, PeriodKind, PeriodTotal, Policy, PrizeTier
from points.periods import month_start, organisation_today
from points.selectors.ledger import Statement, member_statement
from points.selectors.prizes import prize_awards_for_member

#: Months in the trend chart, this month included.
TREND_MONTHS = 12
#: Rows of each short list (declarations, appeals, redemptions).
SHORT_LIST = 5


@dataclass(frozen=True)
class TrendPoint:
    month: date
    total: int


@dataclass(frozen=True)
class ResetReminder:
    """The policy's year-end reset is near: the balance clears on ``on``, ``days`` from now."""

    on: date
    days: int
    balance: int


@dataclass(frozen=True)
class RedemptionRow:
    on: date
    what: str
    points: int
    status: str


@dataclass(frozen=True)
class PrizeRow:
    """A prize the member won: the period, the table, the place (by rank) or the minimum
    total reached (by threshold), the prize and its value, and whether HR has paid it."""

    period_kind: str
    period_start: date
    period_end: date
    table: str
    place: int | None
    threshold: int | None
    total: int
    prize: str
    amount: Decimal | None
    paid: bool
    paid_at: datetime | None


@dataclass
class MyPoints:
    member: Member
    today: date
    statement: Statement
    trend: list[TrendPoint]
    reminder: ResetReminder | None
    open_declarations: list[Declaration]
    appeals: list[Appeal]
    redemptions: list[RedemptionRow]
    prizes: list[PrizeRow]

    @property
    def balance(self) -> int:
        return self.statement.account.redeemable if self.statement.account else 0

    @property
    def lifetime_total(self) -> int:
        return self.statement.account.lifetime_total if self.statement.account else 0


# --- the figures ---------------------------------------------------------------------------


def _months_back(month: date, count: int) -> date:
    for _ in range(count):
        month = month_start(month - timedelta(days=1))
    return month


def member_monthly_trend(
    *, member: Member, last_month: date, months: int = TREND_MONTHS
) -> list[TrendPoint]:
    """The member's total of each of the ``months`` months up to ``last_month``, oldest
    first (0 for a month without entries). One query on the kept monthly totals."""
    last = month_start(last_month)
    first = _months_back(last, months - 1)
    kept = dict(
        PeriodTotal.objects.filter(
            member=member,
            period_kind=PeriodKind.MONTH,
            period_start__gte=first,
            period_start__lte=last,
        ).values_list("period_start", "total")
    )
    points = []
    month = first
    for _ in range(months):
        points.append(TrendPoint(month, int(kept.get(month, 0))))
        month = month_start(month + timedelta(days=32))
    return points


def reset_reminder(*, policy: Policy, today: date, balance: int) -> ResetReminder | None:
    """When the policy resets points at year end and the reset is at most
    ``expiry_reminder_days`` away (the collection document's 15 days ahead)."""
    if not policy.year_end_reset:
        return None
    reset_on = date(today.year, 12, 31)
    days = (reset_on - today).days
    if days > policy.expiry_reminder_days:
        return None
    return ResetReminder(on=reset_on, days=days, balance=balance)


def member_open_declarations(
    *, user: Any, member: Member, limit: int = SHORT_LIST
) -> list[Declaration]:
    """Declarations about the member still in review, returned or escalated, newest first,
    with their items' rules (two queries); each says whether ``user`` may withdraw it
    (``may_withdraw``)."""
    declarations = list(
        Declaration.objects.filter(member=member, status__in=DECLARATION_UNDECIDED)
        .select_related("reviewer")
        .prefetch_related(
            Prefetch("items", queryset=DeclarationItem.objects.select_related("rule_item"))
        )
        .order_by("-created_at", "-pk")[:limit]
    )
    for declaration in declarations:
        declaration.member = member  # the one read already, not a query a row
        declaration.may_withdraw = declaration_may_withdraw(  # type: ignore[attr-defined]
            declaration=declaration, user=user
        )
    return declarations


def member_appeals(*, user: Any, member: Member, limit: int = SHORT_LIST) -> list[Appeal]:
    """Appeals the member lodged or that concern their items (as ``appeal_visible_to`` lets
    the user see them), newest first."""
    return list(
        appeal_visible_to(user=user)
        .filter(Q(appellant=member) | Q(item__member=member))
        .select_related("item__rule_item", "item__member")
        .order_by("-created_at", "-pk")[:limit]
    )


def member_redemptions(*, member: Member, limit: int = SHORT_LIST) -> list[RedemptionRow]:
    """The member's open redemptions (requested or approved, not yet fulfilled), newest
    first, as the points shop lists them."""
    from flows.redemption import redemptions_open_for_member

    zone = ZoneInfo(member.organisation.timezone)
    return [
        RedemptionRow(
            r.created_at.astimezone(zone).date(),
            r.reward.name,
            r.points,
            str(r.get_status_display()),
        )
        for r in redemptions_open_for_member(member=member)[:limit]
    ]


def member_prizes(*, member: Member) -> list[PrizeRow]:
    """Every prize the member has won, newest period first, paid or still to be paid. One
    query: the table comes joined, and a threshold prize's minimum total is read in the
    same query (the table's highest tier of that prize the total reached)."""
    threshold = (
        PrizeTier.objects.filter(
            table=OuterRef("table"),
            prize=OuterRef("prize"),
            min_points__isnull=False,
            min_points__lte=OuterRef("total"),
        )
        .order_by("-min_points")
        .values("min_points")[:1]
    )
    awards = prize_awards_for_member(member=member).annotate(threshold=Subquery(threshold))
    return [
        PrizeRow(
            period_kind=str(award.get_period_kind_display()),
            period_start=award.period_start,
            period_end=award.period_end,
            table=award.table.name,
            place=award.place,
            threshold=award.threshold if award.place is None else None,
            total=award.total,
            prize=award.prize,
            amount=award.amount,
            paid=award.paid,
            paid_at=award.paid_at,
        )
        for award in awards
    ]


def my_points(*, user: Any, member: Member, today: date | None = None) -> MyPoints:
    """Everything on "my points" but the history: about nine queries, whatever the size of
    the member's ledger or the number of their prizes."""
    day = today or organisation_today(member.organisation)
    statement = member_statement(member=member, kind=PeriodKind.MONTH, on=day, limit=0)
    balance = statement.account.redeemable if statement.account else 0
    return MyPoints(
        member=member,
        today=day,
        statement=statement,
        trend=member_monthly_trend(member=member, last_month=day),
        reminder=reset_reminder(policy=member.organisation.policy, today=day, balance=balance),
        open_declarations=member_open_declarations(user=user, member=member),
        appeals=member_appeals(user=user, member=member),
        redemptions=member_redemptions(member=member),
        prizes=member_prizes(member=member),
    )


def trend_chart(trend: Sequence[TrendPoint], *, label: str) -> dict[str, Any]:
    """The trend as a chart specification for ``flows/charts.js`` (passed with
    ``json_script``)."""
    return {
        "type": "line",
        "data": {
            "labels": [f"{p.month:%Y-%m}" for p in trend],
            "datasets": [{"label": label, "data": [p.total for p in trend], "fill": True}],
        },
        "options": {"plugins": {"legend": {"display": False}}},
    }


# --- the history ---------------------------------------------------------------------------


def member_history(*, member: Member) -> QuerySet[LedgerEntry]:
    """The member's ledger entries, newest first, with their rule and approver: the
    ``entry_member_booked`` index serves the order and each page."""
    return (
        LedgerEntry.objects.filter(member=member)
        .select_related("rule_item", "approved_by")
        .order_by("-booked_on", "-id")
    )


@dataclass(frozen=True)
class EntrySource:
    label: str
    url: str | None = None


def entry_sources(entries: Sequence[LedgerEntry]) -> dict[int, EntrySource]:
    """What each entry came from: the kind of record (a published summary item, a
    redemption ...), with a link to the publicity page for a published item. One query
    for the page's summary items; content types come from Django's cache."""
    summary_type = ContentType.objects.get_for_model(SummaryItem)
    item_ids = [
        e.source_id
        for e in entries
        if e.source_type_id == summary_type.pk and e.source_id is not None
    ]
    summaries = (
        dict(SummaryItem.objects.filter(pk__in=item_ids).values_list("pk", "summary_id"))
        if item_ids
        else {}
    )
    sources: dict[int, EntrySource] = {}
    for entry in entries:
        if entry.source_type_id is None:
            sources[entry.pk] = EntrySource(str(entry.get_kind_display()))
            continue
        model = ContentType.objects.get_for_id(entry.source_type_id).model_class()
        label = str(model._meta.verbose_name) if model is not None else str(entry.kind)
        summary_id = summaries.get(entry.source_id or 0)
        url = reverse("publicity:board:detail", args=[summary_id]) if summary_id else None
        sources[entry.pk] = EntrySource(label, url)
    return sources


def approver_name(user: Any) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.get_username())
