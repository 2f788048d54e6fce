"""The verdict on each row of a bulk import (``events_check``, ``attendance_check``).

Every check reads in bulk: a fixed number of queries (plus one catalog query per distinct
unit, and the form's date check once per distinct bad day), whatever the number of rows.
The same checks run at the preview and again inside the import's transaction.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, Sum
from django.utils.translation import gettext as _

from flows.forms import check_event_date
from flows.imports_read import Column
from flows.models import (
    DeclarationItem,
    DeclarationStatus,
    ImportKind,
    NoticeItem,
    NoticeStatus,
)
from points.models import (
    Attendance,
    EntryKind,
    LedgerEntry,
    Member,
    MemberStatus,
    Organisation,
    OrgUnit,
    Period,
    RuleItem,
)
from points.periods import month_start, organisation_today, period_end
from points.selectors.catalog import rule_items_for_unit

EVENT_COLUMNS = (
    Column("employee_no", ("工号", "员工编号", "employee number", "employee_no")),
    Column("date", ("日期", "事项发生日期", "date")),
    Column("rule_code", ("规则编码", "规则代码", "编码", "rule code", "rule_code")),
    Column("note", ("备注", "说明", "note"), required=False),
    Column("points", ("分值", "points"), required=False),
)
ATTENDANCE_COLUMNS = (
    Column("employee_no", ("工号", "员工编号", "employee number", "employee_no")),
    Column("month", ("月份", "月", "month")),
    Column("days_present", ("出勤天数", "days present", "days_present", "days")),
    Column("days_required", ("应出勤天数", "days required", "days_required"), required=False),
)
COLUMNS = {ImportKind.EVENTS: EVENT_COLUMNS, ImportKind.ATTENDANCE: ATTENDANCE_COLUMNS}

#: Rows per query when a list of values goes into ``IN (...)``.
CHUNK = 900
DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?$")
MONTH_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})月?(?:[-/.](\d{1,2})日?)?(?:[ T].*)?$")


# --- values -------------------------------------------------------------------------------


def _parse_date(text: str) -> date | None:
    match = DATE_RE.match(text.strip())
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _parse_month(text: str) -> date | None:
    match = MONTH_RE.match(text.strip())
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        return None


def _parse_int(text: str) -> int | None:
    text = text.strip()
    if re.fullmatch(r"[-+]?\d+(\.0+)?", text):
        return int(float(text))
    return None


def weekdays_in_month(month: date) -> int:
    """Monday to Friday in the month: the days required when the file does not say."""
    days = calendar.monthrange(month.year, month.month)[1]
    return sum(1 for day in range(1, days + 1) if date(month.year, month.month, day).weekday() < 5)


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    values = sorted(values)
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _members_by_number(organisation: Organisation, numbers: set[str]) -> dict[str, Member]:
    found: dict[str, Member] = {}
    for chunk in _chunks(numbers):
        for member in Member.objects.filter(
            organisation=organisation, employee_no__in=chunk
        ).select_related("unit", "user"):
            found[member.employee_no] = member
    return found


# --- verdicts -----------------------------------------------------------------------------


@dataclass
class EventRow:
    line: int
    values: dict[str, str]
    member: Member | None = None
    rule: RuleItem | None = None
    day: date | None = None
    points: int | None = None  # per unit, a magnitude
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons

    @property
    def amount(self) -> int:
        assert self.rule is not None and self.points is not None
        return self.rule.sign * self.points

    def as_json(self) -> dict[str, Any]:
        return {
            **self.values,
            "line": self.line,
            "member": self.member.name if self.member else "",
            "unit": self.member.unit.name if self.member else "",
            "rule": self.rule.name if self.rule else "",
            "amount": self.amount if self.rule and self.points is not None else None,
            "error": "；".join(self.reasons),
        }


class _Applicable:
    """Which rules apply to which unit: one catalog query per distinct unit."""

    def __init__(self) -> None:
        self._by_unit: dict[int, set[int]] = {}

    def __call__(self, rule: RuleItem, unit: OrgUnit) -> bool:
        if unit.pk not in self._by_unit:
            self._by_unit[unit.pk] = set(
                rule_items_for_unit(unit=unit).values_list("pk", flat=True)
            )
        return rule.pk in self._by_unit[unit.pk]


class _EventDates:
    """The form's date rule (``check_event_date``): a day in the future or in a closed
    month is refused. Closed months are read once; the form's check (and its message) is
    only asked about the days that fail, once per day."""

    def __init__(self, organisation: Organisation) -> None:
        self.organisation = organisation
        self.today = organisation_today(organisation)
        self.closed = set(
            Period.objects.filter(organisation=organisation, closed_at__isnull=False).values_list(
                "month", flat=True
            )
        )
        self._refusals: dict[date, str | None] = {}

    def refusal(self, day: date) -> str | None:
        if day <= self.today and month_start(day) not in self.closed:
            return None
        if day not in self._refusals:
            try:
                check_event_date(day, self.organisation)
                self._refusals[day] = None
            except ValidationError as error:
                self._refusals[day] = error.messages[0]
        return self._refusals[day]


def _resolve_events(
    rows: Sequence[dict[str, Any]], organisation: Organisation, uploader: Any
) -> list[EventRow]:
    """Member, rule, date and points of each row, with the reasons a row is bad."""
    members = _members_by_number(organisation, {r["employee_no"] for r in rows})
    rules = {
        rule.code: rule
        for rule in RuleItem.objects.filter(
            organisation=organisation, code__in={r["rule_code"] for r in rows}
        )
    }
    applicable = _Applicable()
    dates = _EventDates(organisation)
    checked = []
    for raw in rows:
        values = {k: str(v) for k, v in raw.items() if k != "line"}
        row = EventRow(line=int(raw["line"]), values=values)
        checked.append(row)
        number, code = values["employee_no"], values["rule_code"]
        if not number:
            row.reasons.append(_("The employee number is missing."))
        elif (member := members.get(number)) is None:
            row.reasons.append(
                _("No member has the employee number “%(value)s”.") % {"value": number[:30]}
            )
        elif member.status != MemberStatus.ACTIVE:
            row.reasons.append(_("%(member)s has left.") % {"member": member.name})
        elif uploader is not None and member.user_id == uploader.pk:
            row.reasons.append(
                _("You cannot import points for yourself; ask another HR member to do it.")
            )
        else:
            row.member = member
        if not code:
            row.reasons.append(_("The rule code is missing."))
        elif (rule := rules.get(code)) is None:
            row.reasons.append(_("No rule item has the code “%(code)s”.") % {"code": code[:30]})
        elif not rule.active:
            row.reasons.append(_("“%(rule)s” is no longer in force.") % {"rule": rule.name})
        else:
            row.rule = rule
        if row.member is not None and row.rule is not None:
            if not applicable(row.rule, row.member.unit):
                row.reasons.append(
                    _("“%(rule)s” does not apply to %(unit)s.")
                    % {"rule": row.rule.name, "unit": row.member.unit.name}
                )
        day = _parse_date(values["date"])
        if day is None:
            row.reasons.append(
                _("“%(value)s” is not a date; write it as YYYY-MM-DD.")
                % {"value": values["date"][:30]}
            )
        elif (refusal := dates.refusal(day)) is not None:
            row.reasons.append(refusal)
        else:
            row.day = day
        if row.rule is not None:
            _resolve_points(row, row.rule)
        if len(values.get("note", "")) > 2000:
            row.reasons.append(_("The note is longer than 2,000 characters."))
    return checked


def _resolve_points(row: EventRow, rule: RuleItem) -> None:
    text = row.values.get("points", "")
    given = _parse_int(text) if text else None
    if text and given is None:
        row.reasons.append(_("“%(value)s” is not a whole number.") % {"value": text[:20]})
        return
    if given is not None and given < 0 and rule.sign < 0:
        given = -given  # a deduction written with its sign
    if rule.is_fixed:
        if given is not None and given != rule.points_min:
            row.reasons.append(
                _("“%(rule)s” is worth %(points)s points.")
                % {"rule": rule.name, "points": rule.points_display()}
            )
            return
        row.points = rule.points_min
    elif given is None or not rule.points_min <= given <= rule.points_max:
        row.reasons.append(
            _("The points must be from %(min)s to %(max)s.")
            % {"min": rule.points_min, "max": rule.points_max}
        )
    else:
        row.points = given


def _pending_and_posted(
    organisation: Organisation, rows: Sequence[EventRow]
) -> dict[tuple[int, int, date], str]:
    """(member, rule, day) already in the ledger or waiting in a notice or a declaration,
    with the reason to give. Three queries, bounded by rules and dates, not by rows."""
    keyed = [r for r in rows if r.member and r.rule and r.day]
    if not keyed:
        return {}
    rule_ids = {r.rule.pk for r in keyed if r.rule}
    first = min(r.day for r in keyed if r.day)
    last = max(r.day for r in keyed if r.day)
    wanted = {(r.member.pk, r.rule.pk, r.day) for r in keyed if r.member and r.rule and r.day}
    found: dict[tuple[int, int, date], str] = {}

    def mark(keys: Iterable[tuple[int, int, date]], reason: str) -> None:
        for key in keys:
            if key in wanted:
                found.setdefault(key, reason)

    mark(
        LedgerEntry.objects.filter(
            organisation=organisation,
            kind__in=[EntryKind.DAILY, EntryKind.CORRECTION],
            rule_item_id__in=rule_ids,
            effective_date__range=(first, last),
            reversals__isnull=True,
        ).values_list("member_id", "rule_item_id", "effective_date"),
        _("Already in the ledger: the same member, rule and day."),
    )
    mark(
        NoticeItem.objects.filter(
            notice__organisation=organisation,
            rule_item_id__in=rule_ids,
            event_date__range=(first, last),
        )
        .filter(
            Q(notice__status=NoticeStatus.AWAITING_SIGNATURE)
            | Q(notice__status=NoticeStatus.APPROVED, pool_month__isnull=False)
        )
        .values_list("member_id", "rule_item_id", "event_date"),
        _("Already pending: an award notice names the same member, rule and day."),
    )
    mark(
        DeclarationItem.objects.filter(
            declaration__organisation=organisation,
            rule_item_id__in=rule_ids,
            event_date__range=(first, last),
        )
        .filter(
            Q(
                declaration__status__in=[
                    DeclarationStatus.SUBMITTED,
                    DeclarationStatus.ESCALATED,
                    DeclarationStatus.RETURNED,
                ]
            )
            | Q(declaration__status=DeclarationStatus.APPROVED, pool_month__isnull=False)
        )
        .values_list("declaration__member_id", "rule_item_id", "event_date"),
        _("Already pending: a declaration claims the same member, rule and day."),
    )
    return found


def _ledger_cap_usage(
    organisation: Organisation, rows: Sequence[EventRow]
) -> dict[tuple[int, int, date], int]:
    """Net points in the ledger per (member, rule, day) for the capped rules of the file, as
    the posting caps count them (``member_cap_usage``, for every member at once)."""
    capped = [r for r in rows if r.rule and r.day and (r.rule.cap_per_day or r.rule.cap_per_month)]
    if not capped:
        return {}
    first = month_start(min(r.day for r in capped if r.day))
    last = period_end("month", month_start(max(r.day for r in capped if r.day)))
    usage: dict[tuple[int, int, date], int] = defaultdict(int)
    for member_id, rule_id, day, net in (
        LedgerEntry.objects.filter(
            organisation=organisation,
            rule_item_id__in={r.rule.pk for r in capped if r.rule},
            effective_date__range=(first, last),
        )
        .filter(
            Q(kind__in=[EntryKind.DAILY, EntryKind.CORRECTION])
            | Q(kind=EntryKind.REVERSAL, reverses__kind__in=[EntryKind.DAILY, EntryKind.CORRECTION])
        )
        .values_list("member_id", "rule_item_id", "effective_date")
        .annotate(net=Sum("amount"))
        .order_by()
    ):
        usage[(member_id, rule_id, day)] += net or 0
    return usage


def _check_caps(organisation: Organisation, rows: Sequence[EventRow]) -> None:
    """The ledger's caps, counting what it holds and the file's earlier rows, in file order
    (the same arithmetic and messages as the posting service)."""
    held = _ledger_cap_usage(organisation, rows)
    day_use: dict[tuple[int, int, date], int] = defaultdict(int)
    month_use: dict[tuple[int, int, date], int] = defaultdict(int)
    for (member_id, rule_id, held_day), net in held.items():
        day_use[(member_id, rule_id, held_day)] += net
        month_use[(member_id, rule_id, month_start(held_day))] += net
    for row in rows:
        rule, member, day = row.rule, row.member, row.day
        if not (row.ok and rule and member and day and (rule.cap_per_day or rule.cap_per_month)):
            continue
        day_key = (member.pk, rule.pk, day)
        month_key = (member.pk, rule.pk, month_start(day))
        if rule.cap_per_day and abs(day_use[day_key] + row.amount) > rule.cap_per_day:
            row.reasons.append(
                _(
                    "Over the daily cap of %(cap)s points for “%(rule)s” on %(day)s "
                    "(already %(used)s)."
                )
                % {
                    "cap": rule.cap_per_day,
                    "rule": rule.name,
                    "day": day,
                    "used": abs(day_use[day_key]),
                }
            )
        elif rule.cap_per_month and abs(month_use[month_key] + row.amount) > rule.cap_per_month:
            row.reasons.append(
                _(
                    "Over the monthly cap of %(cap)s points for “%(rule)s” in %(month)s "
                    "(already %(used)s)."
                )
                % {
                    "cap": rule.cap_per_month,
                    "rule": rule.name,
                    "month": f"{day:%Y-%m}",
                    "used": abs(month_use[month_key]),
                }
            )
        else:
            day_use[day_key] += row.amount
            month_use[month_key] += row.amount


def events_check(
    *, organisation: Organisation, uploader: Any, rows: Sequence[dict[str, Any]]
) -> list[EventRow]:
    """Every row's verdict: a known active member, a rule in force that applies to the
    member's unit, a date that is not in the future or a closed month, the points, no
    duplicate (in the file, pending or in the ledger) and within the rule's caps."""
    checked = _resolve_events(rows, organisation, uploader)
    seen: dict[tuple[int, int, date], int] = {}
    for row in checked:
        if row.member and row.rule and row.day:
            key = (row.member.pk, row.rule.pk, row.day)
            if key in seen:
                row.reasons.append(
                    _("The same member, rule and day as line %(line)s.") % {"line": seen[key]}
                )
            else:
                seen[key] = row.line
    existing = _pending_and_posted(organisation, checked)
    for row in checked:
        if row.member and row.rule and row.day:
            reason = existing.get((row.member.pk, row.rule.pk, row.day))
            if reason:
                row.reasons.append(reason)
    _check_caps(organisation, checked)
    return checked


