"""Bulk import of attendance and spot-check events (and of attendance days): upload,
preview with a verdict per row, confirm, progress, and award notices through the flow.
Tests run on 2026-11-20 (see conftest)."""

from __future__ import annotations

import csv
import io
import os
import time
import zipfile
from datetime import date
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook

from flows.imports import import_job_run
from flows.models import (
    AwardNotice,
    ImportJob,
    ImportJobNotice,
    ImportStatus,
    NoticeItem,
    NoticeStatus,
    Notification,
)
from points.models import Attendance, Member, Period
from tests.conftest import Org
from tests.factories import TEST_PASSWORD, RuleItemFactory

pytestmark = pytest.mark.django_db

HEADER = ["工号", "日期", "规则编码", "备注"]
INDEX = "declarations:imports:index"


def _url(name: str, pk: int | None = None) -> str:
    return reverse(f"declarations:imports:{name}", args=[pk] if pk is not None else [])


def _client(member: Member, english: bool = False) -> Client:
    client = Client()
    assert client.login(username=member.user.username, password=TEST_PASSWORD)
    if english:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _csv(rows: list[list[Any]], header: list[str] = HEADER, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def _xlsx(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _upload(client: Client, content: bytes, name: str = "考勤.csv", kind: str = "events") -> Any:
    upload = io.BytesIO(content)
    upload.name = name
    return client.post(_url("index"), {"kind": kind, "file": upload})


@pytest.fixture
def rules(org: Org) -> dict[str, Any]:
    """Attendance and hygiene rules of the demo catalog (for every unit)."""

    def rule(code: str, name: str, points: int, **extra: Any) -> Any:
        return RuleItemFactory(
            organisation=org.organisation,
            code=code,
            name=name,
            kind="deduction",
            category="attendance",
            points_min=points,
            points_max=points,
            **extra,
        )

    return {
        "late": rule("ATD-002", "迟到", 5),
        "early": rule("ATD-003", "早退", 5),
        "absent": rule("ATD-004", "旷工", 100),
        "hygiene": rule("HYG-003", "现场卫生不合格", 5),
        "phone": rule("DIS-001", "上班玩手机", 20),
    }


# --- the whole path at scale -------------------------------------------------------------


def test_ten_thousand_rows_preview_confirm_progress(
    org: Org, rules: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    """100 members × 5 rules × 20 days: 10,000 good rows become 100 notices (one per rule
    and day) with 10,000 items, in bounded queries."""
    Member.objects.bulk_create(
        Member(
            organisation=org.organisation,
            unit=org.team_a1,
            employee_no=f"B{n:04d}",
            name=f"工人{n}",
        )
        for n in range(100)
    )
    rows = [
        [f"B{n:04d}", f"2026-11-{day:02d}", rule.code, "抽查"]
        for rule in rules.values()
        for day in range(1, 21)
        for n in range(100)
    ]
    content = _csv(rows)
    client = _client(org.hr)
    began = time.perf_counter()

    with CaptureQueriesContext(connection) as upload_queries:
        response = _upload(client, content)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.READY and job.row_count == 10_000 and job.error_count == 0
    # Bulk reads: the query count does not grow with the rows.
    assert len(upload_queries) < 40, len(upload_queries)

    preview = client.get(response["Location"])
    assert preview.status_code == 200
    assert b'id="import-confirm"' in preview.content

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client.post(_url("confirm", job.pk)).status_code == 302
    status = client.get(_url("status", job.pk)).json()
    assert status["status"] == "queued" and not status["finished"] and status["total"] == 10_000
    page = client.get(_url("detail", job.pk))
    assert b"data-import-status=" in page.content and b"import_progress.js" in page.content

    with CaptureQueriesContext(connection) as run_queries:
        for callback in callbacks:
            callback()
    assert len(run_queries) < 100 * 30, len(run_queries)  # per notice, never per row

    status = client.get(_url("status", job.pk)).json()
    assert status == {
        "status": "done",
        "status_label": status["status_label"],
        "done": 10_000,
        "total": 10_000,
        "percent": 100,
        "notices": 100,
        "imported": 10_000,
        "finished": True,
    }
    assert AwardNotice.objects.count() == 100
    assert NoticeItem.objects.count() == 10_000
    assert ImportJobNotice.objects.filter(job=job).count() == 100
    assert time.perf_counter() - began < 30


def test_notices_are_grouped_per_rule_and_day_issued_by_hr_through_the_flow(
    org: Org, rules: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    org.worker_a1.user.email = "w@example.com"
    org.worker_a1.user.save()
    content = _csv(
        [
            [org.worker_a1.employee_no, "2026-11-03", "ATD-002", "迟到十分钟"],
            [org.worker_b.employee_no, "2026-11-03", "ATD-002", ""],
            [org.worker_a1.employee_no, "2026-11-04", "HYG-003", "工位脏乱"],
        ]
    )
    client = _client(org.hr)
    _upload(client, content)
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("confirm", job.pk))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.notices_created == 2
    notices = list(AwardNotice.objects.order_by("pk"))
    assert [n.items.count() for n in notices] == [2, 1]
    for notice in notices:
        assert notice.issuer == org.hr and notice.status == NoticeStatus.APPROVED
        assert notice.process is not None and notice.process.finished is not None
        assert all(item.pool_month == date(2026, 11, 1) for item in notice.items.all())
    late = NoticeItem.objects.get(member=org.worker_a1, rule_item=rules["late"])
    assert late.signed_total == -5 and late.description == "迟到十分钟"
    assert "考勤.csv" in NoticeItem.objects.get(member=org.worker_b).description  # no note
    # One message per member, not per row.
    assert Notification.objects.filter(user=org.worker_a1.user).count() == 1
    # HR sees the notices in the notice list.
    assert _client(org.hr).get(reverse("declarations:awardnotice:index")).status_code == 200


# --- bad rows and bad files --------------------------------------------------------------


def test_bad_rows_are_listed_with_line_and_reason_and_nothing_is_created(
    org: Org, rules: dict[str, Any], post: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rules["hygiene"].units.add(org.dept_b)  # not for team A1
    rules["phone"].active = False
    rules["phone"].save()
    RuleItemFactory(organisation=org.organisation, code="CAP-1", name="早会缺席", cap_per_month=10)
    Period.objects.create(
        organisation=org.organisation, month=date(2026, 10, 1), closed_at="2026-11-02T00:00Z"
    )
    post(org.worker_b, -5, rule_item_id=rules["early"].pk, effective_date=date(2026, 11, 5))
    left = org.member(org.dept_b, "acme-left")
    left.status, left.left_on = "left", date(2026, 11, 1)
    left.save()
    a1, b = org.worker_a1.employee_no, org.worker_b.employee_no
    rows = [
        [a1, "2026-11-03", "ATD-002", "好的一行"],  # line 2: good
        ["X999", "2026-11-03", "ATD-002", ""],  # 3: unknown member
        [a1, "2026-11-03", "NOPE", ""],  # 4: unknown rule
        [a1, "2026-11-30", "ATD-004", ""],  # 5: future date
        [a1, "2026-10-15", "ATD-004", ""],  # 6: closed month
        [a1, "2026-11-03", "DIS-001", ""],  # 7: rule not in force
        [a1, "2026-11-03", "HYG-003", ""],  # 8: rule not for the unit
        [a1, "2026-11-03", "ATD-002", ""],  # 9: duplicate of line 2
        [b, "2026-11-05", "ATD-003", ""],  # 10: already in the ledger
        [b, "2026-11-06", "CAP-1", ""],  # 11: good (5 of a monthly cap of 10)
        [b, "2026-11-07", "CAP-1", ""],  # 12: good (10 of 10)
        [b, "2026-11-08", "CAP-1", ""],  # 13: over the monthly cap
        [left.employee_no, "2026-11-03", "ATD-002", ""],  # 14: has left
        [org.hr.employee_no, "2026-11-03", "ATD-002", ""],  # 15: the uploader
        [a1, "11/03/2026", "ATD-003", ""],  # 16: not a date
        ["", "2026-11-03", "ATD-002", ""],  # 17: no employee number
    ]
    response = _upload(_client(org.hr, english=True), _csv(rows))
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.status == ImportStatus.INVALID
    reasons = {error["line"]: error["reason"] for error in job.errors}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16, 17]
    assert "X999" in reasons[3]
    assert "NOPE" in reasons[4]
    assert "future" in reasons[5]
    assert "2026-10" in reasons[6] and "closed" in reasons[6]
    assert "no longer in force" in reasons[7]
    assert "does not apply" in reasons[8]
    assert "line 2" in reasons[9]
    assert "ledger" in reasons[10]
    assert "monthly cap" in reasons[13] and "already 10" in reasons[13]
    assert "left" in reasons[14]
    assert "yourself" in reasons[15]
    assert "not a date" in reasons[16]
    assert "missing" in reasons[17]
    assert job.error_count == 13 and job.row_count == 16

    client = _client(org.hr, english=True)
    page = client.get(_url("detail", job.pk))
    text = page.content.decode()
    assert 'id="import-errors"' in text and "Line 3" in text and "X999" in text
    assert 'id="import-confirm"' not in text
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("confirm", job.pk))
    job.refresh_from_db()
    assert job.status == ImportStatus.INVALID
    assert not AwardNotice.objects.exists() and not NoticeItem.objects.exists()


def test_a_row_already_pending_in_a_notice_is_a_duplicate(
    org: Org, rules: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    content = _csv([[org.worker_a1.employee_no, "2026-11-03", "ATD-002", ""]])
    client = _client(org.hr, english=True)
    _upload(client, content)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("confirm", ImportJob.objects.get().pk))
    _upload(client, content, name="again.csv")
    again = ImportJob.objects.get(file_name="again.csv")
    assert again.status == ImportStatus.INVALID
    assert "pending" in again.errors[0]["reason"] and again.errors[0]["line"] == 2


def test_ranged_rule_needs_points_in_its_range(org: Org, rules: dict[str, Any]) -> None:
    RuleItemFactory(
        organisation=org.organisation, code="SUG-001", kind="award", points_min=10, points_max=100
    )
    header = [*HEADER, "分值"]
    rows = [
        [org.worker_a1.employee_no, "2026-11-03", "SUG-001", "建议", "30"],
        [org.worker_a1.employee_no, "2026-11-04", "SUG-001", "建议", ""],
        [org.worker_a1.employee_no, "2026-11-05", "SUG-001", "建议", "300"],
        [org.worker_b.employee_no, "2026-11-05", "ATD-002", "", "-5"],  # the sign is fine
    ]
    _upload(_client(org.hr), _csv(rows, header=header))
    job = ImportJob.objects.get()
    assert [e["line"] for e in job.errors] == [3, 4]
    assert job.rows[0]["amount"] == 30 and job.rows[3]["amount"] == -5


@pytest.mark.parametrize(
    ("content", "name", "needle"),
    [
        (b"\x89PNG\r\n\x1a\n" + os.urandom(2000), "考勤.xlsx", "not a spreadsheet"),
        (os.urandom(5000), "考勤.xlsx", "not a spreadsheet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old.xlsx", ".xls"),
        (b"PK\x03\x04 damaged", "broken.xlsx", "cannot be read"),
        (b"", "empty.csv", "empty"),
    ],
)
def test_an_unreadable_file_is_refused_with_a_clear_message(
    org: Org, content: bytes, name: str, needle: str
) -> None:
    response = _upload(_client(org.hr, english=True), content, name=name)
    assert response.status_code == 200
    assert needle in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_zip_that_is_not_a_workbook_is_refused(org: Org) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    response = _upload(_client(org.hr, english=True), out.getvalue(), name="a.xlsx")
    assert "not an Excel workbook" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_zip_bomb_is_refused(org: Org) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<x/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x20" * 30_000_000)
    response = _upload(_client(org.hr, english=True), out.getvalue(), name="a.xlsx")
    assert "too much data" in response.content.decode()


def test_wrong_headers_are_refused(org: Org, rules: dict[str, Any]) -> None:
    client = _client(org.hr, english=True)
    members_file = _csv([["acme", "E1", "张三"]], header=["organisation", "employee_no", "name"])
    response = _upload(client, members_file)
    text = response.content.decode()
    assert response.status_code == 200 and "missing" in text and "日期" in text
    extra = _csv([["E1", "2026-11-03", "ATD-002", "", "x"]], header=[*HEADER, "分数"])
    assert "Unknown columns" in _upload(client, extra).content.decode()
    headless = _csv([[org.worker_a1.employee_no, "2026-11-03", "ATD-002", ""]], header=[])
    assert "missing" in _upload(client, headless).content.decode()
    assert not ImportJob.objects.exists()


def test_a_file_over_the_size_limit_is_refused(org: Org, settings: Any) -> None:
    settings.POINTS_IMPORT_MAX_MB = 1
    content = _csv([["E1", "2026-11-03", "ATD-002", "x" * 1000]] * 1100)
    response = _upload(_client(org.hr, english=True), content)
    assert "larger than 1 MB" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_gb18030_csv_and_xlsx_with_date_cells_are_read(org: Org, rules: dict[str, Any]) -> None:
    client = _client(org.hr)
    gbk = _csv([[org.worker_a1.employee_no, "2026/11/3", "ATD-002", "迟到"]], encoding="gb18030")
    _upload(client, gbk, name="gbk.csv")
    workbook = _xlsx([[org.worker_b.employee_no, date(2026, 11, 3), "ATD-002", "迟到"]])
    _upload(client, workbook, name="wb.xlsx")
    by_name = {job.file_name: job for job in ImportJob.objects.all()}
    assert by_name["gbk.csv"].status == ImportStatus.READY, by_name["gbk.csv"].errors
    assert by_name["gbk.csv"].rows[0]["note"] == "迟到"
    assert by_name["wb.xlsx"].status == ImportStatus.READY, by_name["wb.xlsx"].errors
    assert by_name["wb.xlsx"].rows[0]["date"] == "2026-11-03"


# --- running -----------------------------------------------------------------------------


def test_a_second_run_does_not_duplicate(
    org: Org, rules: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(org.hr)
    _upload(client, _csv([[org.worker_a1.employee_no, "2026-11-03", "ATD-002", ""]]))
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("confirm", job.pk))
        client.post(_url("confirm", job.pk))  # a double click: refused
    import_job_run(job_id=job.pk)
    import_job_run(job_id=job.pk)
    assert AwardNotice.objects.count() == 1 and NoticeItem.objects.count() == 1


def test_rows_that_went_bad_since_the_preview_fail_the_whole_job(
    org: Org, rules: dict[str, Any], post: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(org.hr)
    a1 = org.worker_a1.employee_no
    _upload(client, _csv([[a1, "2026-11-03", "ATD-002", ""], [a1, "2026-11-04", "ATD-002", ""]]))
    job = ImportJob.objects.get()
    post(org.worker_a1, -5, rule_item_id=rules["late"].pk, effective_date=date(2026, 11, 4))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("confirm", job.pk))
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert [e["line"] for e in job.errors] == [3]
    assert not AwardNotice.objects.exists() and not NoticeItem.objects.exists()
    assert client.get(_url("status", job.pk)).json()["finished"] is True


# --- attendance --------------------------------------------------------------------------


def test_attendance_days_import(
    org: Org, rules: dict[str, Any], post: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from points.models import EntryKind

    Attendance.objects.create(
        member=org.worker_b, month=date(2026, 10, 1), days_present=10, days_required=22
    )
    header = ["工号", "月份", "出勤天数", "应出勤天数"]
    rows = [
        [org.worker_a1.employee_no, "2026-10", "20", "22"],
        [org.worker_b.employee_no, "2026-10", "21", ""],  # required: weekdays of October
    ]
    client = _client(org.hr)
    response = _upload(client, _csv(rows, header=header), kind="attendance")
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.READY, job.errors
    assert job.rows[1]["replaces"] == "10/22"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url("confirm", job.pk))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.items_created == 2
    days = {
        a.member_id: (a.days_present, a.days_required)
        for a in Attendance.objects.filter(month=date(2026, 10, 1))
    }
    assert days == {org.worker_a1.pk: (20, 22), org.worker_b.pk: (21, 22)}
    assert not AwardNotice.objects.exists()

    # Bad attendance rows: more days than required, a future month, fixed points posted.
    post(
        org.worker_a1,
        30,
        kind=EntryKind.FIXED,
        effective_date=date(2026, 9, 30),
        idempotency_key=f"fixed:2026-09:{org.worker_a1.pk}",
    )
    bad = [
        [org.worker_a1.employee_no, "2026-10", "23", "22"],
        [org.worker_a1.employee_no, "2026-12", "1", "22"],
        [org.worker_a1.employee_no, "2026-09", "20", "22"],
        [org.worker_b.employee_no, "十月", "20", "22"],
    ]
    _upload(client, _csv(bad, header=header), name="bad.csv", kind="attendance")
    job = ImportJob.objects.get(file_name="bad.csv")
    assert job.status == ImportStatus.INVALID
    assert [e["line"] for e in job.errors] == [2, 3, 4, 5]
    assert Attendance.objects.count() == 2


def test_attendance_file_with_event_headers_is_refused(org: Org) -> None:
    content = _csv([[org.worker_a1.employee_no, "2026-11-03", "ATD-002", ""]])
    response = _upload(_client(org.hr, english=True), content, kind="attendance")
    assert response.status_code == 200 and "missing" in response.content.decode()


# --- who may -----------------------------------------------------------------------------


def test_only_hr_of_the_organisation(
    org: Org, other_org: Org, rules: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    content = _csv([[org.worker_a1.employee_no, "2026-11-03", "ATD-002", ""]])
    for someone in (org.worker_a1, org.leader_a, org.committee, org.recorder):
        client = _client(someone)
        assert client.get(_url("index")).status_code == 403
        assert _upload(client, content).status_code == 403
    assert not ImportJob.objects.exists()
    hr = _client(org.hr)
    assert hr.get(_url("index")).status_code == 200
    _upload(hr, content)
    job = ImportJob.objects.get()
    assert _client(org.worker_a1).get(_url("detail", job.pk)).status_code == 403
    assert _client(org.worker_a1).get(_url("status", job.pk)).status_code == 403
    other_hr = _client(other_org.hr)
    assert other_hr.get(_url("detail", job.pk)).status_code == 404
    assert other_hr.get(_url("status", job.pk)).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert other_hr.post(_url("confirm", job.pk)).status_code == 404
    job.refresh_from_db()
    assert job.status == ImportStatus.READY
    assert str(job.pk) not in other_hr.get(_url("index")).content.decode().split("<tbody>")[1]
    # Another organisation's employee numbers are unknown here.
    other_file = _csv([[other_org.worker_a1.employee_no, "2026-11-03", "ATD-002", ""]])
    _upload(hr, other_file, name="other.csv")
    assert ImportJob.objects.get(file_name="other.csv").status == ImportStatus.INVALID


def test_the_template_files_have_the_headers(org: Org) -> None:
    from openpyxl import load_workbook

    hr = _client(org.hr)
    response = hr.get(reverse("declarations:imports:template", args=["events", "xlsx"]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    assert [c.value for c in sheet[1]] == ["工号", "日期", "规则编码", "备注", "分值"]
    response = hr.get(reverse("declarations:imports:template", args=["attendance", "csv"]))
    assert response.content.decode("utf-8-sig").splitlines()[0] == "工号,月份,出勤天数,应出勤天数"
    assert (
        _client(org.worker_a1)
        .get(reverse("declarations:imports:template", args=["events", "csv"]))
        .status_code
        == 403
    )


# --- demo --------------------------------------------------------------------------------


def demo_leaves_one_completed_import() -> None:
    """After ``seed_demo``, run twice by ``tests/flows/test_demo.py`` (which seeds once for
    several checks): one completed import, its notices approved and pooled, once."""
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.notices_created, job.items_created) == (3, 6)
    notices = AwardNotice.objects.filter(import_job__job=job)
    assert notices.count() == 3
    assert all(
        n.status == NoticeStatus.APPROVED and n.issuer.user.username == "hr1" for n in notices
    )
    assert NoticeItem.objects.filter(notice__in=notices, pool_month__isnull=False).count() == 6


def test_the_import_page_names_the_optional_columns_in_chinese(org: Org) -> None:
    html = _client(org.hr).get(_url("index")).content.decode()
    assert "备注（可选）" in html and "optional" not in html


# --- who uploaded ------------------------------------------------------------------------


def test_the_imports_name_their_uploader_in_the_same_queries_for_many(
    org: Org, rules: dict[str, Any]
) -> None:
    """The list and the detail page show the uploader's member name, not their login; the
    list takes as many queries for five uploaders as for one."""
    from points.roles import Role
    from tests.conftest import queries_of

    uploaders = [org.hr, *(org.member(org.company, f"acme-hr{n}", Role.HR) for n in range(2, 6))]
    for n, uploader in enumerate(uploaders):
        uploader.name = f"人事{n}号"
        uploader.save()
    content = _csv([[org.worker_a1.employee_no, "2026-11-03", "ATD-002", ""]])
    hr = _client(org.hr)
    _upload(hr, content)
    job = ImportJob.objects.get()
    one = queries_of(hr, _url("index"))
    for uploader in uploaders[1:]:
        _upload(_client(uploader), content, name=f"{uploader.user.username}.csv")
    five = queries_of(hr, _url("index"))
    assert five == one

    listed = hr.get(_url("index")).content.decode()
    for n, uploader in enumerate(uploaders):
        assert f'<td data-label="上传人">人事{n}号</td>' in listed
        assert f">{uploader.user.username}<" not in listed
    detail = hr.get(_url("detail", job.pk)).content.decode()
    assert "<dd>人事0号 · " in detail
    assert f"<dd>{org.hr.user.username} · " not in detail
