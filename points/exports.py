"""Exports as CSV and XLSX: rankings, a statement's entries and the ledger.

Column headers are translated (Chinese under the default zh-hans). Numbers stay numbers;
every text cell is written so that no spreadsheet reads it as a formula:

- XLSX: text cells are typed as strings (never formulas), as in ``points.reports``;
- CSV: a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
  (or their full-width forms) is prefixed with an apostrophe (OWASP's advice).

CSV is UTF-8 with a byte-order mark, so Excel opens Chinese text correctly; the ledger's CSV
streams, so a large export never sits in memory.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from points.models import LedgerEntry, Member, MemberKind, Organisation

Cell = str | int | date | datetime | None

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: An XLSX sheet holds 1,048,576 rows; larger exports are CSV only.
XLSX_MAX_ROWS = 200_000


def csv_safe(value: Cell) -> Any:
    """A cell for CSV: text that could start a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date | int):
        return value.isoformat() if isinstance(value, date) else value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_stream(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The CSV file in chunks: BOM and header first, then about 500 rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_safe(h) for h in headers])
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    for number, row in enumerate(rows, 1):
        writer.writerow([csv_safe(cell) for cell in row])
        if number % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    return b"".join(csv_stream(headers, rows))


def xlsx_bytes(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str = "export",
    widths: Sequence[int] = (),
) -> bytes:
    """One sheet (write-only, so memory stays flat): the header row, then the rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    for column, width in enumerate(widths, 1):
        from openpyxl.utils import get_column_letter

        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A2"

    def cell(value: Cell) -> Any:
        if value is None or isinstance(value, int | date | datetime):
            if isinstance(value, datetime):
                value = value.replace(tzinfo=None)
            return value
        typed = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", str(value)))
        typed.data_type = "s"  # never a formula, whatever it starts with
        return typed

    sheet.append([cell(h) for h in headers])
    for row in rows:
        sheet.append([cell(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- the ledger ---------------------------------------------------------------------------


def ledger_columns() -> list[str]:
    return [
        "ID",
        _("booked on"),
        _("date of the event"),
        _("employee number"),
        _("member"),
        _("unit"),
        _("kind"),
        _("code"),
        _("rule item"),
        _("quantity"),
        _("points"),
        _("change to the redeemable balance"),
        _("approved by"),
        _("approved at"),
        _("corrects month"),
        _("note"),
    ]


LEDGER_WIDTHS = (10, 12, 12, 12, 14, 18, 12, 10, 24, 6, 8, 10, 12, 17, 10, 40)


def ledger_export_queryset(*, organisation: Organisation) -> QuerySet[LedgerEntry]:
    return (
        LedgerEntry.objects.filter(organisation=organisation)
        .select_related("member__unit", "rule_item")
        .order_by("booked_on", "pk")
    )


def ledger_export_rows(
    entries: QuerySet[LedgerEntry], *, organisation: Organisation, chunk: int = 2000
) -> Iterator[list[Cell]]:
    """One row per entry, read a chunk at a time; approvers by their member name (one
    query per chunk)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(organisation.timezone)
    names: dict[int, str] = {}
    batch: list[LedgerEntry] = []

    def flush() -> Iterator[list[Cell]]:
        wanted = {e.approved_by_id for e in batch if e.approved_by_id} - set(names)
        if wanted:
            names.update(
                Member.objects.filter(
                    organisation=organisation, user_id__in=wanted, kind=MemberKind.PERSON
                ).values_list("user_id", "name")
            )
            from django.contrib.auth import get_user_model

            for pk, username in (
                get_user_model()
                .objects.filter(pk__in=wanted - set(names))
                .values_list("pk", "username")
            ):
                names[pk] = username
        for entry in batch:
            rule = entry.rule_item
            yield [
                entry.pk,
                entry.booked_on,
                entry.effective_date,
                entry.member.employee_no,
                entry.member.name,
                entry.member.unit.name,
                entry.get_kind_display(),
                rule.code if rule else "",
                rule.name if rule else "",
                entry.quantity,
                entry.amount,
                entry.redeemable_delta,
                names.get(entry.approved_by_id or 0, ""),
                entry.approved_at.astimezone(zone) if entry.approved_at else None,
                f"{entry.corrects_month:%Y-%m}" if entry.corrects_month else "",
                entry.note,
            ]
        batch.clear()

    for entry in entries.iterator(chunk_size=chunk):
        batch.append(entry)
        if len(batch) >= chunk:
            yield from flush()
    yield from flush()