@dataclass
class AttendanceRow:
    line: int
    values: dict[str, str]
    member: Member | None = None
    month: date | None = None
    days_present: int | None = None
    days_required: int | None = None
    replaces: str = ""
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons

    def as_json(self) -> dict[str, Any]:
        return {
            **self.values,
            "line": self.line,
            "member": self.member.name if self.member else "",
            "unit": self.member.unit.name if self.member else "",
            "days_required": self.days_required
            if self.days_required is not None
            else self.values.get("days_required", ""),
            "replaces": self.replaces,
            "error": "；".join(self.reasons),
        }


def _resolve_days(row: AttendanceRow) -> None:
    present_text = row.values["days_present"]
    required_text = row.values.get("days_required", "")
    present = _parse_int(present_text)
    required = _parse_int(required_text) if required_text else None
    if present is None or present < 0:
        row.reasons.append(
            _("“%(value)s” is not a number of days.") % {"value": present_text[:20] or "—"}
        )
    if required_text and (required is None or required < 1):
        row.reasons.append(
            _("“%(value)s” is not a number of days.") % {"value": required_text[:20]}
        )
    if row.month is None or row.reasons:
        return
    if required is None:
        required = weekdays_in_month(row.month)
    in_month = calendar.monthrange(row.month.year, row.month.month)[1]
    if required > in_month:
        row.reasons.append(
            _("%(month)s has only %(days)s days.")
            % {"month": f"{row.month:%Y-%m}", "days": in_month}
        )
    elif present is not None and present > required:
        row.reasons.append(_("Days present cannot exceed the days required."))
    else:
        row.days_present, row.days_required = present, required


