"""The ledger through the API (read only): entries, a member's statement, rankings and the
caller's account.

Who sees what is the web's rule (``points.reports`` and ``points.exports_views``): everyone
sees their own entries and statement; HR sees every member's of their organisation (the web
ledger export and statements); HR and the committee see rankings (``RANKING_ROLES``).
Another member's statement the caller may not see is 404, as on the web, so that the
existence of members does not show. The figures come from the ledger selectors
(``member_statement``, ``ranking_for_period``), never from summing entries here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, cast

import django_filters
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from flows.api.catalog import caller
from points.exports_views import LedgerExportFilter
from points.models import (
    LedgerEntry,
    Member,
    MemberKind,
    Organisation,
    OrgUnit,
    PeriodKind,
)
from points.periods import TOTAL_KINDS, organisation_today, period_end, period_start
from points.reports import (
    RANKING_ROLES,
    RankingReport,
    statement_context,
    statement_member,
)
from points.roles import Role
from points.selectors.ledger import (
    ALL_TIME,
    RankGroup,
    grades_forced_distribution,
    member_statement,
    ranking_for_period,
)
from points.selectors.org import user_roles

#: The largest id a query parameter may name (a 64-bit primary key).
MAX_ID = 2**63 - 1
STATEMENT_KINDS = [str(kind) for kind in TOTAL_KINDS]
RANKING_KINDS = [*STATEMENT_KINDS, ALL_TIME]


def _sees_organisation(request: Request) -> bool:
    """HR sees every member's entries of their organisation (the web ledger export)."""
    return Role.HR in user_roles(user=request.user)


def _check_period(kind: str | None, day: date | None) -> bool:
    """Whether the whole period of ``kind`` holding ``day`` is a valid range of dates (as
    the web reports check ``on``)."""
    if not kind or kind == ALL_TIME or day is None:
        return True
    try:
        period_end(kind, period_start(kind, day))
    except (ValueError, OverflowError):
        return False
    return True


def _out_of_range() -> serializers.ValidationError:
    return serializers.ValidationError(
        {
            "on": [
                serializers.ErrorDetail(
                    _("The period of this date is out of range."), code="out_of_range"
                )
            ]
        }
    )


def approver_names(entries: Iterable[LedgerEntry], organisation: Organisation) -> dict[int, str]:
    """User id → the approver's member name in the organisation (the login name for a user
    who is not a member), as the statement and the ledger export show them: one query."""
    users = {e.approved_by_id: e.approved_by for e in entries if e.approved_by_id}
    names = dict(
        Member.objects.filter(
            organisation=organisation, user_id__in=list(users), kind=MemberKind.PERSON
        )
        .order_by("user_id", "pk")  # as the statement: a user's last member wins
        .values_list("user_id", "name")
    )
    return {
        pk: names.get(pk) or (user.get_username() if user is not None else "")
        for pk, user in users.items()
    }


# --- entries -------------------------------------------------------------------------------


class LedgerEntrySerializer(serializers.ModelSerializer[LedgerEntry]):
    """An entry, with its member, rule, source and approver."""

    member_name = serializers.CharField(source="member.name", read_only=True)
    employee_no = serializers.CharField(source="member.employee_no", read_only=True)
    unit = serializers.IntegerField(source="member.unit_id", read_only=True)
    unit_name = serializers.CharField(source="member.unit.name", read_only=True)

    rule_code = serializers.CharField(source="rule_item.code", read_only=True, allow_null=True)
    rule_name = serializers.CharField(source="rule_item.name", read_only=True, allow_null=True)
    period = serializers.SerializerMethodField(help_text="The month the entry counts in.")
    source_type = serializers.SerializerMethodField(
        help_text="What the entry came from (``app_label.model``), null for none."
    )
    approved_by_name = serializers.SerializerMethodField()

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "member",
            "member_name",
            "employee_no",
            "unit",
            "unit_name",
            "amount",
            "redeemable_delta",
            "kind",
            "rule_item",
            "rule_code",
            "rule_name",
            "quantity",
            "effective_date",
            "booked_on",
            "period",
            "corrects_month",
            "source_type",
            "source_id",
            "approved_by",
            "approved_by_name",
            "approved_at",
            "note",
            "created_at",
            "reverses",
        ]
        read_only_fields = fields

    def get_period(self, entry: LedgerEntry) -> str:
        return f"{entry.booked_on:%Y-%m}"

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_source_type(self, entry: LedgerEntry) -> str | None:
        if entry.source_type_id is None:
            return None
        content_type = ContentType.objects.get_for_id(entry.source_type_id)  # cached
        return f"{content_type.app_label}.{content_type.model}"

    def get_approved_by_name(self, entry: LedgerEntry) -> str:
        names: dict[int, str] = self.context.get("approvers", {})
        return names.get(entry.approved_by_id or 0, "")


class LedgerEntryFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        begin, end = cleaned.get("date_from"), cleaned.get("date_to")
        if begin and end and begin > end:
            self.add_error(
                "date_to",
                forms.ValidationError(
                    _("The first date must not be after the last date."), code="date_order"
                ),
            )
        if not _check_period(cleaned.get("period"), cleaned.get("on")):
            self.add_error(
                "on",
                forms.ValidationError(
                    _("The period of this date is out of range."), code="out_of_range"
                ),
            )
        return cleaned


class LedgerEntryFilter(LedgerExportFilter):
    """The web ledger export's filters (unit, period and a day in it, kind, rule), with the
    member by id (``employee_no`` by number) and a range of booking dates."""

    member = django_filters.ModelChoiceFilter(
        label=gettext_lazy("member"), queryset=Member.objects.all(), field_name="member"
    )
    employee_no = django_filters.CharFilter(
        label=gettext_lazy("employee number"), field_name="member__employee_no"
    )
    # As the export's, typed for the schema (their methods' hints are not basic types).
    unit = extend_schema_field(OpenApiTypes.INT)(
        django_filters.ModelChoiceFilter(
            label=gettext_lazy("unit"), queryset=OrgUnit.objects.none(), method="in_subtree"
        )
    )
    on = extend_schema_field(OpenApiTypes.DATE)(
        django_filters.DateFilter(label=gettext_lazy("a day in the period"), method="noop")
    )
    date_from = django_filters.DateFilter(
        label=gettext_lazy("from"), field_name="booked_on", lookup_expr="gte"
    )
    date_to = django_filters.DateFilter(
        label=gettext_lazy("to"), field_name="booked_on", lookup_expr="lte"
    )

    class Meta(LedgerExportFilter.Meta):
        fields = [
            *("member", "employee_no", "unit", "kind", "rule"),
            *("period", "on", "date_from", "date_to"),
        ]
        form = LedgerEntryFilterForm

    def __init__(
        self,
        data: Any = None,
        queryset: Any = None,
        *,
        request: Any = None,
        prefix: str | None = None,
    ) -> None:
        organisation = caller(request).organisation
        super().__init__(data, queryset, request=request, prefix=prefix, organisation=organisation)
        member_field: Any = self.filters["member"]
        member_field.queryset = Member.objects.filter(organisation=organisation)


class LedgerEntryViewSet(viewsets.ReadOnlyModelViewSet[LedgerEntry]):
    """Ledger entries, newest first: your own; HR sees every member's of the organisation
    (as the web ledger export). ``period`` with ``on`` picks the week, month, quarter or year
    holding that day (today by default); ``date_from``/``date_to`` bound the booking date."""

    serializer_class = LedgerEntrySerializer
    filterset_class = LedgerEntryFilter

    def get_queryset(self) -> QuerySet[LedgerEntry]:
        if getattr(self, "swagger_fake_view", False):
            return LedgerEntry.objects.none()
        member = caller(self.request)
        entries = LedgerEntry.objects.select_related(
            "member__unit", "rule_item", "approved_by"
        ).order_by("-booked_on", "-id")
        if _sees_organisation(self.request):
            return entries.filter(organisation_id=member.organisation_id)
        return entries.filter(member=member)

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        if args and not getattr(self, "swagger_fake_view", False):
            shown = args[0] if isinstance(args[0], list) else [args[0]]
            kwargs.setdefault("context", self.get_serializer_context())
            kwargs["context"]["approvers"] = approver_names(
                shown, caller(self.request).organisation
            )
        return super().get_serializer(*args, **kwargs)


# --- statements ----------------------------------------------------------------------------


