"""Dashboards (看板): leaders see their units' subtrees, HR and the committee their whole
organisation, plain members nothing (403) and nobody another department's or
organisation's figures; the charts' data is right; the query count stays flat."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from flows.dashboards import distribution_bins
from flows.models import Appeal, Declaration
from points.models import EntryKind
from points.roles import Role
from tests.conftest import Org
from tests.factories import RuleItemFactory
from tests.flows.test_declaration_flow import _declare
from tests.flows.test_publicity import _appeal, _published, _reexamine, _rule

pytestmark = pytest.mark.django_db
URL = "/points/dashboard/"


def _json(html: str, element_id: str) -> Any:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    assert match, f"no json_script {element_id}"
    return json.loads(match.group(1))


def _figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert match, name
    return match.group(1).strip()


def _section(html: str, name: str) -> str:
    start = html.index(f'id="{name}"')
    end = html.find("</section>", start)
    return html[start:end]


@pytest.fixture
def award(org: Org) -> Any:
    return RuleItemFactory(
        organisation=org.organisation, kind="award", points_min=10, points_max=100
    )


@pytest.fixture
def points(org: Org, post: Any) -> None:
    """This month on top of everyone's 500 base points: worker_a1 +60, worker_b +140,
    leader_a −20."""
    post(org.worker_a1, 60, note="a1")
    post(org.worker_b, 140, note="b")
    post(org.leader_a, -20, note="leader a")


def test_plain_members_and_recorders_get_403(org: Org, login: Any) -> None:
    for member in (org.worker_a1, org.worker_b, org.recorder, org.admin):
        assert login(member).get(URL).status_code == 403, member


def test_anonymous_users_are_sent_to_log_in(org: Org) -> None:
    response = Client().get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_leader_sees_only_their_subtree(org: Org, login: Any, points: None) -> None:
    response = login(org.leader_a).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    # dept_a: leader_a, the recorder, and team_a1 (leader_a1, worker_a1).
    assert _figure(html, "members") == "4"
    assert _figure(html, "total") == str(500 * 4 + 60 - 20)
    names = _section(html, "top") + _section(html, "bottom") + _section(html, "units")
    assert org.worker_a1.name in names and org.leader_a.name in names
    assert org.worker_b.name not in html and org.ceo.name not in names
    units = _json(html, "chart-units")
    assert units["data"]["labels"][0] == org.team_a1.name
    assert units["data"]["datasets"][0]["data"] == [1060, 980]  # team_a1, dept_a's own
    # The unit picker offers the subtree only.
    assert f'value="{org.team_a1.pk}"' in html and f'value="{org.dept_b.pk}"' not in html

    # Another department is "not found"; a unit inside the subtree is fine.
    assert login(org.leader_a).get(f"{URL}?unit={org.dept_b.pk}").status_code == 404
    assert login(org.leader_a).get(f"{URL}?unit={org.company.pk}").status_code == 404
    team = login(org.leader_a).get(f"{URL}?unit={org.team_a1.pk}").content.decode()
    assert _figure(team, "members") == "2"

    other = login(org.leader_b).get(URL).content.decode()
    assert _figure(other, "members") == "2"  # leader_b and worker_b
    assert org.worker_a1.name not in other
    assert login(org.leader_b).get(f"{URL}?unit={org.dept_a.pk}").status_code == 404
    assert login(org.leader_a1).get(f"{URL}?unit={org.dept_a.pk}").status_code == 404


@pytest.mark.parametrize("role", ["hr", "committee"])
def test_hr_and_the_committee_see_the_whole_organisation(
    org: Org, login: Any, points: None, role: str
) -> None:
    html = login(getattr(org, role)).get(URL).content.decode()
    assert _figure(html, "members") == "10"
    assert _figure(html, "total") == str(500 * 10 + 60 + 140 - 20)
    top = _section(html, "top")
    assert top.index(org.worker_b.name) < top.index(org.worker_a1.name)
    assert org.leader_a.name in _section(html, "bottom")
    distribution = _json(html, "chart-distribution")
    assert sum(distribution["data"]["datasets"][0]["data"]) == 10
    units = _json(html, "chart-units")
    assert units["data"]["labels"][:2] == [org.dept_a.name, org.dept_b.name]
    assert units["data"]["datasets"][0]["data"][:2] == [2040, 1140]
    # Any unit of the organisation may be picked.
    assert login(getattr(org, role)).get(f"{URL}?unit={org.dept_b.pk}").status_code == 200


def test_another_organisation_sees_nothing_of_ours(
    org: Org, other_org: Org, login: Any, points: None
) -> None:
    html = login(other_org.hr).get(URL).content.decode()
    assert _figure(html, "members") == "10"
    assert _figure(html, "total") == "5000"  # their own base points only
    assert org.worker_b.name not in html
    for unit in (org.company, org.dept_a):
        assert login(other_org.hr).get(f"{URL}?unit={unit.pk}").status_code == 404
        assert login(other_org.leader_a).get(f"{URL}?unit={unit.pk}").status_code == 404


@pytest.mark.parametrize(
    "query", ["month=2026-13", "month=last", "month=9999-12", "unit=abc", "unit=1.5"]
)
def test_bad_input_is_a_clear_400(org: Org, login: Any, query: str) -> None:
    response = login(org.hr).get(f"{URL}?{query}")
    assert response.status_code == 400
    assert 'id="dashboard-errors"' in response.content.decode()


def test_a_past_month(org: Org, login: Any, post: Any) -> None:
    post(org.worker_b, 30, effective_date=date(2026, 10, 5), note="october")
    html = login(org.hr).get(f"{URL}?month=2026-10").content.decode()
    assert _figure(html, "total") == "30"  # the base points were booked in November
    assert 'value="2026-10"' in html


def test_participation_counts_declarations_and_redemptions(
    org: Org, login: Any, award: Any, post: Any
) -> None:
    assert _declare(org.worker_a1, award, points=20).status_code == 302
    assert _declare(org.worker_a1, award, points=30).status_code == 302
    post(org.worker_b, -100, kind=EntryKind.REDEMPTION, note="兑换：保温杯")
    html = login(org.hr).get(URL).content.decode()
    assert _figure(html, "declared") == "1 (10.0%)"
    assert _figure(html, "redeemed") == "1 (10.0%)"
    assert _json(html, "chart-participation")["data"]["datasets"][0]["data"] == [10.0, 10.0]
    # The leader of dept_b sees worker_b's redemption, not worker_a1's declarations.
    html = login(org.leader_b).get(URL).content.decode()
    assert _figure(html, "declared") == "0 (0.0%)"
    assert _figure(html, "redeemed") == "1 (50.0%)"
    # Last month nobody took part.
    html = login(org.hr).get(f"{URL}?month=2026-10").content.decode()
    assert _figure(html, "declared") == "0 (0.0%)"


def test_a_withdrawn_declaration_is_not_taking_part(org: Org, login: Any, award: Any) -> None:
    assert _declare(org.worker_a1, award, points=20).status_code == 302
    assert _declare(org.worker_b, award, points=20).status_code == 302
    html = login(org.hr).get(URL).content.decode()
    assert _figure(html, "declared") == "2 (20.0%)"
    withdrawn = Declaration.objects.get(member=org.worker_b)
    response = login(org.worker_b).post(
        f"/declarations/declaration/withdraw/{withdrawn.pk}/", {"confirm": "1", "reason": "报错"}
    )
    assert response.status_code == 302
    html = login(org.hr).get(URL).content.decode()
    assert _figure(html, "declared") == "1 (10.0%)"


def test_pending_review_ages_per_reviewer(org: Org, login: Any, award: Any) -> None:
    assert _declare(org.worker_a1, award, points=20).status_code == 302  # leader_a1 reviews
    assert _declare(org.worker_b, award, points=20).status_code == 302  # leader_b reviews
    with time_machine.travel(datetime(2026, 11, 24, 12, 0, tzinfo=UTC), tick=False):
        assert _declare(org.worker_b, award, points=30).status_code == 302
        html = login(org.hr).get(URL).content.decode()
        leader_a = login(org.leader_a).get(URL).content.decode()
    reviewers = _json(html, "chart-reviewers")
    assert reviewers["data"]["labels"] == [org.leader_a1.name, org.leader_b.name]
    oldest, pending = (d["data"] for d in reviewers["data"]["datasets"])
    assert oldest == [4, 4] and pending == [1, 2]
    table = _section(html, "reviewers")
    assert table.count("<tr>") == 3  # the header and two reviewers
    # leader_a's subtree holds worker_a1's declaration only.
    assert _json(leader_a, "chart-reviewers")["data"]["labels"] == [org.leader_a1.name]


def test_appeal_counts_and_outcomes(org: Org, login: Any, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation,
        name="合理化建议",
        kind="award",
        points_min=10,
        points_max=100,
    )
    committee2 = org.member(org.company, "acme-committee2", role=Role.COMMITTEE)
    summary = _published(org, rule, committee2)
    item_a1 = summary.items.get(member=org.worker_a1)
    item_b = summary.items.get(member=org.worker_b)
    assert _appeal(org.worker_b, item_a1).status_code == 302
    _reexamine(org)
    assert _rule(org.committee, "amend", 20).status_code == 302
    assert _appeal(org.worker_a1, item_b).status_code == 302
    assert Appeal.objects.count() == 2
    html = login(org.committee).get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _figure(html, "appeals") == "2"
    chart = _json(html, "chart-appeals")
    outcomes = dict(zip(chart["data"]["labels"], chart["data"]["datasets"][0]["data"], strict=True))
    # One waits for HR's re-examination, one was ruled "amend".
    assert sorted(outcomes.values()) == [0, 0, 0, 0, 1, 1]
    assert outcomes["amend the points"] == 1 and outcomes["being re-examined by HR"] == 1
    # Appeals are counted where the appealed member is: worker_a1's in dept_a.
    leader_a = login(org.leader_a).get(URL).content.decode()
    assert _figure(leader_a, "appeals") == "1"
    # "My points" lists the appeal about worker_a1's item, with its ruling.
    mine = login(org.worker_a1).get("/points/me/").content.decode()
    assert mine.count("#", mine.index('id="appeals"'), mine.index('id="redemptions"')) >= 2


def test_distribution_bins_are_round() -> None:
    assert distribution_bins([]) == []
    bins = distribution_bins([(500, 9), (530, 1)])
    assert (bins[0].low, bins[0].high, bins[0].members) == (500, 504, 9)
    assert bins[-1].members == 1 and sum(b.members for b in bins) == 10
    bins = distribution_bins([(-35, 2), (0, 5), (1200, 1)])
    assert [(b.low, b.members) for b in bins[:2]] == [(-200, 2), (0, 5)]
    assert bins[-1].high == 1399 and sum(b.members for b in bins) == 8
    assert len(distribution_bins([(7, 3)])) == 1


#: Session and user, the member, roles, units, the distribution, top, bottom, children,
#: the comparison, participation, the policy, pending reviews, reviewers' names, appeals,
#: and the site menu's permission checks.
BUDGET = 20


@pytest.mark.parametrize("who", ["hr", "leader_a"])
def test_query_budget_stays_flat_as_data_grows(
    org: Org, login: Any, award: Any, post: Any, django_assert_max_num_queries: Any, who: str
) -> None:
    client = login(getattr(org, who))

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    _declare(org.worker_a1, award, points=20)
    post(org.worker_a1, 10, note="1")
    few = count()
    for n in range(12):
        unit = (org.team_a1, org.dept_a, org.dept_b)[n % 3]
        member = org.member(unit, f"acme-extra-{n}")
        post(member, 5 * n, note=f"extra {n}")
        _declare(member, award, points=10 + n)
        if n % 4 == 0:
            post(member, -10, kind=EntryKind.REDEMPTION, note="兑换")
    many = count()
    assert many <= few, (few, many)
    with django_assert_max_num_queries(BUDGET):
        assert client.get(URL).status_code == 200
