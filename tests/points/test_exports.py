"""Exports as CSV and XLSX: the ranking, a statement's entries and the ledger (filtered),
with Chinese headers by default, scoped to what the user may see, and never a formula."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from points.exports import csv_safe, ledger_columns
from points.models import EntryKind, LedgerEntry
from points.reports import ranking_columns, statement_columns
from tests.conftest import Org
from tests.factories import RuleItemFactory

pytestmark = pytest.mark.django_db

NASTY = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-2+3", "@SUM(A1)", "＝1+1"]
LEDGER_HEADERS = [
    "ID",
    "记账日期",
    "事项发生日期",
    "工号",
    "成员",
    "所属单位",
    "类型",
    "编码",
    "奖扣分标准条目",
    "数量",
    "分值",
    "可兑换余额变动",
    "批准人",
    "批准时间",
    "更正月份",
    "备注",
]


def _csv_rows(response: Any) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert content.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _xlsx_rows(response: Any) -> list[tuple[Any, ...]]:
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    return list(sheet.iter_rows(values_only=True))


@pytest.fixture
def booked(org: Org, other_org: Org, post: Any) -> Org:
    """worker_a1 (张三, team A1): -5 late on 11-03 and +12 with a nasty note in November,
    +8 in October; worker_b (李四, dept B): +20 in November. Another organisation has
    entries too."""
    org.worker_a1.name = "张三"
    org.worker_a1.save()
    org.worker_b.name = "李四"
    org.worker_b.save()
    org.late = RuleItemFactory(  # type: ignore[attr-defined]
        organisation=org.organisation, code="ATD-002", name="迟到", points_min=5, points_max=5
    )
    post(org.worker_a1, -5, rule_item_id=org.late.pk, effective_date=date(2026, 11, 3))  # type: ignore[attr-defined]
    post(org.worker_a1, 12, note=NASTY[0], approved_by_id=org.leader_a1.user.pk)
    post(org.worker_a1, 8, effective_date=date(2026, 10, 8), note="十月")
    post(org.worker_b, 20, effective_date=date(2026, 11, 4), note="支援")
    from points.services.ledger import PostingItem, ledger_post

    ledger_post(
        organisation=other_org.organisation,
        item=PostingItem(
            member_id=other_org.worker_a1.pk,
            amount=99,
            idempotency_key="other:1",
            effective_date=date(2026, 11, 10),
            note="别家",
        ),
        today=date(2026, 11, 20),
    )
    return org


def _ledger(client: Client, **query: Any) -> Any:
    return client.get(reverse("reports:ledger"), query)


# --- the ledger ---------------------------------------------------------------------------


def test_the_ledger_csv_has_chinese_headers_and_only_the_organisations_entries(
    booked: Org, login: Any
) -> None:
    rows = _csv_rows(_ledger(login(booked.hr), format="csv"))
    assert rows[0] == LEDGER_HEADERS == ledger_columns()
    body = rows[1:]
    expected = LedgerEntry.objects.filter(organisation=booked.organisation).count()
    assert len(body) == expected  # base points included
    assert "别家" not in {row[15] for row in body}
    late = next(row for row in body if row[7] == "ATD-002")
    assert late[3:6] == [booked.worker_a1.employee_no, "张三", booked.team_a1.name]
    assert late[8] == "迟到" and late[10] == "-5" and late[2] == "2026-11-03"
    approved = next(row for row in body if row[10] == "12")
    assert approved[12] == booked.leader_a1.name


def test_the_ledger_filters(booked: Org, login: Any) -> None:
    client = login(booked.hr)

    def amounts(**query: Any) -> list[str]:
        return sorted(row[10] for row in _csv_rows(_ledger(client, format="csv", **query))[1:])

    by_member = amounts(member=booked.worker_a1.employee_no)
    assert by_member == sorted(["-5", "12", "8", "500"])
    assert amounts(member=booked.worker_a1.employee_no, period="month", on="2026-11-15") == [
        "-5",
        "12",
        "500",
    ]
    assert amounts(member=booked.worker_a1.employee_no, period="month", on="2026-10-15") == ["8"]
    assert amounts(rule=booked.late.pk) == ["-5"]  # type: ignore[attr-defined]
    assert amounts(unit=booked.dept_b.pk, kind=EntryKind.DAILY) == ["20"]
    assert amounts(unit=booked.dept_a.pk, kind=EntryKind.DAILY) == sorted(["-5", "12", "8"])
    assert amounts(kind=EntryKind.BASE, member=booked.worker_b.employee_no) == ["500"]


def test_the_ledger_xlsx(booked: Org, login: Any) -> None:
    response = _ledger(login(booked.hr), format="xlsx", member=booked.worker_a1.employee_no)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    rows = _xlsx_rows(response)
    assert list(rows[0]) == LEDGER_HEADERS
    amounts = sorted(row[10] for row in rows[1:])
    assert amounts == [-5, 8, 12, 500]  # numbers stay numbers


def test_the_ledger_page_shows_the_count_and_the_first_entries(booked: Org, login: Any) -> None:
    response = _ledger(login(booked.hr), member=booked.worker_b.employee_no)
    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="ledger-count"' in text and "李四" in text and "张三" not in text
    assert "format=csv" in text and "format=xlsx" in text
    # each cell is labelled with its column, for the phone's one-card-per-row layout
    name_cell = re.search(r'<td data-label="([^"]+)">李四</td>', text)
    assert name_cell and name_cell.group(1) in text.split("<thead>")[1].split("</thead>")[0]


@pytest.mark.parametrize("who", ["worker_a1", "leader_a", "committee", "recorder", "admin"])
def test_only_hr_exports_the_ledger(booked: Org, login: Any, who: str) -> None:
    assert _ledger(login(getattr(booked, who)), format="csv").status_code == 403
    assert _ledger(login(getattr(booked, who))).status_code == 403


def test_a_unit_or_rule_of_another_organisation_is_refused(
    booked: Org, other_org: Org, login: Any
) -> None:
    response = _ledger(login(booked.hr), format="csv", unit=other_org.dept_a.pk)
    assert response.status_code == 400
    other_rule = RuleItemFactory(organisation=other_org.organisation)
    assert _ledger(login(booked.hr), format="xlsx", rule=other_rule.pk).status_code == 400
    assert _ledger(login(booked.hr), format="pdf").status_code == 400


# --- formulas -----------------------------------------------------------------------------


def test_csv_cells_never_start_a_formula() -> None:
    for text in NASTY:
        assert csv_safe(text).startswith("'")
    assert csv_safe(-5) == -5 and csv_safe("张三") == "张三"


def test_text_that_looks_like_a_formula_stays_text(booked: Org, login: Any, post: Any) -> None:
    booked.worker_b.name = NASTY[1]
    booked.worker_b.save()
    for note in NASTY[2:]:
        post(booked.worker_b, 1, note=note)
    client = login(booked.hr)
    rows = _csv_rows(_ledger(client, format="csv"))
    notes = {row[15] for row in rows[1:]}
    assert "'" + NASTY[0] in notes and all("'" + note in notes for note in NASTY[2:])
    assert "'" + NASTY[1] in {row[4] for row in rows[1:]}
    sheet = load_workbook(io.BytesIO(_ledger(client, format="xlsx").content)).active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row if cell.column in (5, 16)]
    nasty_cells = [cell for cell in cells if cell.value in NASTY]
    assert {cell.value for cell in nasty_cells} == set(NASTY)
    assert all(cell.data_type == "s" for cell in nasty_cells)  # strings, never formulas


# --- the ranking --------------------------------------------------------------------------


def test_the_ranking_csv(booked: Org, login: Any) -> None:
    response = login(booked.hr).get(
        reverse("reports:ranking"), {"format": "csv", "on": "2026-11-20"}
    )
    assert response.status_code == 200
    assert "ranking-month-2026-11.csv" in response["Content-Disposition"]
    rows = _csv_rows(response)
    assert rows[0] == ranking_columns() == ["名次", "名称", "工号", "所属单位", "合计", "等级"]
    first = rows[1]
    assert first[1] == "李四" and first[0] == "1" and first[4] == "520"


def test_the_committee_downloads_the_ranking_csv_and_a_member_does_not(
    booked: Org, login: Any
) -> None:
    url = reverse("reports:ranking")
    assert login(booked.committee).get(url, {"format": "csv"}).status_code == 200
    assert login(booked.worker_a1).get(url, {"format": "csv"}).status_code == 403


# --- a statement's entries ----------------------------------------------------------------


def test_a_member_downloads_their_statement_entries_as_csv_and_xlsx(
    booked: Org, login: Any
) -> None:
    client = login(booked.worker_a1)
    url = reverse("reports:statement")
    response = client.get(url, {"format": "csv", "kind": "month", "on": "2026-11-20"})
    assert (
        f"statement-{booked.worker_a1.employee_no}-2026-11.csv" in response["Content-Disposition"]
    )
    rows = _csv_rows(response)
    assert rows[0] == statement_columns()
    assert rows[0][:3] == ["事项发生日期", "记账日期", "类型"]
    assert sorted(row[5] for row in rows[1:]) == sorted(["-5", "12", "500"])
    assert "'" + NASTY[0] in {row[7] for row in rows[1:]}

    rows_xlsx = _xlsx_rows(client.get(url, {"format": "xlsx", "on": "2026-10-20"}))
    assert list(rows_xlsx[0]) == statement_columns()
    assert [row[5] for row in rows_xlsx[1:]] == [8]


def test_statement_exports_are_scoped(booked: Org, other_org: Org, login: Any) -> None:
    mine = reverse("reports:statement", args=[booked.worker_a1.pk])
    assert login(booked.worker_b).get(mine, {"format": "csv"}).status_code == 404
    assert login(booked.leader_a1).get(mine, {"format": "xlsx"}).status_code == 404
    assert login(booked.hr).get(mine, {"format": "csv"}).status_code == 200
    assert login(other_org.hr).get(mine, {"format": "csv"}).status_code == 404
    assert login(booked.worker_a1).get(mine, {"format": "odt"}).status_code == 400
