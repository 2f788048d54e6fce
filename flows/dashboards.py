"""Reads of the dashboards (看板) for leaders (the subtrees of the units they lead), HR and
the committee (their organisation): unit totals and their distribution, top and bottom
members, a comparison between units, participation, pending review ages per reviewer,
and appeal counts and outcomes.

Scope is decided here, on the server: ``dashboard_scope`` refuses whoever leads nothing
and is neither HR nor committee, and any unit outside the user's subtrees or
organisation. Each figure is one aggregate query over the maintained monthly totals or
indexed columns, so the number of queries does not grow with the organisation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.models import Appeal, AppealStatus, Declaration, DeclarationStatus, Ruling
from points.models import (
    EntryKind,
    LedgerEntry,
    Member,
    MemberKind,
    MemberStatus,
    Organisation,
    OrgUnit,
    PeriodKind,
)
from points.periods import month_start, period_end
from points.roles import Role
from points.selectors.org import member_for_user, user_roles

#: Members in the top and bottom lists.
TOP = 5
#: About this many bars in the distribution.
BINS = 10
#: Roles that see their whole organisation.
ORGANISATION_ROLES: frozenset[str] = frozenset({Role.HR, Role.COMMITTEE})


class UnitNotInScope(Exception):
    """The unit asked for is outside what the user may see (shown as "not found")."""


@dataclass(frozen=True)
class DashboardScope:
    organisation: Organisation
    unit: OrgUnit
    #: Units the user may pick, in tree order.
    choices: list[OrgUnit]
    organisation_wide: bool


def _roles(user: Any) -> set[str]:
    """The user's roles, read once per request (the menu asks on every page)."""
    cached: set[str] | None = getattr(user, "_flows_dashboard_roles", None)
    if cached is None:
        cached = user_roles(user=user)
        if getattr(user, "is_authenticated", False):
            user._flows_dashboard_roles = cached
    return cached


def dashboard_may_view(*, user: Any) -> bool:
    """Leaders, HR and the committee (cheap: the user's roles, no tree walk)."""
    return bool({Role.LEADER, *ORGANISATION_ROLES} & _roles(user))


def dashboard_scope(*, user: Any, unit_id: int | None = None) -> DashboardScope:
    """The unit whose subtree the dashboard shows: ``unit_id`` when the user may see it,
    else their default (the organisation's top unit for HR and the committee, the
    highest unit a leader leads). Raises ``PermissionDenied`` for anyone else and
    ``UnitNotInScope`` for a unit they may not see."""
    member = member_for_user(user=user)
    if member is None:
        raise PermissionDenied
    organisation_wide = bool(ORGANISATION_ROLES & _roles(user))
    units = OrgUnit.objects.filter(organisation_id=member.organisation_id)
    if not organisation_wide:
        led = list(member.led_units.values_list("path", flat=True))
        if not led:
            raise PermissionDenied
        subtrees = Q(pk__in=[])
        for path in led:
            subtrees |= Q(path__startswith=path)
        units = units.filter(subtrees)
    choices = list(units.order_by("path"))
    if not choices:
        raise PermissionDenied
    if unit_id is None:
        unit = min(choices, key=lambda u: (u.path.count("/"), u.path))
    else:
        found = [u for u in choices if u.pk == unit_id]
        if not found:
            raise UnitNotInScope
        unit = found[0]
    return DashboardScope(member.organisation, unit, choices, organisation_wide)


# --- the figures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberTotal:
    member_id: int
    name: str
    employee_no: str
    unit_name: str
    total: int


@dataclass(frozen=True)
class UnitFigure:
    unit_id: int
    name: str
    members: int
    total: int

    @property
    def average(self) -> float:
        return round(self.total / self.members, 1) if self.members else 0.0


@dataclass(frozen=True)
class Bin:
    low: int
    high: int
    members: int

    @property
    def label(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}–{self.high}"


@dataclass(frozen=True)
class Participation:
    members: int
    declared: int
    redeemed: int

    def rate(self, count: int) -> float:
        return round(100 * count / self.members, 1) if self.members else 0.0

    @property
    def declared_rate(self) -> float:
        return self.rate(self.declared)

    @property
    def redeemed_rate(self) -> float:
        return self.rate(self.redeemed)


@dataclass(frozen=True)
class ReviewerAge:
    user_id: int
    name: str
    pending: int
    oldest_days: int
    overdue: int


@dataclass(frozen=True)
class AppealFigures:
    by_status: dict[str, int]
    by_ruling: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass
class Dashboard:
    scope: DashboardScope
    month: date
    members: int
    total: int
    distribution: list[Bin]
    top: list[MemberTotal]
    bottom: list[MemberTotal]
    units: list[UnitFigure]
    participation: Participation
    reviewers: list[ReviewerAge]
    appeals: AppealFigures

    @property
    def average(self) -> float:
        return round(self.total / self.members, 1) if self.members else 0.0


