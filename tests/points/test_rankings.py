"""Rankings (ties share a rank, top N, scope, groups, all time), grades and statements."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from points.models import Policy
from points.selectors.ledger import (
    RankGroup,
    RankRow,
    grades_by_bands,
    grades_forced_distribution,
    member_rank,
    member_statement,
    ranking_for_period,
)
from tests.conftest import Org
from tests.factories import RuleItemFactory

pytestmark = pytest.mark.django_db
NOV = date(2026, 11, 1)


@pytest.fixture
def scored(org: Org, post: Any) -> Org:
    """November: worker_a1 50, worker_b 50, leader_a1 30, leader_b 10, others only base."""
    for member, amount in [
        (org.worker_a1, 50),
        (org.worker_b, 50),
        (org.leader_a1, 30),
        (org.leader_b, 10),
    ]:
        post(member, amount, effective_date=date(2026, 11, 3))
    post(org.worker_b, -20, effective_date=date(2026, 10, 3))
    return org


def _names(rows: list[RankRow]) -> list[tuple[int, str, int]]:
    return [(r.rank, r.name, r.total) for r in rows]


def test_monthly_ranking_ties_share_a_rank(scored: Org) -> None:
    rows = ranking_for_period(organisation=scored.organisation, kind="month", start=NOV)
    top = _names(rows)[:4]
    assert top[0][0] == top[1][0] == 1 and {top[0][1], top[1][1]} == {
        "acme-worker-a1",
        "acme-worker-b",
    }
    assert top[2] == (3, "acme-leader-a1", 530)
    assert top[3] == (4, "acme-leader-b", 510)


def test_top_n_includes_everyone_tied_with_the_last_place(scored: Org) -> None:
    rows = ranking_for_period(organisation=scored.organisation, kind="month", start=NOV, top=1)
    assert [r.rank for r in rows] == [1, 1]
    rows = ranking_for_period(organisation=scored.organisation, kind="month", start=NOV, top=3)
    assert len(rows) == 3


def test_ranking_in_an_org_subtree(scored: Org) -> None:
    rows = ranking_for_period(
        organisation=scored.organisation, kind="month", start=NOV, unit=scored.dept_a
    )
    names = [r.name for r in rows]
    assert names[:2] == ["acme-worker-a1", "acme-leader-a1"]
    assert "acme-worker-b" not in names


def test_ranking_split_by_leaders_and_members(scored: Org) -> None:
    leaders = ranking_for_period(
        organisation=scored.organisation, kind="month", start=NOV, group=RankGroup.LEADERS
    )
    assert {r.name for r in leaders} == {
        "acme-ceo",
        "acme-leader-a",
        "acme-leader-b",
        "acme-leader-a1",
    }
    assert leaders[0].name == "acme-leader-a1"
    members = ranking_for_period(
        organisation=scored.organisation, kind="month", start=NOV, group=RankGroup.MEMBERS
    )
    assert "acme-leader-a1" not in {r.name for r in members}


def test_ranking_by_week_quarter_year_and_all_time(scored: Org) -> None:
    quarter = ranking_for_period(organisation=scored.organisation, kind="quarter", start=NOV)
    assert quarter[0].name == "acme-worker-a1" and quarter[0].total == 550
    assert {r.name: r.total for r in quarter}["acme-worker-b"] == 530
    week = ranking_for_period(
        organisation=scored.organisation, kind="week", start=date(2026, 11, 3)
    )
    assert {r.name for r in week} == {
        "acme-worker-a1",
        "acme-worker-b",
        "acme-leader-a1",
        "acme-leader-b",
    }
    all_time = ranking_for_period(organisation=scored.organisation, kind="all", top=1)
    assert [r.name for r in all_time] == ["acme-worker-a1"]


def test_member_rank_counts_higher_totals(scored: Org) -> None:
    assert member_rank(member=scored.leader_b, kind="month", start=NOV) == (4, 510)
    assert member_rank(member=scored.worker_b, kind="month", start=NOV) == (1, 550)
    assert member_rank(member=scored.leader_b, kind="month", start=NOV, unit=scored.dept_b)[0] == 2


def test_statement_has_balance_totals_history_and_ranks(scored: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=scored.organisation,
        name="顾客表扬",
        kind="award",
        points_min=50,
        points_max=50,
    )
    post(
        scored.worker_b,
        50,
        rule_item_id=rule.pk,
        effective_date=date(2026, 11, 4),
        approved_by_id=scored.leader_b.user.pk,
    )
    statement = member_statement(member=scored.worker_b, on=date(2026, 11, 20))
    assert statement.account.lifetime_total == 580
    assert statement.totals["month"] == 600 and statement.totals["year"] == 580
    latest = next(e for e in statement.entries if e.rule_item_id)
    assert latest.rule_item.name == "顾客表扬" and latest.approved_by == scored.leader_b.user
    assert statement.rank_in_organisation == 1 and statement.rank_in_unit == 1
    assert statement.vetoed is False


def _rows(totals: list[int]) -> list[RankRow]:
    return [RankRow(0, n, f"m{n}", f"E{n}", "u", t) for n, t in enumerate(totals)]


def test_forced_distribution_in_a_group_of_twenty(db: Any) -> None:
    policy = Policy()  # defaults: A 5–10%, B 15–20%, D 15–20%, E 5–10%
    grades = grades_forced_distribution(_rows(list(range(200, 0, -10))), policy)
    counts = {g: list(grades.values()).count(g) for g in "ABCDE"}
    assert counts == {"A": 2, "B": 4, "C": 8, "D": 4, "E": 2}
    assert grades[0] == "A" and grades[19] == "E"


def test_forced_distribution_keeps_ties_together_within_bounds(db: Any) -> None:
    policy = Policy()
    totals = [100, 90, 90, *range(80, 30, -3)]  # 20 members, a tie for second place
    grades = grades_forced_distribution(_rows(totals), policy)
    assert grades[1] == grades[2]


def test_small_groups_use_score_bands(db: Any) -> None:
    policy = Policy()
    grades = grades_forced_distribution(_rows([250, 150, 50, -10, -100]), policy)
    assert len(grades) == 5  # five is enough to distribute
    grades = grades_forced_distribution(_rows([250, 150, -100]), policy)
    assert grades == {0: "A", 1: "B", 2: "E"}


def test_threshold_grades_like_the_party_member_scheme() -> None:
    bands = [[80, "优秀"], [60, "合格"], [None, "警示"]]
    assert grades_by_bands(_rows([95, 80, 79, 60, 12]), bands) == {
        0: "优秀",
        1: "优秀",
        2: "合格",
        3: "合格",
        4: "警示",
    }


# --- week figures, summed from the entries ------------------------------------------------


def test_week_figures_are_summed_from_the_entries(scored: Org, post: Any) -> None:
    """Week totals are not kept: rankings, ranks and statements sum the week's entries,
    reversals included and resets (which clear balances, not what a period earned) left
    out."""
    from points.models import PeriodTotal
    from points.services.accounts import member_leave
    from points.services.ledger import ledger_reverse

    week = date(2026, 11, 3)  # Monday 2 – Sunday 8 November
    extra = post(scored.leader_b, 45, effective_date=date(2026, 11, 8))
    post(scored.worker_a1, 5, effective_date=date(2026, 11, 9))  # the next week
    ledger_reverse(entry=extra, reason="typo", today=date(2026, 11, 8))
    post(scored.leader_b, 15, effective_date=date(2026, 11, 8))
    member_leave(member=scored.leader_a1, left_on=date(2026, 11, 5), today=date(2026, 11, 5))
    assert not PeriodTotal.objects.filter(period_kind="week").exists()

    rows = ranking_for_period(organisation=scored.organisation, kind="week", start=week)
    assert _names(rows) == [
        (1, "acme-worker-a1", 50),
        (1, "acme-worker-b", 50),
        (3, "acme-leader-a1", 30),  # the reset on leaving does not count in the week
        (4, "acme-leader-b", 25),
    ]
    assert _names(
        ranking_for_period(organisation=scored.organisation, kind="week", start=week, top=1)
    ) == [(1, "acme-worker-a1", 50), (1, "acme-worker-b", 50)]
    in_dept_b = ranking_for_period(
        organisation=scored.organisation, kind="week", start=week, unit=scored.dept_b
    )
    assert _names(in_dept_b) == [(1, "acme-worker-b", 50), (2, "acme-leader-b", 25)]
    leaders = ranking_for_period(
        organisation=scored.organisation, kind="week", start=week, group=RankGroup.LEADERS
    )
    assert [r.name for r in leaders] == ["acme-leader-a1", "acme-leader-b"]

    assert member_rank(member=scored.leader_b, kind="week", start=week) == (4, 25)
    assert member_rank(member=scored.leader_b, kind="week", start=week, unit=scored.dept_b) == (
        2,
        25,
    )
    assert member_rank(member=scored.ceo, kind="week", start=week) == (5, 0)
    statement = member_statement(member=scored.leader_b, kind="week", on=week)
    assert statement.totals["week"] == 25 and statement.period_start == date(2026, 11, 2)
    assert (statement.rank_in_organisation, statement.rank_in_unit) == (4, 2)


@pytest.mark.parametrize("kind", ["week", "month", "quarter", "year"])
def test_the_statement_ranks_as_member_rank_does(scored: Org, post: Any, kind: str) -> None:
    post(scored.worker_a1, -70, effective_date=date(2026, 11, 4))
    post(scored.leader_a, 25, effective_date=date(2026, 11, 4))
    post(scored.leader_b, 40, effective_date=date(2026, 11, 5))
    on = date(2026, 11, 4)
    for member in (scored.worker_a1, scored.worker_b, scored.leader_a1, scored.leader_a):
        statement = member_statement(member=member, kind=kind, on=on)
        rank, total = member_rank(member=member, kind=kind, start=on)
        unit_rank, _total = member_rank(member=member, kind=kind, start=on, unit=member.unit)
        assert statement.totals[kind] == total
        assert (statement.rank_in_organisation, statement.rank_in_unit) == (rank, unit_rank)
        ranked = {
            row.member_id: row.rank
            for row in ranking_for_period(organisation=scored.organisation, kind=kind, start=on)
        }
        assert ranked.get(member.pk, rank) == rank
    ceo = member_statement(member=scored.ceo, kind=kind, on=on)  # the unit is the company
    assert ceo.rank_in_unit == ceo.rank_in_organisation


def test_the_statement_shows_a_standing_veto_until_its_entry_is_reversed(
    scored: Org, post: Any
) -> None:
    from points.services.ledger import ledger_reverse

    rule = RuleItemFactory(
        organisation=scored.organisation, kind="deduction", points_min=50, points_max=50, veto=True
    )
    entry = post(scored.worker_b, -50, rule_item_id=rule.pk, effective_date=date(2026, 11, 11))
    assert member_statement(member=scored.worker_b, on=date(2026, 11, 20)).vetoed
    assert member_statement(member=scored.worker_b, kind="week", on=date(2026, 11, 12)).vetoed
    assert not member_statement(member=scored.worker_b, kind="week", on=date(2026, 11, 4)).vetoed
    assert not member_statement(member=scored.worker_b, on=date(2026, 10, 20)).vetoed
    ledger_reverse(entry=entry, reason="overturned", today=date(2026, 11, 20))
    assert not member_statement(member=scored.worker_b, on=date(2026, 11, 20)).vetoed


def test_the_statement_of_a_member_without_an_account(scored: Org) -> None:
    from points.models import Account, Member

    member = Member.objects.get(pk=scored.worker_b.pk)
    statement = member_statement(member=member, on=date(2026, 11, 20))
    account = statement.account
    assert account is not None and account == Account.objects.get(member=member)
    assert (account.lifetime_total, account.redeemable, account.frozen) == (530, 530, False)
    assert account.updated_at is not None  # left deferred: loaded on use

    policy = scored.organisation.policy
    policy.base_points = 0
    policy.save()
    late = scored.member(scored.dept_b, "acme-late")
    assert not Account.objects.filter(member=late).exists()
    statement = member_statement(member=late, on=date(2026, 11, 20))
    assert statement.account is None and statement.entries == []
    assert statement.totals == {"week": 0, "month": 0, "quarter": 0, "year": 0}
    rows = ranking_for_period(organisation=scored.organisation, kind="month", start=NOV)
    assert statement.rank_in_organisation == 1 + sum(1 for row in rows if row.total > 0)
