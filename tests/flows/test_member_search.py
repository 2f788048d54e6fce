"""Member pickers for long lists: a notice's members and a recorder's declare-for are found by
search (``/members/search/``) once there are more than POINTS_MEMBER_SEARCH_ABOVE; the search
answers only members the user may pick there."""

from __future__ import annotations

from typing import Any

import pytest

from flows.models import AwardNotice
from points.models import MemberStatus
from points.roles import Role
from tests.conftest import Org, queries_of
from tests.factories import MemberFactory, OrgUnitFactory, RuleItemFactory
from tests.flows.test_declaration_flow import START as DECLARE
from tests.flows.test_declaration_flow import _client, _declare

pytestmark = pytest.mark.django_db
SEARCH = "/members/search/"
NOTICE = "/declarations/awardnotice/start/"


def _found(member: Any, purpose: str, query: str) -> list[str]:
    response = _client(member).get(SEARCH, {"for": purpose, "q": query})
    assert response.status_code == 200, response.content.decode()
    return [row["text"] for row in response.json()["results"]]


def _select(html: str, name: str) -> str:
    return html.split(f'name="{name}"')[1].split("</select>")[0]


@pytest.fixture
def late(org: Org) -> Any:
    return RuleItemFactory(
        organisation=org.organisation, code="ATD-002", name="迟到", kind="deduction",
        category="attendance", points_min=5, points_max=5,
    )  # fmt: skip


def test_a_leader_finds_members_of_the_units_they_lead_only(org: Org, other_org: Org) -> None:
    other_org.member(other_org.dept_a, "acme-look-alike")  # another organisation's
    found = _found(org.leader_a, "notice", "acme")
    names = {text.split(" (")[0] for text in found}
    assert names == {"acme-leader-a1", "acme-worker-a1", "acme-recorder"}
    # not themselves, not department B, not another organisation
    assert f"acme-worker-a1 ({org.worker_a1.employee_no} · {org.team_a1.name})" in found


def test_the_search_matches_the_start_of_an_employee_number(org: Org) -> None:
    org.worker_a1.employee_no = "W-7788"
    org.worker_a1.save()
    assert [t.split(" (")[0] for t in _found(org.leader_a, "notice", "w-77")] == ["acme-worker-a1"]
    assert _found(org.leader_a, "notice", "7788") == []  # the start, not the middle


def test_members_who_left_are_not_found(org: Org) -> None:
    org.worker_a1.status = MemberStatus.LEFT
    org.worker_a1.save()
    assert _found(org.leader_a, "notice", "worker") == []


def test_somebody_who_leads_nobody_is_refused_the_notice_search(org: Org) -> None:
    response = _client(org.worker_a1).get(SEARCH, {"for": "notice", "q": "acme"})
    assert response.status_code == 403


