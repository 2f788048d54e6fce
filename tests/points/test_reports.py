"""Reports: the member statement as PDF, the ranking as PDF and XLSX, who may download them,
and that nothing a user typed escapes into markup or makes the renderer fetch anything."""

from __future__ import annotations

import io
import re
import socket
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from points import pdf as pdf_module
from points import reports
from points.models import Member, PeriodKind
from points.pdf import LocalOnlyFetcher, render_pdf
from points.reports import XLSX_CONTENT_TYPE, ranking_columns, statement_context
from points.selectors.ledger import ranking_for_period
from tests.conftest import Org
from tests.factories import MemberFactory, RuleItemFactory

pytestmark = [
    pytest.mark.django_db,
]

NOV = date(2026, 11, 1)
SCRIPT = "<script>alert(1)</script>"
IMG = '<img src="http://example.invalid/x.png">'


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF in drawing order (each table cell's lines together)."""
    assert pdf.startswith(b"%PDF")
    done = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return done.stdout.decode()


def squeezed(text: str) -> str:
    """Without whitespace: a long cell wraps where the layout wants."""
    return "".join(text.split())


def statement_url(**query: str) -> str:
    return reverse("reports:statement") + "?" + "&".join(f"{k}={v}" for k, v in query.items())


@pytest.fixture
def chinese(org: Org, post: Any) -> Org:
    """worker_a1 is 张三 with +12 (a note) and -5 (a rule) in November, 8 in October."""
    org.worker_a1.name = "张三"
    org.worker_a1.save()
    rule = RuleItemFactory(
        organisation=org.organisation, name="迟到", kind="deduction", points_min=5, points_max=5
    )
    post(org.worker_a1, 12, note="加班支援", approved_by_id=org.leader_a1.user.pk)
    post(org.worker_a1, -5, rule_item_id=rule.pk, effective_date=date(2026, 11, 12))
    post(org.worker_a1, 8, effective_date=date(2026, 10, 8), note="十月")
    return org


# --- statement --------------------------------------------------------------------------


def test_a_member_downloads_their_statement(chinese: Org, login: Any) -> None:
    response = login(chinese.worker_a1).get(statement_url(kind="month", on="2026-11-20"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert f"statement-{chinese.worker_a1.employee_no}-2026-11.pdf" in disposition
    text = pdf_text(response.content)
    assert "张三" in text
    assert chinese.worker_a1.employee_no in text
    assert "acme厂" in text  # the organisation
    assert chinese.team_a1.name in text
    assert "2026-11-01" in text and "2026-11-30" in text
    assert "+12" in text and "-5" in text and "加班支援" in text and "迟到" in text
    assert "acme-leader-a1" in text  # the approver, by member name
    assert "十月" not in text  # October is another period
    # base 500 on joining (today) + 12 - 5 this month; lifetime also holds October's 8
    assert "507" in text and "515" in text


def test_the_statement_defaults_to_this_month(chinese: Org, login: Any) -> None:
    response = login(chinese.worker_a1).get(reverse("reports:statement"))
    assert response.status_code == 200
    assert "2026-11.pdf" in response["Content-Disposition"]
    october = login(chinese.worker_a1).get(statement_url(kind="month", on="2026-10-31"))
    text = pdf_text(october.content)
    assert "十月" in text and "加班支援" not in text


@pytest.mark.parametrize(
    ("kind", "label"),
    [("week", "2026-W47"), ("quarter", "2026-Q4"), ("year", "2026")],
)
def test_the_statement_covers_any_period_kind(
    chinese: Org, login: Any, kind: str, label: str
) -> None:
    response = login(chinese.worker_a1).get(statement_url(kind=kind, on="2026-11-20"))
    assert response.status_code == 200
    assert f"-{label}.pdf" in response["Content-Disposition"]


def test_user_text_in_the_statement_is_literal_and_nothing_is_fetched(
    org: Org, post: Any, login: Any
) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation, name=SCRIPT, kind="award", points_min=3, points_max=3
    )
    post(org.worker_a1, 3, rule_item_id=rule.pk, note=IMG)
    fetcher = LocalOnlyFetcher()
    context = statement_context(member=org.worker_a1, kind=PeriodKind.MONTH, on=NOV)
    pdf = render_pdf(template="points/pdf/statement.html", context=context, fetcher=fetcher)
    assert fetcher.refused == []
    text = squeezed(pdf_text(pdf))
    assert squeezed(SCRIPT) in text
    assert squeezed(IMG) in text
    # and through the view too
    response = login(org.worker_a1).get(statement_url(on="2026-11-20"))
    assert squeezed(IMG) in squeezed(pdf_text(response.content))


def test_the_fetcher_refuses_real_external_resources(
    settings: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    lookups: list[Any] = []

    def no_network(*args: Any, **kwargs: Any) -> Any:
        lookups.append(args)
        raise OSError("no network in tests")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    (tmp_path / "evil.html").write_text(
        '<html><body><p>x</p><img src="http://example.invalid/x.png">'
        '<img src="file:///etc/passwd"><link rel="stylesheet" href="https://example.invalid/s.css">'
        "</body></html>"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    fetcher = LocalOnlyFetcher()
    pdf = render_pdf(template="evil.html", context={}, fetcher=fetcher)
    assert pdf.startswith(b"%PDF")
    assert "http://example.invalid/x.png" in fetcher.refused
    assert "file:///etc/passwd" in fetcher.refused
    assert "https://example.invalid/s.css" in fetcher.refused
    assert lookups == []


def test_hr_downloads_another_members_statement(chinese: Org, login: Any) -> None:
    url = reverse("reports:statement", args=[chinese.worker_a1.pk]) + "?on=2026-11-20"
    response = login(chinese.hr).get(url)
    assert response.status_code == 200
    assert chinese.worker_a1.employee_no in response["Content-Disposition"]
    assert "张三" in pdf_text(response.content)


def test_a_member_may_name_themselves(chinese: Org, login: Any) -> None:
    url = reverse("reports:statement", args=[chinese.worker_a1.pk])
    assert login(chinese.worker_a1).get(url).status_code == 200


@pytest.mark.parametrize("who", ["worker_b", "leader_a1", "committee", "admin"])
def test_others_get_404_for_someone_elses_statement(chinese: Org, login: Any, who: str) -> None:
    url = reverse("reports:statement", args=[chinese.worker_a1.pk])
    assert login(getattr(chinese, who)).get(url).status_code == 404


def test_hr_of_another_organisation_gets_404(chinese: Org, other_org: Org, login: Any) -> None:
    url = reverse("reports:statement", args=[chinese.worker_a1.pk])
    assert login(other_org.hr).get(url).status_code == 404
    missing = reverse("reports:statement", args=[10**9])
    assert login(other_org.hr).get(missing).status_code == 404


def test_a_login_without_a_member_gets_404(db: Any, client: Any) -> None:
    user = get_user_model().objects.create_user(username="lonely", password="x-pass-123")
    client.force_login(user)
    assert client.get(reverse("reports:statement")).status_code == 404


def test_anonymous_users_are_sent_to_log_in(org: Org, client: Any) -> None:
    response = client.get(reverse("reports:statement"))
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize(
    "query",
    [
        {"kind": "decade"},
        {"kind": "all"},  # rankings know all time; a statement covers a period
        {"on": "2026-13-01"},
        {"on": "yesterday"},
        {"on": "20261120"},
        {"kind": "year", "on": "9999-12-31"},
        {"kind": "week", "on": "9999-12-31"},
    ],
)
def test_bad_parameters_are_a_400_with_a_message(org: Org, login: Any, query: Any) -> None:
    response = login(org.worker_a1).get(statement_url(**query))
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.strip()


def test_the_statement_form_page(org: Org, login: Any) -> None:
    response = login(org.worker_a1).get(reverse("reports:statement_form"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'action="{reverse("reports:statement")}"' in html
    assert 'name="kind"' in html and 'name="on"' in html and 'value="2026-11-20"' in html


# --- ranking ----------------------------------------------------------------------------


@pytest.fixture
def scored(org: Org, post: Any) -> Org:
    """November: 李四 (worker_b) 560, 张三 (worker_a1) 550, leader_a1 530, leader_b 510."""
    org.worker_a1.name = "张三"
    org.worker_a1.save()
    org.worker_b.name = "李四"
    org.worker_b.save()
    for member, amount in [
        (org.worker_a1, 50),
        (org.worker_b, 60),
        (org.leader_a1, 30),
        (org.leader_b, 10),
    ]:
        post(member, amount, effective_date=date(2026, 11, 3))
    return org


def ranking_url(**query: Any) -> str:
    return reverse("reports:ranking") + "?" + "&".join(f"{k}={v}" for k, v in query.items())


@pytest.mark.parametrize("parts", [1, 3])
def test_the_ranking_pdf_lists_members_in_rank_order(
    scored: Org, login: Any, parts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also laid out in parts side by side (a long ranking is): one document all the same,
    every member once in rank order, the title once, pages numbered over the whole."""
    if parts > 1:
        monkeypatch.setattr(reports, "RANKING_ROWS_PER_PART", 2)
        monkeypatch.setattr(pdf_module, "usable_cores", lambda: parts)
    response = login(scored.hr).get(ranking_url(kind="month", on="2026-11-20", format="pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "ranking-month-2026-11.pdf" in response["Content-Disposition"]
    text = pdf_text(response.content)
    assert "acme厂" in text and "2026-11-01" in text
    positions = [text.index(name) for name in ("李四", "张三", "acme-leader-a1", "acme-leader-b")]
    assert positions == sorted(positions)
    for total in ("560", "550", "530", "510"):
        assert total in text
    pages = [page for page in text.split("\f") if page.strip()]
    assert len(pages) >= parts
    for number, page in enumerate(pages, 1):
        assert re.search(rf"\b{number}\s*/\s*{len(pages)}\s*$", page), page[-200:]
    assert text.count("2026-11-01") == 1  # the facts table opens the first part only
    assert [text.count(name) for name in ("李四", "张三")] == [1, 1]


def test_the_ranking_xlsx(scored: Org, login: Any) -> None:
    response = login(scored.committee).get(
        ranking_url(kind="month", on="2026-11-20", format="xlsx")
    )
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX_CONTENT_TYPE
    assert "ranking-month-2026-11.xlsx" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    with translation.override("zh-hans"):
        assert list(rows[0]) == ranking_columns()
    expected = ranking_for_period(organisation=scored.organisation, kind="month", start=NOV)
    assert len(rows) == len(expected) + 1
    assert rows[1][:5] == (1, "李四", scored.worker_b.employee_no, scored.dept_b.name, 560)
    assert rows[2][:5] == (2, "张三", scored.worker_a1.employee_no, scored.team_a1.name, 550)
    for row, rank_row in zip(rows[1:], expected, strict=True):
        assert type(row[0]) is int and type(row[4]) is int
        assert (row[0], row[1], row[4]) == (rank_row.rank, rank_row.name, rank_row.total)
        assert row[5] in {"A", "B", "C", "D", "E"}  # forced distribution: 10 members


def test_a_formula_in_a_name_stays_text_in_the_xlsx(scored: Org, login: Any) -> None:
    scored.worker_b.name = '=HYPERLINK("http://example.invalid","x")'
    scored.worker_b.save()
    response = login(scored.hr).get(ranking_url(on="2026-11-20", format="xlsx"))
    cell = load_workbook(io.BytesIO(response.content)).active["B2"]
    assert cell.data_type == "s"
    assert cell.value == '=HYPERLINK("http://example.invalid","x")'


def test_the_ranking_of_a_unit_and_a_group(scored: Org, login: Any) -> None:
    client = login(scored.hr)
    response = client.get(ranking_url(on="2026-11-20", format="xlsx", unit=scored.dept_b.pk))
    names = [
        row[1]
        for row in load_workbook(io.BytesIO(response.content)).active.iter_rows(
            min_row=2, values_only=True
        )
    ]
    assert names == ["李四", "acme-leader-b"]
    response = client.get(ranking_url(on="2026-11-20", format="xlsx", group="leaders"))
    names = [
        row[1]
        for row in load_workbook(io.BytesIO(response.content)).active.iter_rows(
            min_row=2, values_only=True
        )
    ]
    assert set(names) == {"acme-ceo", "acme-leader-a", "acme-leader-b", "acme-leader-a1"}
    response = client.get(ranking_url(kind="all", format="pdf", unit=scored.dept_b.pk))
    assert response.status_code == 200
    assert "ranking-all-all.pdf" in response["Content-Disposition"]
    assert scored.dept_b.name in pdf_text(response.content)


@pytest.mark.parametrize("who", ["worker_a1", "leader_a", "recorder", "admin"])
def test_only_hr_and_the_committee_download_rankings(scored: Org, login: Any, who: str) -> None:
    response = login(getattr(scored, who)).get(ranking_url(format="xlsx"))
    assert response.status_code == 403


def test_a_unit_of_another_organisation_is_404(scored: Org, other_org: Org, login: Any) -> None:
    response = login(scored.hr).get(ranking_url(format="xlsx", unit=other_org.dept_a.pk))
    assert response.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {"kind": "decade"},
        {"on": "2026-02-30"},
        {"format": "docx"},
        {"group": "everyone"},
        {"unit": "abc"},
    ],
)
def test_bad_ranking_parameters_are_a_400(scored: Org, login: Any, query: Any) -> None:
    assert login(scored.hr).get(ranking_url(**query)).status_code == 400


@pytest.mark.parametrize("fmt", ["pdf", "xlsx"])
def test_the_ranking_reads_a_bounded_number_of_queries(
    scored: Org, login: Any, post: Any, django_assert_max_num_queries: Any, fmt: str
) -> None:
    for number in range(30):
        member: Member = MemberFactory(
            organisation=scored.organisation, unit=scored.team_a1, name=f"extra-{number}"
        )
        post(member, number, effective_date=date(2026, 11, 4))
    client = login(scored.hr)
    with django_assert_max_num_queries(10):
        response = client.get(ranking_url(on="2026-11-20", format=fmt, unit=scored.dept_a.pk))
    assert response.status_code == 200


def test_a_redemption_line_shows_the_points_spent(chinese: Org, login: Any) -> None:
    """A redemption changes the redeemable balance only: its line shows that change, not 0."""
    from flows.redemption import redemption_request
    from points.models import Reward

    cup = Reward.objects.create(
        organisation=chinese.organisation, name="保温杯", points_cost=120, stock=3
    )
    redemption_request(user=chinese.worker_a1.user, reward_id=cup.pk)
    response = login(chinese.worker_a1).get(statement_url(kind="month"))
    text = squeezed(pdf_text(response.content))
    assert "-120可兑换积分" in text and "+0" not in text


@pytest.mark.parametrize("unit", ["x", "²", str(10**30)])
def test_a_ranking_unit_that_is_no_number_is_refused(scored: Org, login: Any, unit: str) -> None:
    """ "²" passes ``str.isdigit`` but not ``int``; 10**30 passes ``int`` but no database."""
    response = login(scored.hr).get(ranking_url(on="2026-11-20", format="xlsx", unit=unit))
    assert response.status_code == 400
