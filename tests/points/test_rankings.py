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