def test_the_search_needs_to_know_what_the_members_are_for(org: Org) -> None:
    response = _client(org.leader_a).get(SEARCH, {"q": "acme"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "请说明选择成员的用途。"


def test_an_empty_search_finds_nobody(org: Org) -> None:
    assert _found(org.leader_a, "notice", "  ") == []


def test_a_visitor_is_sent_to_log_in(client: Any) -> None:
    response = client.get(SEARCH, {"for": "notice", "q": "a"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_search_lists_20_at_most_in_the_same_queries(org: Org) -> None:
    def queries(leader: Any) -> int:
        return queries_of(_client(leader), SEARCH, {"for": "notice", "q": "批量"})

    for n in range(3):
        MemberFactory(organisation=org.organisation, unit=org.team_a1, name=f"批量{n}")
    few = queries(org.leader_a)
    for n in range(3, 40):
        MemberFactory(organisation=org.organisation, unit=org.team_a1, name=f"批量{n}")
    assert queries(org.leader_a) == few
    assert len(_found(org.leader_a, "notice", "批量")) == 20


def test_a_recorder_finds_members_of_their_scope_who_have_a_reviewer(org: Org) -> None:
    assert {t.split(" (")[0] for t in _found(org.recorder, "declare", "acme")} == {
        "acme-leader-a", "acme-leader-a1", "acme-worker-a1", "acme-recorder",
    }  # fmt: skip
    top = org.member(org.company, "acme-top-recorder", role=Role.RECORDER)
    found = {t.split(" (")[0] for t in _found(top, "declare", "acme")}
    assert "acme-worker-b" in found and "acme-ceo" not in found  # nobody above the CEO


def test_a_member_who_is_no_recorder_finds_only_themselves(org: Org) -> None:
    assert [t.split(" (")[0] for t in _found(org.worker_a1, "declare", "acme")] == [
        "acme-worker-a1"
    ]
    assert _found(org.worker_a1, "declare", "leader") == []


def test_a_short_list_is_drawn_whole_with_numbers_and_units(org: Org) -> None:
    html = _client(org.leader_a).get(NOTICE).content.decode()
    members = _select(html, "members")
    assert "data-search-url" not in members
    assert f"acme-worker-a1 ({org.worker_a1.employee_no} · {org.team_a1.name})" in members
    assert f'value="{org.leader_a1.pk}"' in members


def test_a_long_list_draws_only_the_chosen_and_is_searched(
    org: Org, late: Any, settings: Any
) -> None:
    settings.POINTS_MEMBER_SEARCH_ABOVE = 2
    client = _client(org.leader_a)
    members = _select(client.get(NOTICE).content.decode(), "members")
    assert f'data-search-url="{SEARCH}?for=notice"' in members
    assert "<option" not in members and "输入姓名或工号" in members
    # a refused form keeps its chosen members, and draws only them
    response = client.post(
        NOTICE, {"members": [org.worker_a1.pk], "rule_item": late.pk, "quantity": 1}
    )
    members = _select(response.content.decode(), "members")
    assert f'value="{org.worker_a1.pk}" selected' in members
    assert f'value="{org.leader_a1.pk}"' not in members

    # a member outside the leader's units is refused, whatever the page drew
    def issue(member: Any) -> Any:
        data = {"rule_item": late.pk, "quantity": 1, "event_date": "2026-11-12"}
        return client.post(NOTICE, {**data, "members": [member.pk], "description": "迟到"})

    response = issue(org.worker_b)
    assert response.status_code == 200 and "选择一个有效的选项" in response.content.decode()
    assert not AwardNotice.objects.exists()
    assert issue(org.worker_a1).status_code == 302
    assert list(AwardNotice.objects.get().items.values_list("member", flat=True)) == [
        org.worker_a1.pk
    ]


def test_a_recorders_long_declare_for_list_is_searched(org: Org, settings: Any) -> None:
    settings.POINTS_MEMBER_SEARCH_ABOVE = 2
    html = _client(org.recorder).get(DECLARE, {"member": org.worker_a1.pk}).content.decode()
    select = _select(html, "member")
    assert f'data-search-url="{SEARCH}?for=declare"' in select and "data-declare-for" in select
    assert f'value="{org.worker_a1.pk}" selected' in select
    assert f'value="{org.leader_a.pk}"' not in select


def test_member_names_are_escaped_in_pickers(org: Org) -> None:
    org.worker_a1.name = "<script>alert(1)</script>"
    org.worker_a1.save()
    html = _client(org.leader_a).get(NOTICE).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _select(html, "members")


def test_a_member_nobody_could_review_is_refused_and_nothing_is_written(
    org: Org, late: Any
) -> None:
    """A top recorder sends the CEO's id although the page never offered it."""
    from flows.models import Declaration

    top = org.member(org.company, "acme-top-recorder", role=Role.RECORDER)
    response = _declare(top, late, for_member=org.ceo)
    assert response.status_code == 200
    assert "acme-ceo 没有可审核此申报的上级" in response.content.decode()
    assert not Declaration.objects.exists()


@pytest.mark.parametrize("above", [2, 1000])
def test_the_declare_page_costs_the_same_for_any_size_of_scope(
    org: Org, settings: Any, above: int
) -> None:
    settings.POINTS_MEMBER_SEARCH_ABOVE = above

    def queries() -> int:
        return queries_of(_client(org.recorder), DECLARE)

    few = queries()
    for n in range(40):
        MemberFactory(organisation=org.organisation, unit=org.team_a1, name=f"批量{n}")
    assert queries() <= few


@pytest.mark.parametrize("purpose", ["notice", "declare"])
def test_a_member_who_left_may_search_nobody(org: Org, purpose: str) -> None:
    """Their login still works (the account is frozen, the unit may still name them as its
    leader, a recorder keeps the role until HR takes it)."""
    from datetime import date

    from points.services.accounts import member_leave

    searcher = org.leader_a if purpose == "notice" else org.recorder
    assert _found(searcher, purpose, "acme")  # before leaving
    member_leave(member=searcher, left_on=date(2026, 11, 19))
    response = _client(searcher).get(SEARCH, {"for": purpose, "q": "acme"})
    assert response.status_code == 403
    assert "acme-worker-a1" not in response.content.decode()


def test_the_declare_search_costs_the_same_whoever_could_review(org: Org) -> None:
    """Members nobody could review are skipped without a query each (a subtree whose
    leaders have no login, as after an import)."""

    def queries() -> int:
        return queries_of(_client(org.recorder), SEARCH, {"for": "declare", "q": "批量"})

    orphans = OrgUnitFactory(organisation=org.organisation, parent=org.dept_a)
    orphans.leader = MemberFactory(organisation=org.organisation, unit=orphans, user=None)
    orphans.save()
    MemberFactory(organisation=org.organisation, unit=orphans, name="批量0")
    few = queries()
    for n in range(1, 60):
        MemberFactory(organisation=org.organisation, unit=orphans, name=f"批量{n}")
    assert queries() == few
    assert _found(org.recorder, "declare", "批量") == []  # their leader has no login
