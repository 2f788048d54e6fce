"""The ledger export page for HR: filter the organisation's entries (member, unit, period,
kind, rule), see how many match and the first of them, and download them as CSV or XLSX."""

from __future__ import annotations

from datetime import date
from typing import Any

import django_filters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from points.exports import (
    CSV_CONTENT_TYPE,
    LEDGER_WIDTHS,
    XLSX_CONTENT_TYPE,
    XLSX_MAX_ROWS,
    csv_stream,
    ledger_columns,
    ledger_export_queryset,
    ledger_export_rows,
    xlsx_bytes,
)
from points.models import EntryKind, LedgerEntry, Organisation, OrgUnit, PeriodKind, RuleItem
from points.periods import TOTAL_KINDS, organisation_today, period_end, period_start
from points.roles import Role
from points.selectors.org import member_for_user, user_roles
from points.widgets import IsoDateInput

PREVIEW_ROWS = 50
PHONE_COLUMNS = (1, 4, 8, 10)  # of ``ledger_columns()``


class LedgerExportFilter(django_filters.FilterSet):
    """Filters of the ledger export, inside one organisation."""

    member = django_filters.CharFilter(
        label=gettext_lazy("employee number"), field_name="member__employee_no", lookup_expr="exact"
    )
    unit = django_filters.ModelChoiceFilter(
        label=gettext_lazy("unit"), queryset=OrgUnit.objects.none(), method="in_subtree"
    )
    period = django_filters.ChoiceFilter(
        label=gettext_lazy("period"),
        choices=[(str(k), PeriodKind(k).label) for k in TOTAL_KINDS],
        method="in_period",
    )
    on = django_filters.DateFilter(
        label=gettext_lazy("a day in the period"),
        method="noop",
        widget=IsoDateInput,
    )
    kind = django_filters.ChoiceFilter(label=gettext_lazy("kind"), choices=EntryKind.choices)
    rule = django_filters.ModelChoiceFilter(
        label=gettext_lazy("rule item"), queryset=RuleItem.objects.none(), field_name="rule_item"
    )

    class Meta:
        model = LedgerEntry
        fields = ["member", "unit", "period", "on", "kind", "rule"]

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation
        unit_field = self.filters["unit"]
        rule_field = self.filters["rule"]
        unit_field.queryset = OrgUnit.objects.filter(organisation=organisation).order_by("path")
        rule_field.queryset = RuleItem.objects.filter(organisation=organisation).order_by("code")

    def in_subtree(self, queryset: QuerySet[Any], name: str, value: OrgUnit) -> QuerySet[Any]:
        return queryset.filter(member__unit__path__startswith=value.path)

    def in_period(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        day: date = self.form.cleaned_data.get("on") or organisation_today(self.organisation)
        start = period_start(value, day)
        return queryset.filter(booked_on__range=(start, period_end(value, start)))

    def noop(self, queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
        return queryset  # read by ``in_period``


def _hr_organisation(request: HttpRequest) -> Organisation:
    member = member_for_user(user=request.user)
    if member is None or Role.HR not in user_roles(user=request.user):
        raise PermissionDenied
    return member.organisation


def _download(filename: str, response: HttpResponse | StreamingHttpResponse) -> Any:
    disposition = content_disposition_header(True, filename)
    assert disposition is not None
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _bad_request(message: str) -> HttpResponse:
    response = HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def ledger_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """HR's ledger export: the page, or with ``format=csv|xlsx`` the file."""
    organisation = _hr_organisation(request)
    entries = ledger_export_queryset(organisation=organisation)
    filterset = LedgerExportFilter(request.GET or None, queryset=entries, organisation=organisation)
    fmt = request.GET.get("format")
    if fmt not in (None, "", "csv", "xlsx"):
        return _bad_request(_("The format must be one of %(allowed)s.") % {"allowed": "csv, xlsx"})
    valid = filterset.is_valid() if request.GET else True
    if fmt and not valid:
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items())
        return _bad_request(errors)
    selected = filterset.qs if request.GET and valid else entries
    stamp = f"{organisation.code}-{organisation_today(organisation):%Y%m%d}"
    if fmt == "csv":
        rows = ledger_export_rows(selected, organisation=organisation)
        return _download(
            f"ledger-{stamp}.csv",
            StreamingHttpResponse(
                csv_stream(ledger_columns(), rows), content_type=CSV_CONTENT_TYPE
            ),
        )
    if fmt == "xlsx":
        if selected.count() > XLSX_MAX_ROWS:
            return _bad_request(
                _("More than %(max)s entries match: narrow the filter or download CSV.")
                % {"max": XLSX_MAX_ROWS}
            )
        content = xlsx_bytes(
            ledger_columns(),
            ledger_export_rows(selected, organisation=organisation),
            title="ledger",
            widths=LEDGER_WIDTHS,
        )
        return _download(
            f"ledger-{stamp}.xlsx", HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
        )
    query = request.GET.copy()
    query.pop("format", None)
    return render(
        request,
        "points/ledger_export.html",
        {
            "filter": filterset,
            "count": selected.count(),
            "columns": ledger_columns(),
            # each cell with its column's title: a phone shows a row as labelled lines
            "preview": [
                list(zip(ledger_columns(), row, strict=True))
                for row in ledger_export_rows(selected[:PREVIEW_ROWS], organisation=organisation)
            ],
            # the columns a phone shows of each entry (booked on, member, rule, points):
            # sixteen labelled lines an entry made fifty entries twenty-seven screens
            "phone_columns": PHONE_COLUMNS,
            "query": query.urlencode(),
        },
    )
