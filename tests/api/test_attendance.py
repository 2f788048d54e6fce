"""Bulk import of attendance and spot-check events (and attendance days) through the API:
the rows get the upload's checks and its import job; all or nothing; HR only."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flows.models import (
    AwardNotice,
    ImportJob,
    ImportJobNotice,
    ImportStatus,
    NoticeItem,
    NoticeStatus,
    Notification,
)
from points.models import Attendance, AuditEvent, Member
from tests.api.conftest import V1, codes, fields
from tests.conftest import Org
from tests.factories import RuleItemFactory

pytestmark = pytest.mark.django_db

URL = f"{V1}attendance-events/"


@pytest.fixture
def rules(org: Org) -> dict[str, Any]:
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
        "hygiene": rule("HYG-003", "现场卫生不合格", 5),
    }


def _event(member: Member, day: str, code: str, note: str = "") -> dict[str, str]:
    return {"employee_no": member.employee_no, "date": day, "rule_code": code, "note": note}


def _send(api: Any, member: Member, rows: list[Any], kind: str = "events") -> Any:
    return api(member).post(URL, {"kind": kind, "rows": rows}, format="json")


def _nothing_created() -> None:
    assert not ImportJob.objects.exists()
    assert not AwardNotice.objects.exists() and not NoticeItem.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="import.").exists()


def test_good_rows_become_award_notices_through_the_import_job(
    org: Org, rules: dict[str, Any], api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rows = [
        _event(org.worker_a1, "2026-11-03", "ATD-002", "迟到十分钟"),
        _event(org.worker_b, "2026-11-03", "ATD-002"),
        _event(org.worker_a1, "2026-11-04", "HYG-003", "工位脏乱"),
    ]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _send(api, org.hr, rows)
    assert response.status_code == 201, response.json()
    assert len(callbacks) >= 1  # the import task, queued after the commit
    body = response.json()
    job = ImportJob.objects.get()
    assert body["id"] == job.pk and body["kind"] == "events"
    # Inside the test's transaction the task ran after the response; it reports queued.
    assert body["status"] == "queued" and body["row_count"] == 3 and body["error_count"] == 0
    assert body["row_errors"] == [] and body["confirmed_at"] is not None
    assert body["finished_at"] is None

    done = api(org.hr).get(f"{URL}{job.pk}/").json()
    assert done["status"] == "done" and done["finished_at"] is not None
    assert (done["notices_created"], done["items_created"]) == (2, 3)
    notices = list(AwardNotice.objects.order_by("pk"))
    assert [n.items.count() for n in notices] == [2, 1]
    for notice in notices:
        assert notice.issuer == org.hr and notice.status == NoticeStatus.APPROVED
        assert notice.process is not None and notice.process.finished is not None
        assert all(item.pool_month == date(2026, 11, 1) for item in notice.items.all())
    assert ImportJobNotice.objects.filter(job=job).count() == 2
    late = NoticeItem.objects.get(member=org.worker_a1, rule_item=rules["late"])
    assert late.signed_total == -5 and late.description == "迟到十分钟"
    assert job.file_name in NoticeItem.objects.get(member=org.worker_b).description
    assert Notification.objects.filter(user=org.worker_a1.user).count() == 1
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"import.upload", "import.confirm", "import.events"} <= actions
    # The same rows again are now pending: refused, and nothing more is created.
    again = _send(api, org.hr, rows)
    assert again.status_code == 400 and set(codes(again)) == {"invalid_rows"}
    assert ImportJob.objects.count() == 1 and AwardNotice.objects.count() == 2


def test_bad_rows_are_all_listed_and_nothing_is_created(
    org: Org, rules: dict[str, Any], api: Any, post: Any
) -> None:
    rules["hygiene"].units.add(org.dept_b)  # not for team A1
    post(org.worker_b, -5, rule_item_id=rules["early"].pk, effective_date=date(2026, 11, 5))
    a1 = org.worker_a1
    rows = [
        _event(a1, "2026-11-03", "ATD-002", "好的一行"),  # rows.0, line 1: good
        {"employee_no": "X999", "date": "2026-11-03", "rule_code": "ATD-002"},  # 1: nobody
        _event(a1, "2026-11-03", "NOPE"),  # 2: unknown rule
        _event(a1, "2026-11-30", "ATD-002"),  # 3: in the future
        _event(a1, "2026-11-03", "HYG-003"),  # 4: not for the unit
        _event(a1, "2026-11-03", "ATD-002"),  # 5: the same as line 1
        _event(org.worker_b, "2026-11-05", "ATD-003"),  # 6: in the ledger already
        _event(a1, "11/03/2026", "ATD-003"),  # 7: not a date
        {"employee_no": "", "date": "2026-11-03", "rule_code": "ATD-002"},  # 8: no number
        _event(org.worker_b, "2026-11-06", "ATD-003"),  # 9: good
    ]
    response = _send(api, org.hr, rows)
    assert response.status_code == 400
    assert set(codes(response)) == {"invalid_rows"}
    assert fields(response) == [f"rows.{n}" for n in range(1, 9)]
    messages = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert messages["rows.1"].startswith("Line 2: ") and "X999" in messages["rows.1"]
    assert "NOPE" in messages["rows.2"]
    assert "future" in messages["rows.3"]
    assert "does not apply" in messages["rows.4"]
    assert "line 1" in messages["rows.5"]
    assert "ledger" in messages["rows.6"]
    assert "not a date" in messages["rows.7"]
    assert "employee number is missing" in messages["rows.8"]
    _nothing_created()


def test_attendance_days(org: Org, api: Any, django_capture_on_commit_callbacks: Any) -> None:
    rows = [
        {"employee_no": org.worker_a1.employee_no, "month": "2026-10", "days_present": "20"},
        {
            "employee_no": org.worker_b.employee_no,
            "month": "2026-10",
            "days_present": 18,
            "days_required": "21",
        },
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = _send(api, org.hr, rows, kind="attendance")
    assert response.status_code == 201, response.json()
    job = ImportJob.objects.get()
    assert job.kind == "attendance"
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.items_created == 2
    days = {a.member_id: (a.days_present, a.days_required) for a in Attendance.objects.all()}
    assert days == {org.worker_a1.pk: (20, 22), org.worker_b.pk: (18, 21)}

    bad = _send(
        api,
        org.hr,
        [{"employee_no": org.worker_a1.employee_no, "month": "2026-12", "days_present": "30"}],
        kind="attendance",
    )
    assert bad.status_code == 400 and fields(bad) == ["rows.0"]
    assert codes(bad) == ["invalid_rows"] and "has not begun" in bad.json()["errors"][0]["message"]
    assert ImportJob.objects.count() == 1


def test_bad_shapes_are_refused_by_field(org: Org, rules: dict[str, Any], api: Any) -> None:
    client = api(org.hr)
    cases = [
        ({"rows": [_event(org.worker_a1, "2026-11-03", "ATD-002")]}, "required", "kind"),
        ({"kind": "salary", "rows": []}, "invalid_choice", "kind"),
        ({"kind": "events", "rows": []}, "empty", "rows"),
        ({"kind": "events"}, "required", "rows"),
        ({"kind": "events", "rows": ["a line"]}, "not_a_dict", "rows.0"),
        (
            {"kind": "events", "rows": [{"employee_no": "E1", "rule_code": "ATD-002"}]},
            "required",
            "rows.0.date",
        ),
        (
            {"kind": "attendance", "rows": [_event(org.worker_a1, "2026-11-03", "ATD-002")]},
            "required",
            "rows.0.month",
        ),
    ]
    for body, code, field in cases:
        response = client.post(URL, body, format="json")
        assert response.status_code == 400, body
        assert codes(response)[0] == code and fields(response)[0] == field, response.json()
    form = client.post(URL, {"kind": "events"})
    assert form.status_code == 415 and codes(form) == ["unsupported_media_type"]
    _nothing_created()


def test_too_many_rows_are_refused(org: Org, api: Any, settings: Any) -> None:
    settings.POINTS_IMPORT_MAX_ROWS = 2
    rows = [_event(org.worker_a1, "2026-11-03", "ATD-002")] * 3
    response = _send(api, org.hr, rows)
    assert response.status_code == 400
    assert (codes(response), fields(response)) == (["too_many_rows"], ["rows"])
    _nothing_created()


@pytest.mark.parametrize("name", ["worker_a1", "leader_a", "committee", "admin", "recorder"])
def test_only_hr_imports(org: Org, rules: dict[str, Any], api: Any, name: str) -> None:
    member = getattr(org, name)
    response = _send(api, member, [_event(org.worker_b, "2026-11-03", "ATD-002")])
    assert response.status_code == 403 and codes(response) == ["permission_denied"]
    assert api(member).get(URL).status_code == 403
    _nothing_created()
    assert api().post(URL, {"kind": "events", "rows": []}, format="json").status_code == 401


def test_another_organisations_hr_neither_imports_into_it_nor_sees_its_jobs(
    org: Org, other_org: Org, rules: dict[str, Any], api: Any
) -> None:
    # Our employee numbers are unknown there: the rows are refused.
    refused = _send(api, other_org.hr, [_event(org.worker_a1, "2026-11-03", "ATD-002")])
    assert refused.status_code == 400 and fields(refused) == ["rows.0"]
    _nothing_created()
    assert _send(api, org.hr, [_event(org.worker_a1, "2026-11-03", "ATD-002")]).status_code == 201
    job = ImportJob.objects.get()
    assert api(other_org.hr).get(f"{URL}{job.pk}/").status_code == 404
    assert api(other_org.hr).get(URL).json()["count"] == 0
    assert [row["id"] for row in api(org.hr).get(URL).json()["results"]] == [job.pk]


def test_job_list_is_a_flat_number_of_queries(org: Org, rules: dict[str, Any], api: Any) -> None:
    def count() -> int:
        client = api(org.hr)
        client.get(URL)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL).status_code == 200
        return len(queries)

    _send(api, org.hr, [_event(org.worker_a1, "2026-11-03", "ATD-002")])
    few = count()
    for day in range(4, 10):
        _send(api, org.hr, [_event(org.worker_a1, f"2026-11-{day:02d}", "ATD-002")])
    assert ImportJob.objects.count() == 7
    assert count() == few