class StatementQuerySerializer(serializers.Serializer[Any]):
    member = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="The member (yourself by default; HR: any member of the organisation).",
    )
    period = serializers.ChoiceField(
        choices=STATEMENT_KINDS, default=str(PeriodKind.MONTH), help_text="The kind of period."
    )
    on = serializers.DateField(
        required=False, help_text="A day in the period (today in the organisation by default)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not _check_period(attrs.get("period"), attrs.get("on")):
            raise _out_of_range()
        return attrs


class PeriodTotalsSerializer(serializers.Serializer[Any]):
    week = serializers.IntegerField()
    month = serializers.IntegerField()
    quarter = serializers.IntegerField()
    year = serializers.IntegerField()


class StatementMemberSerializer(serializers.ModelSerializer[Member]):
    unit_name = serializers.CharField(source="unit.name", read_only=True)

    class Meta:
        model = Member
        fields = ["id", "employee_no", "name", "unit", "unit_name"]
        read_only_fields = fields


class StatementSerializer(serializers.Serializer[Any]):
    member = StatementMemberSerializer()
    period = serializers.ChoiceField(choices=STATEMENT_KINDS)
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    period_total = serializers.IntegerField(help_text="The member's total of this period.")
    totals = PeriodTotalsSerializer(help_text="The totals of the periods holding ``on``.")
    lifetime_total = serializers.IntegerField()
    redeemable = serializers.IntegerField()
    rank_in_unit = serializers.IntegerField()
    rank_in_organisation = serializers.IntegerField()
    vetoed = serializers.BooleanField(help_text="A standing veto falls inside the period.")
    entries = LedgerEntrySerializer(many=True, help_text="The entries booked in the period.")


class StatementView(APIView):
    """A member's points statement for a week, month, quarter or year, as the web statement
    report: totals, ranks in the unit and the organisation, and the period's entries, oldest
    first. Your own; HR any member's of the organisation; any other member is 404."""

    @extend_schema(parameters=[StatementQuerySerializer], responses={200: StatementSerializer})
    def get(self, request: Request) -> Response:
        caller(request)
        query = StatementQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        # The web's rule, shared: the statement report's own check (404 for others).
        member = statement_member(cast(HttpRequest, request), params.get("member"))
        kind = params["period"]
        day = params.get("on") or organisation_today(member.organisation)
        context = statement_context(member=member, kind=kind, on=day)
        statement = context["statement"]
        lines = context["lines"]
        for line in lines:
            line.entry.member = member  # the statement's own member: no query per entry
        data = {
            "member": member,
            "period": kind,
            "period_start": context["period_start"],
            "period_end": context["period_end"],
            "period_total": context["period_total"],
            "totals": statement.totals,
            "lifetime_total": context["lifetime_total"],
            "redeemable": context["redeemable"],
            "rank_in_unit": statement.rank_in_unit,
            "rank_in_organisation": statement.rank_in_organisation,
            "vetoed": statement.vetoed,
            "entries": [line.entry for line in lines],
        }
        approvers = {line.entry.approved_by_id: line.approver for line in lines}
        return Response(
            StatementSerializer(data, context={"request": request, "approvers": approvers}).data
        )


# --- rankings ------------------------------------------------------------------------------


class RankingQuerySerializer(serializers.Serializer[Any]):
    period = serializers.ChoiceField(
        choices=RANKING_KINDS,
        default=str(PeriodKind.MONTH),
        help_text="The kind of period, or ``all`` for all time.",
    )
    on = serializers.DateField(
        required=False, help_text="A day in the period (today in the organisation by default)."
    )
    scope = serializers.PrimaryKeyRelatedField(
        queryset=OrgUnit.objects.all(),
        required=False,
        help_text="A unit of your organisation: rank its subtree (the organisation by default).",
    )
    group = serializers.ChoiceField(
        choices=[RankGroup.LEADERS, RankGroup.MEMBERS],
        required=False,
        help_text="Only leaders, or only members who lead no unit.",
    )
    top = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=100_000,
        help_text="Only the first N places; everyone tied with the last place is included.",
    )

    def __init__(self, *args: Any, organisation: Organisation | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        scope: Any = self.fields["scope"]
        scope.queryset = OrgUnit.objects.filter(organisation=organisation)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not _check_period(attrs.get("period"), attrs.get("on")):
            raise _out_of_range()
        return attrs


class RankRowSerializer(serializers.Serializer[Any]):
    rank = serializers.IntegerField(help_text="Ties share a rank (1, 1, 3).")
    member = serializers.IntegerField()
    name = serializers.CharField()
    employee_no = serializers.CharField()
    unit_name = serializers.CharField()
    total = serializers.IntegerField()
    grade = serializers.CharField(help_text="A–E or the policy's band; empty for none.")


class RankingSerializer(serializers.Serializer[Any]):
    period = serializers.ChoiceField(choices=RANKING_KINDS)
    period_start = serializers.DateField(allow_null=True, help_text="Null for all time.")
    period_end = serializers.DateField(allow_null=True, help_text="Null for all time.")
    scope = serializers.IntegerField(allow_null=True, help_text="The unit; null for all.")
    scope_name = serializers.CharField()
    group = serializers.ChoiceField(choices=[RankGroup.LEADERS, RankGroup.MEMBERS], allow_null=True)
    rows = RankRowSerializer(many=True)


class RankingView(APIView):
    """The ranking of a period (or all time) in the organisation or a unit's subtree, with
    grades, as the web ranking report: HR and the committee only. Ties share a rank; grades
    are those of the whole group, also when ``top`` shows only its first places."""

    @extend_schema(parameters=[RankingQuerySerializer], responses={200: RankingSerializer})
    def get(self, request: Request) -> Response:
        viewer = caller(request)
        if not user_roles(user=request.user) & RANKING_ROLES:
            raise PermissionDenied(_("Only HR and the committee see rankings."))
        organisation = viewer.organisation
        query = RankingQuerySerializer(data=request.query_params, organisation=organisation)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        kind: str = params["period"]
        unit: OrgUnit | None = params.get("scope")
        group: str | None = params.get("group")
        top: int | None = params.get("top")
        day = params.get("on") or organisation_today(organisation)
        start = None if kind == ALL_TIME else period_start(kind, day)
        rows = ranking_for_period(
            organisation=organisation, kind=kind, start=start, unit=unit, group=group
        )
        report = RankingReport(
            organisation=organisation,
            kind=kind,
            start=start,
            end=period_end(kind, start) if start else None,
            unit=unit,
            group=group,
            rows=rows,
            grades=grades_forced_distribution(rows, organisation.policy),
        )
        data = {
            "period": kind,
            "period_start": report.start,
            "period_end": report.end,
            "scope": unit.pk if unit else None,
            "scope_name": report.scope,
            "group": group,
            "rows": [
                {
                    "rank": row.rank,
                    "member": row.member_id,
                    "name": row.name,
                    "employee_no": row.employee_no,
                    "unit_name": row.unit_name,
                    "total": row.total,
                    "grade": grade,
                }
                for row, grade in report.graded_rows
                # ``ranking_for_period(top=N)``'s cut: ranks are positions of the first of a
                # tie, so everyone tied with place N has a rank of at most N.
                if top is None or row.rank <= top
            ],
        }
        return Response(RankingSerializer(data).data)


# --- the caller's account ------------------------------------------------------------------


class AccountSerializer(serializers.Serializer[Any]):
    member = serializers.IntegerField()
    on = serializers.DateField(help_text="Today in the organisation.")
    lifetime_total = serializers.IntegerField()
    redeemable = serializers.IntegerField(help_text="The balance that may be spent.")
    frozen = serializers.BooleanField()
    totals = PeriodTotalsSerializer(help_text="The totals of the periods holding today.")
    rank_in_unit = serializers.IntegerField(help_text="This month's.")
    rank_in_organisation = serializers.IntegerField(help_text="This month's.")
    vetoed = serializers.BooleanField(help_text="A standing veto falls in this month.")


class AccountView(APIView):
    """Your account: balance, lifetime total, this week's, month's, quarter's and year's
    totals, and this month's ranks (as "my points")."""

    @extend_schema(responses={200: AccountSerializer})
    def get(self, request: Request) -> Response:
        member = caller(request)
        day = organisation_today(member.organisation)
        statement = member_statement(member=member, kind=PeriodKind.MONTH, on=day, limit=0)
        account = statement.account
        data = {
            "member": member.pk,
            "on": day,
            "lifetime_total": account.lifetime_total if account else 0,
            "redeemable": account.redeemable if account else 0,
            "frozen": account.frozen if account else False,
            "totals": statement.totals,
            "rank_in_unit": statement.rank_in_unit,
            "rank_in_organisation": statement.rank_in_organisation,
            "vetoed": statement.vetoed,
        }
        return Response(AccountSerializer(data).data)


#: Extra paths under /api/v1/ that are not router viewsets.
urlpatterns: list[Any] = [
    path("statements/", StatementView.as_view(), name="statement"),
    path("rankings/", RankingView.as_view(), name="ranking"),
    path("accounts/me/", AccountView.as_view(), name="account-me"),
]


def register(router: Any) -> None:
    """Register this module's viewsets on the v1 router."""
    router.register("ledger", LedgerEntryViewSet, basename="ledger-entry")
