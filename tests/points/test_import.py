"""Importing units, members and rule items through the admin (django-import-export).

A file with bad rows reports every bad row with its row number and reason, and imports
nothing; a good file imports after confirmation; nobody imports into another organisation.
"""

from __future__ import annotations

import io
import re
from typing import Any

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from points.models import Member, OrgUnit, RuleItem
from tests.conftest import Org

pytestmark = pytest.mark.django_db

MEMBER_HEADER = (
    "organisation,employee_no,name,kind,unit,username,position,education,title,"
    "skill_level,hire_date,status"
)
FORMATS = {"csv": "0", "xlsx": "1"}


def _xlsx(csv_text: str) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for line in csv_text.strip().splitlines():
        sheet.append(line.split(","))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _upload(client: Client, model: str, text: str, fmt: str = "csv") -> Any:
    content = text.encode() if fmt == "csv" else _xlsx(text)
    return client.post(
        f"/admin/points/{model}/import/",
        {
            "resource": "0",
            "format": FORMATS[fmt],
            "import_file": SimpleUploadedFile(f"upload.{fmt}", content),
        },
    )


def _confirm(client: Client, model: str, response: Any) -> Any:
    html = response.content.decode()
    form = html[html.index('action="/admin/points/' + model + '/process_import/"') :]
    fields = dict(re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', form.split("</form>")[0]))
    fields.pop("csrfmiddlewaretoken", None)
    return client.post(f"/admin/points/{model}/process_import/", fields)


def _invalid_rows(response: Any) -> list[tuple[int, str]]:
    """(row number, error text) for every row the import page reports as invalid."""
    result = response.context["result"]
    rows = []
    for row in result.invalid_rows:
        messages = [str(m) for errors in row.field_specific_errors.values() for m in errors]
        messages += [str(m) for m in row.non_field_specific_errors]
        rows.append((row.number, " | ".join(messages)))
    return rows


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_bad_rows_are_all_reported_and_nothing_is_imported(org: Org, login: Any, fmt: str) -> None:
    client = login(org.hr)
    users_before = get_user_model().objects.count()
    text = "\n".join(
        [
            MEMBER_HEADER,
            "acme,N1,张三,person,acme-a,zhangsan,装配工,bachelor,,,2020-01-02,active",
            "acme,N2,李四,person,nounit,lisi,装配工,phd,,,2020-13-02,active",
            "acme,N3,王五,person,acme-b,,装配工,,,,,retired",
            "other,N4,赵六,person,acme-a,,装配工,,,,,active",
        ]
    )
    response = _upload(client, "member", text, fmt)
    assert response.status_code == 200
    rows = dict(_invalid_rows(response))
    assert set(rows) == {2, 3, 4}
    assert "nounit" in rows[2] and "YYYY-MM-DD" in rows[2] and "phd" in rows[2]
    assert "retired" in rows[3]
    assert "acme" in rows[4]  # only into one's own organisation
    # The page offers no confirmation, and nothing was written, not even the good row.
    assert b"process_import" not in response.content
    assert not Member.objects.filter(employee_no__in=["N1", "N2", "N3", "N4"]).exists()
    assert get_user_model().objects.count() == users_before


def test_bad_row_messages_are_translated(org: Org, login: Any) -> None:
    client = login(org.hr)
    text = MEMBER_HEADER + "\nacme,N2,李四,person,nounit,,装配工,,,,2020-13-02,active"
    rows = dict(_invalid_rows(_upload(client, "member", text)))
    assert "没有编码为" in rows[1] and "YYYY-MM-DD" in rows[1]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_good_file_imports_after_confirmation(org: Org, login: Any, fmt: str) -> None:
    client = login(org.hr)
    text = "\n".join(
        [
            MEMBER_HEADER,
            "acme,N1,张三,person,acme-a,zhangsan,装配工,bachelor,初级职称,中级工,2020-01-02,active",
            "acme,N2,李四户,household,acme-a1,,,,,,,active",
        ]
    )
    preview = _upload(client, "member", text, fmt)
    assert preview.status_code == 200 and _invalid_rows(preview) == []
    assert not Member.objects.filter(employee_no="N1").exists()  # a preview writes nothing
    done = _confirm(client, "member", preview)
    assert done.status_code == 302
    zhang = Member.objects.get(organisation=org.organisation, employee_no="N1")
    assert zhang.unit == org.dept_a and zhang.user.username == "zhangsan"
    assert zhang.user.has_usable_password() is False
    assert zhang.user.groups.filter(name="member").exists()
    assert Member.objects.get(employee_no="N2").kind == "household"


def test_reimport_updates_by_employee_number(org: Org, login: Any) -> None:
    client = login(org.hr)
    text = MEMBER_HEADER + f"\nacme,{org.worker_b.employee_no},新名字,person,acme-b,,,,,,,active"
    _confirm(client, "member", _upload(client, "member", text))
    org.worker_b.refresh_from_db()
    assert org.worker_b.name == "新名字"
    assert Member.objects.filter(employee_no=org.worker_b.employee_no).count() == 1


def test_units_import_builds_the_tree_in_file_order(org: Org, login: Any) -> None:
    client = login(org.hr)
    text = "\n".join(
        [
            "organisation,code,name,kind,parent,leader,authority_tier",
            "acme,acme-c,新部门,department,acme-co,,",
            "acme,acme-c1,新班组,team,acme-c,acme-worker-b-no,",
        ]
    ).replace("acme-worker-b-no", org.worker_b.employee_no)
    preview = _upload(client, "orgunit", text)
    assert _invalid_rows(preview) == []
    _confirm(client, "orgunit", preview)
    team = OrgUnit.objects.get(organisation=org.organisation, code="acme-c1")
    assert team.parent.code == "acme-c" and team.path.startswith(org.company.path)
    assert team.leader == org.worker_b


def test_units_import_reports_unknown_parent(org: Org, login: Any) -> None:
    client = login(org.hr)
    text = "organisation,code,name,kind,parent,leader,authority_tier\nacme,x,X,team,nope,,"
    rows = _invalid_rows(_upload(client, "orgunit", text))
    assert rows and rows[0][0] == 1 and "nope" in rows[0][1]
    assert not OrgUnit.objects.filter(code="x").exists()


RULE_HEADER = (
    "organisation,code,name,category,kind,points_min,points_max,evidence_required,"
    "cap_per_day,cap_per_month,leader_coaward_ratio,veto,active,units,description"
)


def test_rule_items_import_and_validation(org: Org, login: Any) -> None:
    client = login(org.admin)
    text = "\n".join(
        [
            RULE_HEADER,
            "acme,ATD-001,迟到,attendance,deduction,5,5,0,5,50,0.5,0,1,acme-a,",
            "acme,ATD-002,旷工,attendance,deduction,100,50,0,,,0,0,1,,",
            "acme,ATD-003,早退,attendance,fine,5,5,0,,,2,0,1,acme-zzz,",
        ]
    )
    preview = _upload(client, "ruleitem", text)
    rows = dict(_invalid_rows(preview))
    assert set(rows) == {2, 3}
    assert "acme-zzz" in rows[3] and "fine" in rows[3]
    assert not RuleItem.objects.filter(code__startswith="ATD").exists()

    good = RULE_HEADER + "\nacme,ATD-001,迟到,attendance,deduction,5,5,0,5,50,0.5,0,1,acme-a,"
    _confirm(client, "ruleitem", _upload(client, "ruleitem", good))
    item = RuleItem.objects.get(code="ATD-001")
    assert list(item.units.all()) == [org.dept_a]
    assert item.history.filter(history_type="+").count() == 1


def test_export_contains_only_own_organisation(org: Org, other_org: Org, login: Any) -> None:
    client = login(org.hr)
    response = client.post(
        "/admin/points/member/export/",
        {
            "format": "0",
            "resource": "0",
            **{f"memberresource_{f}": "on" for f in ["employee_no", "name"]},
        },
    )
    assert response.status_code == 200
    body = response.content.decode("utf-8-sig")
    assert org.worker_b.employee_no in body
    assert other_org.worker_b.employee_no not in body


@pytest.mark.parametrize("model", ["member", "orgunit", "ruleitem"])
@pytest.mark.parametrize("query", ["action=x", "unit__id=%C2%B2", "nosuch=%00"])
def test_an_export_filtered_by_what_no_list_takes_answers_as_the_list(
    org: Org, login: Any, model: str, query: str
) -> None:
    """The list's own answer to such a filter (its "?e=1" page), for the export page too
    (django-import-export let the list's refusal out as a 500)."""
    client = login(org.hr)
    client.raise_request_exception = False
    listed = client.get(f"/admin/points/{model}/?{query}")
    exported = client.get(f"/admin/points/{model}/export/?{query}")
    assert listed.status_code == exported.status_code == 302
    assert exported["Location"] == listed["Location"] == f"/admin/points/{model}/?e=1"
    assert client.get(f"/admin/points/{model}/export/?q=x").status_code == 200


def test_members_cannot_open_the_import_page(org: Org, login: Any) -> None:
    response = login(org.worker_a1).get("/admin/points/member/import/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
