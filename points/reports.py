"""Reports of the points module: a member's statement as PDF (its entries also as CSV and
XLSX), the ranking as PDF, XLSX and CSV.

A member downloads their own statement; HR any member's of their organisation. HR and the
committee download rankings of their organisation. Everything a user typed reaches the
documents through Django templates (escaped) or as typed string cells (never formulas).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from points.exports import CSV_CONTENT_TYPE, csv_bytes, xlsx_bytes
from points.ids import id_from
from points.models import LedgerEntry, Member, MemberKind, Organisation, OrgUnit, PeriodKind
from points.pdf import html_in_parts, pdf_from_parts, render_pdf
from points.periods import TOTAL_KINDS, organisation_today, period_end, period_start
from points.roles import Role
from points.selectors.ledger import (
    ALL_TIME,
    RankGroup,
    RankRow,
    grades_forced_distribution,
    member_period_entries,
    member_statement,
    ranking_for_period,
)
from points.selectors.org import member_for_user, user_roles

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Who may download rankings of their organisation.
RANKING_ROLES = frozenset({Role.HR, Role.COMMITTEE})


class InvalidParameter(ValueError):
    """A query parameter the report cannot use; its message is shown to the user (400)."""


# --- parameters ---------------------------------------------------------------------------


def _period_kind(request: HttpRequest, *, allow_all: bool = False) -> str:
    kind = request.GET.get("kind") or PeriodKind.MONTH.value
    allowed = [str(k) for k in TOTAL_KINDS] + ([ALL_TIME] if allow_all else [])
    if kind not in allowed:
        raise InvalidParameter(
            _("Unknown period kind “%(kind)s”: choose one of %(allowed)s.")
            % {"kind": kind[:20], "allowed": ", ".join(allowed)}
        )
    return kind


def _period_day(request: HttpRequest, organisation: Organisation, kind: str) -> date:
    """The ``on`` parameter (a date inside the period), today in the organisation by default;
    checked so that the whole period is a valid range of dates."""
    text = (request.GET.get("on") or "").strip()
    if not text:
        return organisation_today(organisation)
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
        if kind != ALL_TIME:
            period_end(kind, period_start(kind, day))
    except (ValueError, OverflowError) as error:
        raise InvalidParameter(
            _("“%(value)s” is not a date like 2026-11-20.") % {"value": text[:20]}
        ) from error
    return day


def period_label(kind: str, start: date) -> str:
    """A short name of the period for file names: 2026-W47, 2026-11, 2026-Q4, 2026, all."""
    if kind == ALL_TIME:
        return "all"
    if kind == PeriodKind.WEEK:
        year, week, _weekday = start.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == PeriodKind.MONTH:
        return f"{start:%Y-%m}"
    if kind == PeriodKind.QUARTER:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}"


def _now_in(organisation: Organisation) -> datetime:
    return timezone.now().astimezone(ZoneInfo(organisation.timezone))


def _attachment(content: bytes, *, filename: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    disposition = content_disposition_header(True, filename)
    assert disposition is not None
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _bad_request(error: InvalidParameter) -> HttpResponse:
    response = HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- statement ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    entry: LedgerEntry
    approver: str


def statement_member(request: HttpRequest, member_id: int | None) -> Member:
    """The member whose statement is asked for: one's own, or, for HR, any member of their
    organisation. Anything else is 404, so the existence of other members does not show."""
    viewer = member_for_user(user=request.user)
    if viewer is None:
        raise Http404
    if member_id is None or member_id == viewer.pk:
        return viewer
    if Role.HR not in user_roles(user=request.user):
        raise Http404
    return get_object_or_404(
        Member.objects.select_related("organisation", "unit"),
        pk=member_id,
        organisation_id=viewer.organisation_id,
    )


def _statement_lines(entries: list[LedgerEntry], organisation: Organisation) -> list[StatementLine]:
    """Each entry with its approver's member name (one query for all of them)."""
    user_ids = {entry.approved_by_id for entry in entries if entry.approved_by_id}
    names = dict(
        Member.objects.filter(
            organisation=organisation, user_id__in=user_ids, kind=MemberKind.PERSON
        )
        .order_by("user_id", "pk")
        .values_list("user_id", "name")
    )
    lines = []
    for entry in entries:
        approver = ""
        if entry.approved_by is not None:
            approver = names.get(entry.approved_by.pk) or entry.approved_by.get_username()
        lines.append(StatementLine(entry, approver))
    return lines


