"""Prize winners, computed from the ranking when a period closes, and paid by HR.

``prizes_award_for_month_close`` runs inside ``period_close`` (and from the daily beat job
and ``manage.py award_prizes`` as a safety net): closing a month awards its monthly tables,
and the quarterly and yearly tables whose every month is then closed. Each table and period
is computed once (a unique key per table, period and member; an existing result is
returned as it is).

By rank, the table's places are given in ranking order within its group and scope; members
under a one-vote veto in the period are skipped, so the next in line moves up; members tied
on points share a place (competition ranking, 1, 1, 3), and each gets that place's prize.
Only a positive total wins. By threshold, each member gets the highest prize whose minimum
their total reaches (vetoed members get none).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from points.models import (
    AuditEvent,
    Organisation,
    Period,
    PrizeAward,
    PrizeBasis,
    PrizeGroup,
    PrizeTable,
    PrizeTier,
)
from points.periods import month_start, period_end, period_start
from points.roles import Role
from points.selectors.ledger import RankRow, ranking_for_period, vetoed_member_ids
from points.selectors.org import member_for_user, user_roles


def _ranked_winners(
    rows: Iterable[RankRow], tiers: list[PrizeTier]
) -> list[tuple[RankRow, int, PrizeTier]]:
    """(row, place, tier) for each winner: ``rows`` best first, already without the
    vetoed; places by competition ranking among them."""
    by_place = {tier.place: tier for tier in tiers if tier.place is not None}
    if not by_place:
        return []
    last_place = max(by_place)
    winners: list[tuple[RankRow, int, PrizeTier]] = []
    place, previous = 0, None
    for position, row in enumerate(rows, 1):
        if row.total <= 0:
            break
        if row.total != previous:
            place = position
        if place > last_place:
            break
        previous = row.total
        tier = by_place.get(place)
        if tier is not None:
            winners.append((row, place, tier))
    return winners


def _threshold_winners(
    rows: Iterable[RankRow], tiers: list[PrizeTier]
) -> list[tuple[RankRow, None, PrizeTier]]:
    ladder = sorted(
        (tier for tier in tiers if tier.min_points is not None),
        key=lambda tier: -(tier.min_points or 0),
    )
    winners: list[tuple[RankRow, None, PrizeTier]] = []
    for row in rows:
        tier = next((t for t in ladder if row.total >= (t.min_points or 0)), None)
        if tier is not None:
            winners.append((row, None, tier))
    return winners


@transaction.atomic
def prizes_award_period(*, table: PrizeTable, start: date, actor: Any = None) -> list[PrizeAward]:
    """Compute and record the winners of ``table`` for the period that contains ``start``
    (once: a second call returns what the first recorded)."""
    kind = table.period_kind
    begin = period_start(kind, start)
    existing = list(PrizeAward.objects.filter(table=table, period_start=begin))
    if existing:
        return existing
    organisation = table.organisation
    tiers = list(table.tiers.all())
    group = None if table.group == PrizeGroup.ALL else table.group
    vetoed = vetoed_member_ids(organisation=organisation, kind=kind, start=begin)
    if table.basis == PrizeBasis.RANK:
        places = max((t.place for t in tiers if t.place is not None), default=0)
        if not places:
            return []
        rows = ranking_for_period(
            organisation=organisation,
            kind=kind,
            start=begin,
            unit=table.unit,
            group=group,
            top=places + len(vetoed),
        )
        winners: list[tuple[RankRow, int | None, PrizeTier]] = list(
            _ranked_winners([r for r in rows if r.member_id not in vetoed], tiers)
        )
    else:
        rows = ranking_for_period(
            organisation=organisation, kind=kind, start=begin, unit=table.unit, group=group
        )
        winners = list(_threshold_winners([r for r in rows if r.member_id not in vetoed], tiers))
    awards = [
        PrizeAward(
            organisation=organisation,
            table=table,
            member_id=row.member_id,
            period_kind=kind,
            period_start=begin,
            period_end=period_end(kind, begin),
            place=place,
            total=row.total,
            prize=tier.prize,
            amount=tier.amount,
        )
        for row, place, tier in winners
    ]
    PrizeAward.objects.bulk_create(awards, ignore_conflicts=True)
    AuditEvent.objects.create(
        organisation=organisation,
        actor=actor if getattr(actor, "pk", None) else None,
        action="prizes.award",
        object_repr=f"{table.name} {begin:%Y-%m-%d}"[:200],
        data={
            "table": table.pk,
            "period_start": begin.isoformat(),
            "winners": [[row.member_id, place, tier.prize] for row, place, tier in winners],
            "vetoed_skipped": sorted(vetoed),
        },
    )
    return list(PrizeAward.objects.filter(table=table, period_start=begin))


def _months(kind: str, begin: date) -> list[date]:
    months, day = [], begin
    while day <= period_end(kind, begin):
        months.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return months


def _period_closed(organisation: Organisation, kind: str, begin: date) -> bool:
    """Whether every month of the period is closed."""
    months = _months(kind, begin)
    closed = Period.objects.filter(
        organisation=organisation, month__in=months, closed_at__isnull=False
    ).count()
    return closed == len(months)


def prizes_award_for_month_close(
    *, organisation: Organisation, month: date, actor: Any = None
) -> list[PrizeAward]:
    """After ``month`` is closed: the winners of the organisation's active monthly tables,
    and of the quarterly and yearly tables whose period holds this month and is now closed
    throughout (whichever of its months closed last). Safe to run again."""
    month = month_start(month)
    awards: list[PrizeAward] = []
    tables = PrizeTable.objects.filter(organisation=organisation, active=True).select_related(
        "organisation", "unit"
    )
    for table in tables.prefetch_related("tiers").order_by("pk"):
        begin = period_start(table.period_kind, month)
        if not _period_closed(organisation, table.period_kind, begin):
            continue  # a quarter or year waits for its last open month
        awards += prizes_award_period(table=table, start=begin, actor=actor)
    return awards


def prizes_award_closed_months(*, organisation: Organisation, months: int = 12) -> int:
    """The daily job's safety net: awards for the organisation's closed months of the last
    ``months`` months that have none yet (idempotent). Returns how many were awarded."""
    closed = Period.objects.filter(organisation=organisation, closed_at__isnull=False).order_by(
        "-month"
    )[:months]
    before = PrizeAward.objects.filter(organisation=organisation).count()
    for period in sorted(closed, key=lambda p: p.month):
        prizes_award_for_month_close(organisation=organisation, month=period.month)
    return PrizeAward.objects.filter(organisation=organisation).count() - before


@transaction.atomic
def prize_award_mark_paid(*, award: PrizeAward, user: Any) -> PrizeAward:
    """HR of the organisation records that a prize was handed over."""
    award = PrizeAward.objects.select_for_update().get(pk=award.pk)
    member = member_for_user(user=user)
    if (
        member is None
        or member.organisation_id != award.organisation_id
        or Role.HR not in user_roles(user=user)
    ):
        raise PermissionDenied(_("Only HR of the organisation pays prizes."))
    if award.paid:
        raise ValidationError(_("This prize has already been paid."))
    award.paid = True
    award.paid_at = timezone.now()
    award.paid_by = user
    award.save(update_fields=["paid", "paid_at", "paid_by"])
    AuditEvent.objects.create(
        organisation_id=award.organisation_id,
        actor=user,
        action="prizes.paid",
        member_id=award.member_id,
        object_repr=str(award)[:200],
        data={"award": award.pk, "prize": award.prize},
    )
    return award
