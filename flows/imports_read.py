"""Reading an uploaded spreadsheet: XLSX (openpyxl) or CSV (UTF-8 or GB18030), told apart by
their content, never by the file's name. Every way a file can be unreadable raises
``ImportFileError`` with a message for the user; nothing here touches the database.

A row is a dict of the column's canonical name to the cell's text, with ``line``: the
row's number in the spreadsheet (the header row is line 1 when it is the first row).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

#: A ZIP archive (XLSX is one), and the OLE2 container of the old binary .xls.
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: An XLSX unpacks to many times its size; refuse archives that would unpack to more.
MAX_UNPACKED_FACTOR = 40
#: Control characters that never appear in a text (CSV) file.
BINARY_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ImportFileError(ValidationError):
    """The file cannot be read as an import; the message says why."""


@dataclass(frozen=True)
class Column:
    """A column of an import file: its canonical name and the headers accepted for it (the
    first is the one shown to users; Chinese first, the English name last)."""

    name: str
    headers: tuple[str, ...]
    required: bool = True

    @property
    def label(self) -> str:
        if self.required:
            return self.headers[0]
        return _("%(column)s (optional)") % {"column": self.headers[0]}


def max_bytes() -> int:
    return int(getattr(settings, "POINTS_IMPORT_MAX_MB", 10)) * 1024 * 1024


def max_rows() -> int:
    return int(getattr(settings, "POINTS_IMPORT_MAX_ROWS", 50_000))


def _normal(header: Any) -> str:
    return " ".join(str(header or "").replace("\ufeff", "").split()).lower()


def cell_text(value: Any) -> str:
    """A cell as text: dates as YYYY-MM-DD, whole numbers without “.0”."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _header_map(header: Sequence[Any], columns: Sequence[Column]) -> dict[int, str]:
    """Position → canonical column name; a missing, unknown or repeated column is refused."""
    accepted = {_normal(h): column.name for column in columns for h in column.headers}
    expected = "、".join(column.label for column in columns)
    positions: dict[int, str] = {}
    unknown: list[str] = []
    for position, title in enumerate(header):
        key = _normal(title)
        if not key:
            continue
        name = accepted.get(key)
        if name is None:
            unknown.append(str(title).strip()[:40])
        elif name in positions.values():
            raise ImportFileError(
                _("The column “%(column)s” appears twice.") % {"column": str(title).strip()[:40]}
            )
        else:
            positions[position] = name
    missing = [c.label for c in columns if c.required and c.name not in positions.values()]
    if missing:
        raise ImportFileError(
            _(
                "The first row must name the columns %(expected)s; missing: %(missing)s. "
                "Is this the right file?"
            )
            % {"expected": expected, "missing": "、".join(missing)}
        )
    if unknown:
        raise ImportFileError(
            _("Unknown columns: %(unknown)s. The accepted columns are %(expected)s.")
            % {"unknown": "、".join(unknown[:10]), "expected": expected}
        )
    return positions


def _rows(table: Iterable[tuple[int, Sequence[Any]]], columns: Sequence[Column]) -> list[dict]:
    """The header is the first row with any content; then one dict per non-blank row."""
    rows: list[dict[str, Any]] = []
    positions: dict[int, str] | None = None
    limit = max_rows()
    for line, cells in table:
        texts = [cell_text(value) for value in cells]
        if not any(texts):
            continue
        if positions is None:
            positions = _header_map(cells, columns)
            continue
        row: dict[str, Any] = {column.name: "" for column in columns}
        row["line"] = line
        for position, name in positions.items():
            if position < len(texts):
                row[name] = texts[position]
        rows.append(row)
        if len(rows) > limit:
            raise ImportFileError(
                _("The file has more than %(max)s rows; split it into smaller files.")
                % {"max": limit}
            )
    if positions is None:
        raise ImportFileError(_("The file is empty."))
    if not rows:
        raise ImportFileError(_("The file has no rows under its header row."))
    return rows


def _xlsx_table(content: bytes) -> Iterator[tuple[int, Sequence[Any]]]:
    from openpyxl import load_workbook

    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        names = set(archive.namelist())
        unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ImportFileError(
            _("The workbook cannot be read; open it in Excel, save it again as .xlsx and retry.")
        ) from error
    if "xl/workbook.xml" not in names:
        raise ImportFileError(_("This ZIP file is not an Excel workbook (.xlsx)."))
    if unpacked > MAX_UNPACKED_FACTOR * max(len(content), 1) or unpacked > 8 * max_bytes():
        raise ImportFileError(
            _("The workbook unpacks to too much data; split it into smaller files.")
        )
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        yield from enumerate(sheet.iter_rows(values_only=True), 1)
        workbook.close()
    except ImportFileError:
        raise
    except Exception as error:  # openpyxl raises many kinds on a damaged workbook
        raise ImportFileError(
            _("The workbook cannot be read; open it in Excel, save it again as .xlsx and retry.")
        ) from error


def _csv_text(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if BINARY_RE.search(text):
            break
        return text
    if b"\x00" in content or BINARY_RE.search(content.decode("latin-1")):
        raise ImportFileError(
            _(
                "This file is not a spreadsheet or a CSV file: upload an Excel workbook (.xlsx) "
                "or a CSV text file."
            )
        )
    raise ImportFileError(
        _("The CSV file's text encoding is not recognised: save it as UTF-8 or GB18030 (GBK).")
    )


def _csv_table(content: bytes) -> Iterator[tuple[int, Sequence[Any]]]:
    text = _csv_text(content)
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",\t;", key=first.count)
    try:
        yield from enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), 1)
    except csv.Error as error:
        raise ImportFileError(
            _("The CSV file cannot be read: %(error)s") % {"error": str(error)[:100]}
        ) from error


def import_file_read(*, content: bytes, columns: Sequence[Column]) -> list[dict[str, Any]]:
    """The data rows of an uploaded file, or ``ImportFileError``."""
    if not content:
        raise ImportFileError(_("The file is empty."))
    if len(content) > max_bytes():
        raise ImportFileError(
            _("The file is larger than %(mb)s MB; split it into smaller files.")
            % {"mb": max_bytes() // (1024 * 1024)}
        )
    if content.startswith(OLE2_MAGIC):
        raise ImportFileError(
            _("This is an old Excel (.xls) file: save it as .xlsx or CSV and upload it again.")
        )
    table = _xlsx_table(content) if content.startswith(ZIP_MAGIC) else _csv_table(content)
    return _rows(table, columns)