def statement_context(*, member: Member, kind: str, on: date) -> dict[str, Any]:
    """What the statement document shows: header, totals, ranks and the period's entries."""
    organisation = member.organisation
    statement = member_statement(member=member, kind=kind, on=on, limit=0)
    statement.period_entries = member_period_entries(member=member, kind=kind, on=on)
    account = statement.account
    return {
        "organisation": organisation,
        "member": member,
        "statement": statement,
        "kind_label": PeriodKind(kind).label,
        "period_start": statement.period_start,
        "period_end": period_end(kind, statement.period_start),
        "generated_at": _now_in(organisation),
        "period_total": statement.totals[kind],
        "lifetime_total": account.lifetime_total if account else 0,
        "redeemable": account.redeemable if account else 0,
        "lines": _statement_lines(statement.period_entries, organisation),
    }


def _format(request: HttpRequest, allowed: tuple[str, ...]) -> str:
    fmt = request.GET.get("format") or allowed[0]
    if fmt not in allowed:
        raise InvalidParameter(
            _("The format must be one of %(allowed)s.") % {"allowed": ", ".join(allowed)}
        )
    return fmt


def statement_columns() -> list[str]:
    return [
        _("date of the event"),
        _("booked on"),
        _("kind"),
        _("code"),
        _("rule item"),
        _("points"),
        _("approved by"),
        _("note"),
    ]


def statement_rows(lines: list[StatementLine]) -> list[list[Any]]:
    return [
        [
            line.entry.effective_date,
            line.entry.booked_on,
            line.entry.get_kind_display(),
            line.entry.rule_item.code if line.entry.rule_item else "",
            line.entry.rule_item.name if line.entry.rule_item else "",
            line.entry.amount,
            line.approver,
            line.entry.note,
        ]
        for line in lines
    ]


@require_GET
def statement_pdf(request: HttpRequest, member_id: int | None = None) -> HttpResponse:
    """The member's points statement for a week, month, quarter or year, as PDF; its
    entries as CSV or XLSX (``format=csv`` / ``format=xlsx``)."""
    member = statement_member(request, member_id)
    try:
        kind = _period_kind(request)
        day = _period_day(request, member.organisation, kind)
        fmt = _format(request, ("pdf", "csv", "xlsx"))
    except InvalidParameter as error:
        return _bad_request(error)
    context = statement_context(member=member, kind=kind, on=day)
    if fmt != "pdf":
        label = period_label(kind, context["period_start"])
        rows = statement_rows(context["lines"])
        name = f"statement-{member.employee_no}-{label}.{fmt}"
        if fmt == "csv":
            return _attachment(
                csv_bytes(statement_columns(), rows), filename=name, content_type=CSV_CONTENT_TYPE
            )
        content = xlsx_bytes(
            statement_columns(), rows, title="statement", widths=(12, 12, 12, 10, 24, 8, 12, 40)
        )
        return _attachment(content, filename=name, content_type=XLSX_CONTENT_TYPE)
    pdf = render_pdf(template="points/pdf/statement.html", context=context)
    label = period_label(kind, context["period_start"])
    return _attachment(
        pdf, filename=f"statement-{member.employee_no}-{label}.pdf", content_type="application/pdf"
    )


@require_GET
def statement_form(request: HttpRequest) -> HttpResponse:
    """A page to pick the period of one's statement and download it."""
    member = member_for_user(user=request.user)
    today = organisation_today(member.organisation) if member else timezone.localdate()
    return render(
        request,
        "points/statement.html",
        {
            "member": member,
            "kinds": [(str(value), label) for value, label in PeriodKind.choices],
            "default_kind": str(PeriodKind.MONTH),
            "today": today,
        },
    )


# --- ranking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingReport:
    organisation: Organisation
    kind: str
    start: date | None
    end: date | None
    unit: OrgUnit | None
    group: str | None
    rows: list[RankRow]
    grades: dict[int, str]

    @property
    def graded_rows(self) -> list[tuple[RankRow, str]]:
        return [(row, self.grades.get(row.member_id, "")) for row in self.rows]

    @property
    def scope(self) -> str:
        scope = self.unit.name if self.unit is not None else self.organisation.name
        if self.group == RankGroup.LEADERS:
            return _("%(scope)s, leaders") % {"scope": scope}
        if self.group == RankGroup.MEMBERS:
            return _("%(scope)s, members") % {"scope": scope}
        return scope

    @property
    def period(self) -> str:
        if self.start is None or self.end is None:
            return _("all time")
        return f"{PeriodKind(self.kind).label} {self.start:%Y-%m-%d} – {self.end:%Y-%m-%d}"

    def filename(self, extension: str) -> str:
        label = period_label(self.kind, self.start) if self.start else "all"
        return f"ranking-{self.kind}-{label}.{extension}"