def attendance_check(
    *, organisation: Organisation, uploader: Any, rows: Sequence[dict[str, Any]]
) -> list[AttendanceRow]:
    """Every row's verdict: a known active member, a month that has begun and whose fixed
    points are not posted yet, days present within the days required, once per member and
    month. An existing month's attendance is replaced (the verdict says so)."""
    members = _members_by_number(organisation, {r["employee_no"] for r in rows})
    this_month = month_start(organisation_today(organisation))
    checked: list[AttendanceRow] = []
    for raw in rows:
        values = {k: str(v) for k, v in raw.items() if k != "line"}
        row = AttendanceRow(line=int(raw["line"]), values=values)
        checked.append(row)
        number = values["employee_no"]
        if not number:
            row.reasons.append(_("The employee number is missing."))
        elif (member := members.get(number)) is None:
            row.reasons.append(
                _("No member has the employee number “%(value)s”.") % {"value": number[:30]}
            )
        elif member.status != MemberStatus.ACTIVE:
            row.reasons.append(_("%(member)s has left.") % {"member": member.name})
        else:
            row.member = member
        month = _parse_month(values["month"])
        if month is None:
            row.reasons.append(
                _("“%(value)s” is not a month like 2026-10.") % {"value": values["month"][:30]}
            )
        elif month > this_month:
            row.reasons.append(_("%(month)s has not begun.") % {"month": f"{month:%Y-%m}"})
        else:
            row.month = month
        _resolve_days(row)
    keyed = [r for r in checked if r.member and r.month]
    seen: dict[tuple[int, date], int] = {}
    for row in keyed:
        assert row.member and row.month
        key = (row.member.pk, row.month)
        if key in seen:
            row.reasons.append(
                _("The same member and month as line %(line)s.") % {"line": seen[key]}
            )
        else:
            seen[key] = row.line
    if keyed:
        months = {r.month for r in keyed if r.month}
        posted = set(
            LedgerEntry.objects.filter(
                organisation=organisation,
                kind=EntryKind.FIXED,
                effective_date__in=[period_end("month", m) for m in months],
            ).values_list("member_id", "effective_date")
        )
        existing = {
            (a.member_id, a.month): a
            for a in Attendance.objects.filter(member__organisation=organisation, month__in=months)
        }
        for row in keyed:
            assert row.member and row.month
            if (row.member.pk, period_end("month", row.month)) in posted:
                row.reasons.append(
                    _(
                        "The fixed points of %(month)s are already posted; attendance can no "
                        "longer change them."
                    )
                    % {"month": f"{row.month:%Y-%m}"}
                )
            elif (old := existing.get((row.member.pk, row.month))) is not None:
                row.replaces = f"{old.days_present}/{old.days_required}"
    return checked


def import_rows_check(
    *, kind: str, organisation: Organisation, uploader: Any, rows: Sequence[dict[str, Any]]
) -> list[Any]:
    """The verdicts of an import's rows, by the kind of file."""
    if kind == ImportKind.EVENTS:
        return events_check(organisation=organisation, uploader=uploader, rows=rows)
    return attendance_check(organisation=organisation, uploader=uploader, rows=rows)