def _members(unit: OrgUnit) -> QuerySet[Member]:
    return Member.objects.filter(
        organisation_id=unit.organisation_id,
        unit__path__startswith=unit.path,
        status=MemberStatus.ACTIVE,
    )


def _with_month_total(members: QuerySet[Member], month: date) -> QuerySet[Any]:
    """Each member with ``total``: their kept total of the month, 0 without one (a left
    join on the period totals' primary key)."""
    return members.annotate(
        month_row=FilteredRelation(
            "period_totals",
            condition=Q(
                period_totals__period_kind=PeriodKind.MONTH, period_totals__period_start=month
            ),
        )
    ).annotate(total=Coalesce(F("month_row__total"), Value(0)))


def _nice_width(span: int, bins: int) -> int:
    """A bar width of 1, 2 or 5 × 10ⁿ giving about ``bins`` bars over ``span``."""
    raw = max(span / bins, 1)
    power = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 5, 10):
        if step * power >= raw:
            return int(step * power)
    return int(10 * power)


def distribution_bins(counts: Sequence[tuple[int, int]], bins: int = BINS) -> list[Bin]:
    """A histogram of (total, members with it) pairs, in bars of a round width."""
    if not counts:
        return []
    low, high = min(t for t, _n in counts), max(t for t, _n in counts)
    width = _nice_width(high - low, bins)
    start = math.floor(low / width) * width
    bars = [0] * ((high - start) // width + 1)
    for total, members in counts:
        bars[(total - start) // width] += members
    return [
        Bin(start + i * width, start + (i + 1) * width - 1, members)
        for i, members in enumerate(bars)
    ]


def _member_totals(rows: Iterable[dict[str, Any]]) -> list[MemberTotal]:
    return [
        MemberTotal(r["pk"], r["name"], r["employee_no"], r["unit__name"], int(r["total"]))
        for r in rows
    ]


def _unit_figures(unit: OrgUnit, scored: QuerySet[Any]) -> list[UnitFigure]:
    """Members and total per child unit of ``unit`` (its own members as one more row)."""
    children = list(OrgUnit.objects.filter(parent=unit).order_by("path"))
    group = Case(
        *[When(unit__path__startswith=child.path, then=Value(child.pk)) for child in children],
        default=Value(unit.pk),
        output_field=IntegerField(),
    )
    rows = {
        row["group"]: row
        for row in scored.annotate(group=group)
        .values("group")
        .annotate(members=Count("pk"), points=Sum("total"))
        .order_by()
    }
    figures = []
    for each in [*children, unit]:
        row = rows.get(each.pk)
        if row is None and each is unit:
            continue  # nobody directly in the unit itself
        figures.append(
            UnitFigure(
                each.pk,
                each.name
                if each is not unit
                else _("%(unit)s (own members)") % {"unit": unit.name},
                row["members"] if row else 0,
                int(row["points"] or 0) if row else 0,
            )
        )
    return figures


def _month_bounds(organisation: Organisation, month: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(organisation.timezone)
    begin = datetime.combine(month, time.min, tzinfo=zone)
    end = datetime.combine(period_end(PeriodKind.MONTH, month) + timedelta(days=1), time.min, zone)
    return begin, end


def _participation(
    members: QuerySet[Member], organisation: Organisation, month: date
) -> Participation:
    begin, end = _month_bounds(organisation, month)
    # a withdrawn declaration (撤回) was taken back: its member did not take part by it
    declared = Exists(
        Declaration.objects.filter(
            member=OuterRef("pk"), created_at__gte=begin, created_at__lt=end
        ).exclude(status=DeclarationStatus.WITHDRAWN)
    )
    # What the shop spent is in the ledger, whatever the state of its requests.
    redeemed = Exists(
        LedgerEntry.objects.filter(
            member=OuterRef("pk"),
            kind=EntryKind.REDEMPTION,
            booked_on__gte=month,
            booked_on__lte=period_end(PeriodKind.MONTH, month),
        )
    )
    figures = members.aggregate(
        n=Count("pk"),
        declared=Count("pk", filter=Q(declared)),
        redeemed=Count("pk", filter=Q(redeemed)),
    )
    return Participation(figures["n"], figures["declared"], figures["redeemed"])


def _reviewers(unit: OrgUnit, organisation: Organisation) -> list[ReviewerAge]:
    """Declarations of the subtree's members waiting for review, per reviewer: how many,
    the age of the oldest (days), and how many passed the policy's reminder."""
    from flows.flows import DeclarationFlow

    now = timezone.now()
    reminder = now - timedelta(days=organisation.policy.review_reminder_days)
    rows = list(
        Task.objects.filter(
            flow_task=DeclarationFlow.review,
            status=STATUS.ASSIGNED,
            process__declaration__organisation=organisation,
            process__declaration__member__unit__path__startswith=unit.path,
        )
        .values("owner_id", "owner__username", "owner__first_name", "owner__last_name")
        .annotate(
            pending=Count("pk"),
            oldest=Min("created"),
            overdue=Count("pk", filter=Q(created__lt=reminder)),
        )
        .order_by("oldest")
    )
    names = dict(
        Member.objects.filter(
            organisation=organisation,
            kind=MemberKind.PERSON,
            user_id__in=[r["owner_id"] for r in rows if r["owner_id"]],
        ).values_list("user_id", "name")
    )
    return [
        ReviewerAge(
            r["owner_id"],
            names.get(r["owner_id"])
            or f"{r['owner__first_name']} {r['owner__last_name']}".strip()
            or r["owner__username"]
            or "—",
            r["pending"],
            (now - r["oldest"]).days,
            r["overdue"],
        )
        for r in rows
    ]


def _appeals(unit: OrgUnit, organisation: Organisation, month: date) -> AppealFigures:
    """Appeals lodged in the month about members of the subtree, by status and ruling."""
    begin, end = _month_bounds(organisation, month)
    by_status = {str(s): 0 for s in AppealStatus.values}
    by_ruling = {str(r): 0 for r in Ruling.values}
    for row in (
        Appeal.objects.filter(
            organisation=organisation,
            item__member__unit__path__startswith=unit.path,
            created_at__gte=begin,
            created_at__lt=end,
        )
        .values("status", "ruling")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        if row["ruling"]:
            by_ruling[row["ruling"]] = by_ruling.get(row["ruling"], 0) + row["n"]
    return AppealFigures(by_status, by_ruling)


def dashboard_for(*, scope: DashboardScope, month: date) -> Dashboard:
    """Every figure of the dashboard for ``scope``'s subtree and ``month``: ten queries,
    whatever the number of members, entries, tasks or appeals."""
    month = month_start(month)
    unit, organisation = scope.unit, scope.organisation
    members = _members(unit)
    scored = _with_month_total(members, month)
    counts = [
        (int(row["total"]), row["n"])
        for row in scored.values("total").annotate(n=Count("pk")).order_by()
    ]
    listed = ("pk", "name", "employee_no", "unit__name", "total")
    top = _member_totals(scored.order_by("-total", "name", "pk").values(*listed)[:TOP])
    bottom = _member_totals(scored.order_by("total", "name", "pk").values(*listed)[:TOP])
    return Dashboard(
        scope=scope,
        month=month,
        members=sum(n for _t, n in counts),
        total=sum(t * n for t, n in counts),
        distribution=distribution_bins(counts),
        top=top,
        bottom=bottom,
        units=_unit_figures(unit, scored),
        participation=_participation(members, organisation, month),
        reviewers=_reviewers(unit, organisation),
        appeals=_appeals(unit, organisation, month),
    )


# --- charts --------------------------------------------------------------------------------


def dashboard_charts(dashboard: Dashboard, labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Chart specifications for ``flows/charts.js``, passed with ``json_script``. ``labels``
    holds the translated words (members, total, average, declared, redeemed, pending,
    oldest, and each appeal status and ruling)."""
    units = dashboard.units
    reviewers = dashboard.reviewers
    participation = dashboard.participation
    outcomes = {**dashboard.appeals.by_status}
    outcomes.pop(AppealStatus.RULED, None)
    outcomes.update(dashboard.appeals.by_ruling)
    return {
        "distribution": {
            "type": "bar",
            "data": {
                "labels": [b.label for b in dashboard.distribution],
                "datasets": [
                    {
                        "label": labels["members"],
                        "data": [b.members for b in dashboard.distribution],
                    }
                ],
            },
            "options": {"plugins": {"legend": {"display": False}}},
        },
        "units": {
            "type": "bar",
            "data": {
                "labels": [u.name for u in units],
                "datasets": [
                    {"label": labels["total"], "data": [u.total for u in units], "yAxisID": "y"},
                    {
                        "label": labels["average"],
                        "data": [u.average for u in units],
                        "type": "line",
                        "yAxisID": "y1",
                    },
                ],
            },
            "options": {
                "scales": {
                    "y": {"position": "left"},
                    "y1": {"position": "right", "grid": {"drawOnChartArea": False}},
                }
            },
        },
        "participation": {
            "type": "bar",
            "data": {
                "labels": [labels["declared"], labels["redeemed"]],
                "datasets": [
                    {
                        "label": "%",
                        "data": [participation.declared_rate, participation.redeemed_rate],
                        "colourEach": True,
                    }
                ],
            },
            "options": {
                "indexAxis": "y",
                "scales": {"x": {"min": 0, "max": 100}},
                "plugins": {"legend": {"display": False}},
            },
        },
        "reviewers": {
            "type": "bar",
            "data": {
                "labels": [r.name for r in reviewers],
                "datasets": [
                    {"label": labels["oldest"], "data": [r.oldest_days for r in reviewers]},
                    {"label": labels["pending"], "data": [r.pending for r in reviewers]},
                ],
            },
            "options": {"indexAxis": "y"},
        },
        "appeals": {
            "type": "doughnut",
            "data": {
                "labels": [labels.get(key, key) for key in outcomes],
                "datasets": [{"label": labels["appeals"], "data": list(outcomes.values())}],
            },
        },
    }
