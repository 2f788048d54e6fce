""" "My points" (我的积分): a member sees their own balance, totals, ranks, twelve months of
trend, a filterable history, their open declarations, appeals and redemptions, the prizes
they won, and the reset reminder; bad filters get a clear error; the page costs the same
queries however long the history is and however many prizes the member won."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from flows.models import Declaration, DeclarationStatus
from flows.mypoints import member_monthly_trend, reset_reminder
from flows.redemption import redemption_request
from points.demo.seed import DEMO_PASSWORD
from points.models import Account, Member, PeriodTotal, Policy, PrizeAward, PrizeTable, PrizeTier
from points.models.shop import Reward
from points.selectors.ledger import ledger_verify
from points.services.accounts import period_close
from points.services.prizes import prize_award_mark_paid
from tests.conftest import Org
from tests.factories import TEST_PASSWORD, RuleItemFactory
from tests.flows.test_declaration_flow import _declare

pytestmark = pytest.mark.django_db
URL = "/points/me/"


def _json(html: str, element_id: str) -> Any:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert match, f"no json_script {element_id}"
    return json.loads(match.group(1))


def _figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert match, name
    return match.group(1).strip()


def _prizes(html: str) -> str:
    match = re.search(r'<section class="mdc-card pts-card" id="prizes">(.*?)</section>', html, re.S)
    assert match, "no prizes card"
    return match.group(1)


def _prize_rows(html: str) -> list[str]:
    return re.findall(r'<tr class="pts-prize"(.*?)</tr>', _prizes(html), re.S)


def _history(html: str) -> str:
    match = re.search(
        r'<table class="pts-table pts-history" id="history-table">(.*?)</table>', html, re.S
    )
    assert match, "no history table"
    return match.group(1)


@pytest.fixture
def rule(org: Org) -> Any:
    return RuleItemFactory(
        organisation=org.organisation,
        code="SUG-9",
        name="合理化建议被采用",
        kind="award",
        points_min=20,
        points_max=20,
    )


@pytest.fixture
def history(org: Org, post: Any, rule: Any) -> None:
    """worker_a1: base 500, +20 in September and October, −5 late in November approved by
    the leader; worker_b: +80 (never on worker_a1's page)."""
    approver = org.leader_a1.user
    post(org.worker_a1, 20, rule_item_id=rule.pk, effective_date=date(2026, 9, 3))
    post(org.worker_a1, 20, rule_item_id=rule.pk, effective_date=date(2026, 10, 8))
    post(
        org.worker_a1,
        -5,
        effective_date=date(2026, 11, 12),
        note="周三早会迟到",
        approved_by_id=approver.pk,
    )
    post(org.worker_b, 80, note="客户来函表扬")


def test_a_member_sees_their_own_figures_only(org: Org, login: Any, history: None) -> None:
    response = login(org.worker_a1).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    account = Account.objects.get(member=org.worker_a1)
    assert _figure(html, "balance") == str(account.redeemable) == "535"
    assert _figure(html, "lifetime") == str(account.lifetime_total) == "535"
    assert _figure(html, "month") == "495"  # base 500 and −5, booked in November
    assert _figure(html, "quarter") == "515"
    assert _figure(html, "year") == "535"
    # Everyone else has at least their 500 base points this month: worker_a1 is last of
    # the ten members, and second in their team (behind its leader).
    assert _figure(html, "rank-organisation") == "10"
    assert _figure(html, "rank-unit") == "2"
    table = _history(html)
    assert "合理化建议被采用" in table and "周三早会迟到" in table
    assert org.leader_a1.user.username in table  # the approver
    assert "客户来函表扬" not in html
    assert 'href="/reports/statement/form/"' in html

    other = login(org.worker_b).get(URL).content.decode()
    assert _figure(other, "balance") == "580"
    assert "周三早会迟到" not in other


def test_the_trend_chart_has_twelve_months_from_the_kept_totals(
    org: Org, login: Any, history: None
) -> None:
    html = login(org.worker_a1).get(URL).content.decode()
    chart = _json(html, "trend-data")
    assert chart["type"] == "line"
    labels = chart["data"]["labels"]
    values = chart["data"]["datasets"][0]["data"]
    assert len(labels) == len(values) == 12
    assert labels[0] == "2025-12" and labels[-1] == "2026-11"
    kept = dict(
        PeriodTotal.objects.filter(member=org.worker_a1, period_kind="month").values_list(
            "period_start", "total"
        )
    )
    assert values == [kept.get(date.fromisoformat(f"{label}-01"), 0) for label in labels]
    assert values[-3:] == [20, 20, 495]
    # The page loads Chart.js and the chart script from our own static files, no CDN.
    assert "/static/vendor/chartjs/chart.umd.min.js" in html
    assert "/static/flows/charts.js" in html
    assert "cdn" not in html.lower()


def test_monthly_trend_fills_months_without_entries(org: Org, post: Any) -> None:
    post(org.worker_a1, 7, effective_date=date(2026, 2, 2))
    trend = member_monthly_trend(member=org.worker_a1, last_month=date(2026, 3, 31), months=4)
    assert [(p.month, p.total) for p in trend] == [
        (date(2025, 12, 1), 0),
        (date(2026, 1, 1), 0),
        (date(2026, 2, 1), 7),
        (date(2026, 3, 1), 0),
    ]


@pytest.mark.parametrize(
    ("query", "present", "absent"),
    [
        ("kind=base", ["入职"], ["合理化建议被采用", "周三早会迟到"]),
        ("direction=deduction", ["周三早会迟到"], ["合理化建议被采用"]),
        ("direction=award", ["合理化建议被采用"], ["周三早会迟到"]),
        ("date_from=2026-10-01&date_to=2026-10-31", ["2026-10-08"], ["2026-09-03", "周三"]),
        ("q=建议", ["合理化建议被采用"], ["周三早会迟到"]),
        ("q=迟到", ["周三早会迟到"], ["合理化建议被采用"]),
    ],
)
def test_history_filters(
    org: Org, login: Any, history: None, query: str, present: list[str], absent: list[str]
) -> None:
    response = login(org.worker_a1).get(f"{URL}?{query}")
    assert response.status_code == 200
    table = _history(response.content.decode())
    for text in present:
        assert text in table, text
    for text in absent:
        assert text not in table, text


@pytest.mark.parametrize(
    "query",
    [
        "date_from=yesterday",
        "date_to=2026-13-45",
        "kind=bonus",
        "direction=sideways",
        "date_from=2026-11-01&date_to=2026-10-01",
        "q=" + "x" * 200,
    ],
)
def test_bad_filter_input_is_a_clear_400_not_a_500(
    org: Org, login: Any, history: None, query: str
) -> None:
    response = login(org.worker_a1).get(f"{URL}?{query}")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="pts-errors"' in html
    assert 'id="history-table"' not in html  # nothing guessed at
    assert _figure(html, "balance") == "535"  # the rest of the page still shows


def test_a_bad_page_number_shows_a_page(org: Org, login: Any, history: None) -> None:
    for page in ("abc", "999", "-1"):
        assert login(org.worker_a1).get(f"{URL}?page={page}").status_code == 200


def test_history_is_paginated_and_keeps_the_filter(org: Org, login: Any, post: Any) -> None:
    for n in range(45):
        post(org.worker_a1, 1, note=f"第{n}次分享")
    html = login(org.worker_a1).get(f"{URL}?direction=award").content.decode()
    assert _history(html).count("<tr class=") == 20
    assert "direction=award&amp;page=2" in html
    page3 = login(org.worker_a1).get(f"{URL}?direction=award&page=3").content.decode()
    assert _history(page3).count("<tr class=") == 6  # 45 + the base points = 46


def test_open_declarations_appeals_and_redemptions_are_listed(
    org: Org, login: Any, rule: Any, post: Any
) -> None:
    rule_member = RuleItemFactory(
        organisation=org.organisation, kind="award", points_min=10, points_max=10, name="班前分享"
    )
    _declare(org.worker_a1, rule_member)
    _declare(org.worker_b, rule_member)
    cup = Reward.objects.create(
        organisation=org.organisation, name="保温杯", points_cost=120, stock=3
    )
    redemption_request(user=org.worker_a1.user, reward_id=cup.pk)
    declaration = Declaration.objects.get(member=org.worker_a1)
    assert declaration.status == DeclarationStatus.SUBMITTED
    html = login(org.worker_a1).get(URL).content.decode()
    section = html[html.index('id="declarations"') : html.index('id="appeals"')]
    assert f"#{declaration.pk}" in section and "班前分享" in section
    assert section.count("<li>") == 1  # not worker_b's
    withdraw = f"/declarations/declaration/withdraw/{declaration.pk}/"
    assert f'href="{withdraw}">撤回</a>' in section, "the member may take it back from here"
    assert login(org.worker_a1).get(withdraw).status_code == 200
    redemptions = html[html.index('id="redemptions"') :]
    assert "保温杯" in redemptions[:800] and "120" in redemptions[:800]
    # A redemption spends the redeemable balance (not the ranking total, by default).
    assert _figure(html, "balance") == "380" and _figure(html, "lifetime") == "500"
    # ... and its line in the history says so, in red, not "+0"
    line = next(row for row in _history(html).split("<tr")[1:] if "保温杯" in row)
    assert "pts-kind-deduction" in line and "-120 <small>可兑换积分</small>" in line


def _prize_table(org: Org, name: str, tiers: list[tuple[int, str, int]], **fields: Any) -> Any:
    table = PrizeTable.objects.create(organisation=org.organisation, name=name, **fields)
    by = "min_points" if fields.get("basis") == "threshold" else "place"
    for key, prize, amount in tiers:
        PrizeTier.objects.create(table=table, prize=prize, amount=Decimal(amount), **{by: key})
    return table


def test_the_prizes_won_are_listed_paid_or_to_be_paid(org: Org, login: Any, post: Any) -> None:
    """October closes: worker_a1 comes first of the monthly rank table and reaches the
    second step of the threshold table; HR pays the rank prize. worker_b's prize is not on
    worker_a1's page."""
    _prize_table(org, "月度排名奖", [(1, "100元", 100), (2, "80元", 80)])
    _prize_table(
        org,
        "读书积分奖",
        [(20, "价值50元的图书", 50), (40, "价值100元的图书", 100)],
        basis="threshold",
    )
    post(org.worker_a1, 50, effective_date=date(2026, 10, 10))
    post(org.worker_b, 30, effective_date=date(2026, 10, 12))
    period_close(organisation=org.organisation, month=date(2026, 10, 1))
    rank_prize = PrizeAward.objects.get(member=org.worker_a1, place=1)
    prize_award_mark_paid(award=rank_prize, user=org.hr.user)

    html = login(org.worker_a1).get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    rows = _prize_rows(html)
    assert len(rows) == 2
    by_table = {("月度排名奖" in row): row for row in rows}
    rank, threshold = by_table[True], by_table[False]
    for row in rows:
        assert "2026-10-01" in row and "2026-10-31" in row
    assert 'data-paid="yes"' in rank and "100元" in rank and "100.00" in rank
    assert 'data-place="1"' in rank and "paid on 2026-11-20" in rank
    assert "读书积分奖" in threshold and "价值100元的图书" in threshold and "100.00" in threshold
    assert 'data-threshold="40"' in threshold and "data-place" not in threshold
    assert 'data-paid="no"' in threshold and "to be paid" in threshold
    assert "80元" not in _prizes(html)  # worker_b's place 2

    other = login(org.worker_b).get(URL).content.decode()
    assert len(_prize_rows(other)) == 2  # 80元, and 价值50元的图书 for 30 points
    assert 'data-place="2"' in _prizes(other) and 'data-threshold="20"' in _prizes(other)
    nobody = login(org.hr).get(URL).content.decode()
    assert _prize_rows(nobody) == [] and 'id="prizes-table"' not in nobody


def _award_prizes(org: Org, member: Member, months: int, *, first: date) -> None:
    """``months`` months of prizes for ``member`` from ``first`` backwards, each month one of
    a rank table and one of a threshold table, every other one paid."""
    rank, _created = PrizeTable.objects.get_or_create(
        organisation=org.organisation, name="月度排名奖"
    )
    threshold, _created = PrizeTable.objects.get_or_create(
        organisation=org.organisation, name="月度达标奖", basis="threshold"
    )
    PrizeTier.objects.get_or_create(table=rank, place=1, defaults={"prize": "100元"})
    PrizeTier.objects.get_or_create(table=threshold, min_points=10, defaults={"prize": "书签"})
    awards = []
    month = first
    for n in range(months):
        end = month.replace(day=28)
        for table, place, prize in ((rank, 1, "100元"), (threshold, None, "书签")):
            paid = n % 2 == 0
            awards.append(
                PrizeAward(
                    organisation=org.organisation,
                    table=table,
                    member=member,
                    period_kind="month",
                    period_start=month,
                    period_end=end,
                    place=place,
                    total=20 + n,
                    prize=prize,
                    amount=Decimal(100),
                    paid=paid,
                    paid_at=timezone.now() if paid else None,
                    paid_by=org.hr.user if paid else None,
                )
            )
        month = (month - timedelta(days=1)).replace(day=1)
    PrizeAward.objects.bulk_create(awards)


def test_the_reset_reminder_shows_within_the_policy_days(
    org: Org, login: Any, history: None
) -> None:
    policy = Policy.objects.get(organisation=org.organisation)
    html = login(org.worker_a1).get(URL).content.decode()
    assert 'id="reset-reminder"' not in html  # no year-end reset by default
    policy.year_end_reset = True
    policy.expiry_reminder_days = 15
    policy.save()
    html = login(org.worker_a1).get(URL).content.decode()
    assert 'id="reset-reminder"' not in html  # 2026-11-20: 41 days before 12-31
    policy.expiry_reminder_days = 45
    policy.save()
    html = login(org.worker_a1).get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    reminder = html[html.index('id="reset-reminder"') :]
    assert "reset on 12-31, 41 days from now" in reminder[:300] and "535" in reminder[:300]


def test_reset_reminder_dates() -> None:
    policy = Policy(year_end_reset=True, expiry_reminder_days=15)
    assert reset_reminder(policy=policy, today=date(2026, 12, 16), balance=10).days == 15
    assert reset_reminder(policy=policy, today=date(2026, 12, 15), balance=10) is None
    assert reset_reminder(policy=policy, today=date(2026, 12, 31), balance=10).days == 0
    policy.year_end_reset = False
    assert reset_reminder(policy=policy, today=date(2026, 12, 20), balance=10) is None


def test_anonymous_users_are_sent_to_log_in(org: Org) -> None:
    response = Client().get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_login_without_a_member_gets_a_message(db: Any) -> None:
    user = get_user_model().objects.create_user("nobody", password=TEST_PASSWORD)
    client = Client()
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    assert 'id="balance"' not in response.content.decode()


def _queries(client: Client, url: str, django_assert_max_num_queries: Any, budget: int) -> None:
    with django_assert_max_num_queries(budget):
        assert client.get(url).status_code == 200


#: Queries of "my points": session and user, the member, the statement's figures (one
#: statement), the policy, the trend, declarations and their items, the user's roles and
#: appeals, redemptions, the prizes won, the history's count and page and the page's
#: sources, and the site menu's permission checks.
BUDGET = 20


@pytest.mark.parametrize("query", ["", "?direction=award&q=分享", "?page=2"])
def test_query_budget_stays_flat_as_the_history_grows(
    org: Org, login: Any, post: Any, rule: Any, django_assert_max_num_queries: Any, query: str
) -> None:
    client = login(org.worker_a1)
    rule_member = RuleItemFactory(organisation=org.organisation, kind="award")
    _declare(org.worker_a1, rule_member)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL + query).status_code == 200
        return len(captured)

    for n in range(3):
        post(org.worker_a1, 2, rule_item_id=rule.pk, note=f"分享{n}", approved_by_id=org.hr.user_id)
    _award_prizes(org, org.worker_a1, 1, first=date(2026, 10, 1))
    few = count()
    for n in range(3, 120):
        post(
            org.worker_a1,
            2,
            rule_item_id=rule.pk,
            note=f"分享{n}",
            effective_date=date(2026, 1 + n % 11, 1 + n % 27),
            approved_by_id=(org.hr if n % 2 else org.leader_a1).user_id,
        )
    for _ in range(4):
        _declare(org.worker_a1, rule_member)
    _award_prizes(org, org.worker_a1, 24, first=date(2026, 8, 1))  # 48 prizes, half paid
    many = count()
    assert len(_prize_rows(client.get(URL + query).content.decode())) == 50
    assert many <= few, (few, many)
    _queries(client, URL + query, django_assert_max_num_queries, BUDGET)


def demo_has_twelve_months_for_the_charts() -> None:
    """After ``seed_demo`` (run by ``tests/points/test_seed_demo.py``, which seeds once for
    several checks): the demo member's charts have twelve months, every one with points."""
    client = Client()
    assert client.login(username="member", password=DEMO_PASSWORD)
    html = client.get(URL).content.decode()
    values = _json(html, "trend-data")["data"]["datasets"][0]["data"]
    assert len(values) == 12 and all(values), values  # every month has points
    # Eleven months of fixed points before this one, through the ledger.
    fixed = client.get(f"{URL}?kind=fixed").content.decode()
    assert _history(fixed).count("<tr class=") == 11
    leader = Client()
    assert leader.login(username="leader", password=DEMO_PASSWORD)
    dashboard = leader.get("/points/dashboard/")
    assert dashboard.status_code == 200
    assert ledger_verify() == []
