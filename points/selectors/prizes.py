"""Reads of prize tables and the prizes won."""

from __future__ import annotations

from django.db.models import QuerySet

from points.models import Member, Organisation, PrizeAward
from points.selectors.org import member_name_of


def prize_awards_for_member(*, member: Member) -> QuerySet[PrizeAward]:
    """The prizes a member has won, newest period first (for the "my points" page)."""
    return (
        PrizeAward.objects.filter(member=member)
        .select_related("table")
        .order_by("-period_start", "table__name", "pk")
    )


def prize_awards_for_organisation(
    *, organisation: Organisation, paid: bool | None = None
) -> QuerySet[PrizeAward]:
    """The winners list HR works from: unpaid first, then newest period first."""
    awards = PrizeAward.objects.filter(organisation=organisation)
    if paid is not None:
        awards = awards.filter(paid=paid)
    awards = awards.annotate(paid_by_name=member_name_of("paid_by"))
    return awards.select_related("table", "member__unit", "paid_by").order_by(
        "paid", "-period_start", "table__name", "place", "-total", "pk"
    )