def _ranking_unit(request: HttpRequest, organisation: Organisation) -> OrgUnit | None:
    text = (request.GET.get("unit") or "").strip()
    if not text:
        return None
    pk = id_from(text)
    if pk is None:
        raise InvalidParameter(_("The unit must be given by its number."))
    unit: OrgUnit = get_object_or_404(OrgUnit, pk=pk, organisation=organisation)
    return unit


def _ranking_group(request: HttpRequest) -> str | None:
    group = request.GET.get("group") or None
    if group not in (None, RankGroup.LEADERS, RankGroup.MEMBERS):
        raise InvalidParameter(_("The group must be leaders or members."))
    return group


def _ranking_format(request: HttpRequest) -> str:
    fmt = request.GET.get("format") or "pdf"
    if fmt not in ("pdf", "xlsx", "csv"):
        raise InvalidParameter(
            _("The format must be one of %(allowed)s.") % {"allowed": "pdf, xlsx, csv"}
        )
    return fmt


def ranking_columns() -> list[str]:
    return [_("rank"), _("name"), _("employee number"), _("unit"), _("total"), _("grade")]


def ranking_xlsx(report: RankingReport) -> bytes:
    """One sheet: the header row, then a row per member; numbers as numbers, every text
    cell typed as a string so that nothing a user typed is ever read as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "ranking"

    def text(row: int, column: int, value: str) -> None:
        cell = sheet.cell(row=row, column=column)
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"

    for column, title in enumerate(ranking_columns(), 1):
        text(1, column, title)
    for number, (row, grade) in enumerate(report.graded_rows, 2):
        sheet.cell(row=number, column=1, value=row.rank)
        text(number, 2, row.name)
        text(number, 3, row.employee_no)
        text(number, 4, row.unit_name)
        sheet.cell(row=number, column=5, value=row.total)
        text(number, 6, grade)
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEF", (8, 20, 16, 24, 10, 8), strict=True):
        sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@require_GET
def ranking(request: HttpRequest) -> HttpResponse:
    """The ranking of a period (or all time) in the organisation or a unit's subtree, with
    grades, as PDF, XLSX or CSV. HR and the committee only."""
    viewer = member_for_user(user=request.user)
    if viewer is None or not user_roles(user=request.user) & RANKING_ROLES:
        raise PermissionDenied
    organisation = viewer.organisation
    try:
        kind = _period_kind(request, allow_all=True)
        day = _period_day(request, organisation, kind)
        fmt = _ranking_format(request)
        group = _ranking_group(request)
        unit = _ranking_unit(request, organisation)
    except InvalidParameter as error:
        return _bad_request(error)
    start = None if kind == ALL_TIME else period_start(kind, day)
    rows = ranking_for_period(
        organisation=organisation, kind=kind, start=start, unit=unit, group=group, top=None
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
    if fmt == "xlsx":
        return _attachment(
            ranking_xlsx(report), filename=report.filename("xlsx"), content_type=XLSX_CONTENT_TYPE
        )
    if fmt == "csv":
        lines = [
            [row.rank, row.name, row.employee_no, row.unit_name, row.total, grade]
            for row, grade in report.graded_rows
        ]
        return _attachment(
            csv_bytes(ranking_columns(), lines),
            filename=report.filename("csv"),
            content_type=CSV_CONTENT_TYPE,
        )
    return _attachment(
        ranking_pdf(report, generated_at=_now_in(organisation)),
        filename=report.filename("pdf"),
        content_type="application/pdf",
    )


#: The ranking's paper.
RANKING_PAGE = "size: A4; margin: 18mm 15mm 20mm"
#: From twice this many members on, the ranking is laid out in parts side by side: a
#: 5,000-member factory's ranking is over a hundred pages of one core's layout work.
RANKING_ROWS_PER_PART = 250


def ranking_pdf(report: RankingReport, *, generated_at: Any) -> bytes:
    """The ranking as PDF; a long one laid out in parts (``pdf_from_parts``)."""
    htmls = html_in_parts(
        template="points/pdf/ranking.html",
        context={
            "report": report,
            "columns": ranking_columns(),
            "generated_at": generated_at,
            "page_rule": RANKING_PAGE,
        },
        rows_name="graded_rows",
        rows=report.graded_rows,
        min_rows=RANKING_ROWS_PER_PART,
    )
    return pdf_from_parts(htmls, page_rule=RANKING_PAGE)
