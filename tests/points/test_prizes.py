"""Prize tables: at period close the winners come from the ranking; vetoed members are
skipped and the next in line moves up; ties share a place; threshold tables give the
highest prize reached; quarterly tables wait for their last month; HR marks prizes paid."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from points.models import AuditEvent, Member, PrizeAward, PrizeTable, PrizeTier, RuleItem
from points.selectors.ledger import ledger_verify
from points.selectors.prizes import prize_awards_for_member
from points.services.accounts import period_close
from points.services.prizes import prizes_award_for_month_close, prizes_award_period
from tests.conftest import Org
from tests.factories import TEST_PASSWORD, RuleItemFactory

pytestmark = pytest.mark.django_db

OCTOBER = date(2026, 10, 1)
LAUNDRY = [(1, "100元", 100), (2, "80元", 80), (3, "60元", 60), (4, "40元", 40), (5, "20元", 20)]
SCHOOL = [
    (1500, "价值50元的图书", 50),
    (3000, "价值100元的图书", 100),
    (5000, "价值300元的图书", 300),
]


def _table(org: Org, name: str, *, tiers: list[tuple[int, str, int]], **fields: Any) -> PrizeTable:
    table = PrizeTable.objects.create(organisation=org.organisation, name=name, **fields)
    for key, prize, amount in tiers:
        by = "min_points" if fields.get("basis") == "threshold" else "place"
        PrizeTier.objects.create(table=table, prize=prize, amount=Decimal(amount), **{by: key})
    return table


@pytest.fixture
def veto_rule(org: Org) -> RuleItem:
    return RuleItemFactory(
        organisation=org.organisation, name="违章作业", veto=True, points_min=10, points_max=10
    )


def _october(post: Any, member: Member, amount: int, day: int = 10, **fields: Any) -> None:
    post(member, amount, effective_date=date(2026, 10, day), **fields)


def _awards(table: PrizeTable) -> list[tuple[str, int | None, str]]:
    return sorted((a.member.name, a.place, a.prize) for a in PrizeAward.objects.filter(table=table))


def test_a_rank_table_at_month_close_skips_the_vetoed_and_ties_share_a_place(
    org: Org, post: Any, veto_rule: RuleItem
) -> None:
    members = _table(org, "月度排名奖（员工组）", tiers=LAUNDRY, group="members")
    leaders = _table(org, "月度排名奖（组长组）", tiers=LAUNDRY[:1], group="leaders")
    # The best member is vetoed (a 10-point deduction under a veto rule): skipped.
    _october(post, org.worker_a1, 130)
    _october(post, org.worker_a1, -10, rule_item_id=veto_rule.pk)
    _october(post, org.worker_b, 90)
    _october(post, org.hr, 90)  # tied with worker B: both first
    _october(post, org.committee, 70)
    _october(post, org.admin, 40)
    _october(post, org.recorder, 30)  # sixth after the veto: fifth place moves to 5
    extra = org.member(org.dept_b, "acme-extra")
    _october(post, extra, 10)  # sixth place: no prize
    _october(post, org.leader_b, 200)
    _october(post, org.leader_a, 150)

    period_close(organisation=org.organisation, month=OCTOBER, actor=org.hr.user)

    assert _awards(members) == [
        ("acme-admin", 4, "40元"),
        ("acme-committee", 3, "60元"),
        ("acme-hr", 1, "100元"),
        ("acme-recorder", 5, "20元"),
        ("acme-worker-b", 1, "100元"),
    ]
    assert _awards(leaders) == [("acme-leader-b", 1, "100元")]
    award = PrizeAward.objects.get(table=members, member=org.worker_b)
    assert (award.period_kind, award.period_start, award.period_end) == (
        "month",
        OCTOBER,
        date(2026, 10, 31),
    )
    assert award.total == 90 and award.amount == Decimal(100) and not award.paid
    audit = AuditEvent.objects.get(action="prizes.award", data__table=members.pk)
    assert audit.data["vetoed_skipped"] == [org.worker_a1.pk]
    # Computed once: running the close's job again changes nothing.
    assert len(prizes_award_for_month_close(organisation=org.organisation, month=OCTOBER)) == 6
    call_command("award_prizes", "--month", "2026-10")
    call_command("award_prizes")
    assert PrizeAward.objects.count() == 6
    assert ledger_verify() == []


def test_no_prize_for_a_total_of_zero_or_less(org: Org, post: Any) -> None:
    table = _table(org, "月度排名奖", tiers=LAUNDRY)
    _october(post, org.worker_a1, 20)
    _october(post, org.worker_b, -5)
    period_close(organisation=org.organisation, month=OCTOBER)
    assert _awards(table) == [("acme-worker-a1", 1, "100元")]


def test_a_tie_on_the_last_place_gives_everyone_tied_that_prize(org: Org, post: Any) -> None:
    table = _table(org, "月度前二", tiers=LAUNDRY[:2])
    _october(post, org.worker_a1, 50)
    _october(post, org.worker_b, 40)
    _october(post, org.hr, 40)
    _october(post, org.admin, 30)
    period_close(organisation=org.organisation, month=OCTOBER)
    assert _awards(table) == [
        ("acme-hr", 2, "80元"),
        ("acme-worker-a1", 1, "100元"),
        ("acme-worker-b", 2, "80元"),
    ]


def test_a_threshold_table_gives_the_highest_prize_reached(
    org: Org, post: Any, veto_rule: RuleItem
) -> None:
    table = _table(org, "读书积分奖", tiers=SCHOOL, basis="threshold")
    _october(post, org.worker_a1, 1600)
    _october(post, org.worker_b, 3000)
    _october(post, org.hr, 5200)
    _october(post, org.admin, 1499)
    _october(post, org.committee, 6000)
    _october(post, org.committee, -10, rule_item_id=veto_rule.pk)  # vetoed: nothing
    period_close(organisation=org.organisation, month=OCTOBER)
    assert _awards(table) == [
        ("acme-hr", None, "价值300元的图书"),
        ("acme-worker-a1", None, "价值50元的图书"),
        ("acme-worker-b", None, "价值100元的图书"),
    ]


def test_a_quarterly_table_waits_for_every_month_of_the_quarter(org: Org, post: Any) -> None:
    table = _table(org, "季度排名奖", tiers=LAUNDRY, period_kind="quarter")
    post(org.worker_a1, 30, effective_date=date(2026, 7, 5))
    post(org.worker_b, 25, effective_date=date(2026, 9, 5))
    post(org.worker_a1, 10, effective_date=date(2026, 10, 5))  # the next quarter
    period_close(organisation=org.organisation, month=date(2026, 7, 1))
    period_close(organisation=org.organisation, month=date(2026, 9, 1))
    assert not PrizeAward.objects.exists()  # August is still open
    period_close(organisation=org.organisation, month=date(2026, 8, 1))
    assert _awards(table) == [("acme-worker-a1", 1, "100元"), ("acme-worker-b", 2, "80元")]
    assert PrizeAward.objects.get(member=org.worker_a1).total == 30
    # The same table for another period is a new round; a period is computed once.
    assert prizes_award_period(table=table, start=date(2026, 8, 15)) == list(
        PrizeAward.objects.filter(table=table)
    )


def test_a_scoped_table_ranks_its_subtree_only(org: Org, post: Any) -> None:
    table = _table(org, "A部门月度奖", tiers=LAUNDRY[:1], unit=org.dept_a)
    _october(post, org.worker_b, 100)  # department B
    _october(post, org.worker_a1, 50)  # team A1, under department A
    period_close(organisation=org.organisation, month=OCTOBER)
    assert _awards(table) == [("acme-worker-a1", 1, "100元")]


def test_an_inactive_table_awards_nothing(org: Org, post: Any) -> None:
    _table(org, "停用", tiers=LAUNDRY, active=False)
    _october(post, org.worker_a1, 50)
    period_close(organisation=org.organisation, month=OCTOBER)
    assert not PrizeAward.objects.exists()


# --- the winners list and paying ------------------------------------------------------------


def _client(member: Member) -> Client:
    client = Client()
    client.raise_request_exception = False
    assert client.login(username=member.user.username, password=TEST_PASSWORD)
    return client


@pytest.fixture
def won(org: Org, post: Any) -> PrizeAward:
    _table(org, "月度排名奖", tiers=LAUNDRY[:1])
    _october(post, org.worker_a1, 50)
    period_close(organisation=org.organisation, month=OCTOBER)
    return PrizeAward.objects.get()


def test_hr_lists_the_winners_and_marks_a_prize_paid(org: Org, won: PrizeAward) -> None:
    client = _client(org.hr)
    page = client.get("/shop/prizes/")
    assert page.status_code == 200
    assert "acme-worker-a1" in page.content.decode()
    assert "<th>名次</th>" in page.content.decode()  # the rank, not the 地点 of an event
    assert client.post(f"/shop/prizes/{won.pk}/paid/").status_code == 302
    won.refresh_from_db()
    assert won.paid and won.paid_at is not None and won.paid_by == org.hr.user
    org.hr.name = "人事小李"
    org.hr.save()
    assert "人事小李" in client.get("/shop/prizes/").content.decode()  # by name, not login
    assert AuditEvent.objects.filter(action="prizes.paid", member=org.worker_a1).exists()
    # Twice is refused with a message; nothing changes.
    paid_at = won.paid_at
    assert client.post(f"/shop/prizes/{won.pk}/paid/").status_code == 302
    won.refresh_from_db()
    assert won.paid_at == paid_at
    assert "acme-worker-a1" in client.get("/shop/prizes/?paid=yes").content.decode()
    assert "acme-worker-a1" not in client.get("/shop/prizes/?paid=no").content.decode()


def test_the_winners_list_shows_the_prize_and_its_value_in_yuan_apart(
    org: Org, won: PrizeAward
) -> None:
    """The prize as the table names it ("100元"), and its value in its own column, as on
    "my points": not a raw Decimal after the name ("100元 (100.00)")."""
    html = _client(org.hr).get("/shop/prizes/").content.decode()
    assert "(100.00)" not in html
    assert f'<td data-label="奖项">{won.prize}</td>' in html
    assert '<th class="pts-num">金额（元）</th>' in html
    assert '<td data-label="金额（元）" class="pts-num">100.00</td>' in html
    won.amount = None
    won.save()
    html = _client(org.hr).get("/shop/prizes/").content.decode()
    assert '<td data-label="金额（元）" class="pts-num">—</td>' in html


@pytest.mark.parametrize("name", ["worker_a1", "leader_a", "committee"])
def test_only_hr_sees_the_winners_list(org: Org, won: PrizeAward, name: str) -> None:
    client = _client(getattr(org, name))
    assert client.get("/shop/prizes/").status_code == 403
    assert client.post(f"/shop/prizes/{won.pk}/paid/").status_code == 403
    won.refresh_from_db()
    assert not won.paid


def test_another_organisations_hr_cannot_pay(org: Org, other_org: Org, won: PrizeAward) -> None:
    client = _client(other_org.hr)
    assert "acme-worker-a1" not in client.get("/shop/prizes/").content.decode()
    assert client.post(f"/shop/prizes/{won.pk}/paid/").status_code == 404
    won.refresh_from_db()
    assert not won.paid


def test_the_members_prizes_for_my_points(org: Org, won: PrizeAward) -> None:
    assert list(prize_awards_for_member(member=org.worker_a1)) == [won]
    assert list(prize_awards_for_member(member=org.worker_b)) == []
