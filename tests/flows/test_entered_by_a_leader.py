"""Nobody approves what they entered themselves: a recorder who also leads a unit declares
for a member below them, and the declaration goes to the next leader up, not to them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from flows.models import Declaration, DeclarationStatus
from flows.services import ReviewAction, declaration_review
from points.roles import Role
from points.services.org import role_grant
from tests.conftest import Org
from tests.factories import AuthorityTierFactory
from tests.flows.test_declaration_flow import START, _client, _decide, _declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def leader_recorder(org: Org) -> Any:
    """Department A's leader, who also records points."""
    role_grant(user=org.leader_a.user, role=Role.RECORDER)
    return org.leader_a


def test_a_declaration_entered_by_the_members_superior_goes_one_level_up(
    org: Org, idea: Any, leader_recorder: Any
) -> None:
    # org.recorder sits in department A: its leader would review them, but entered it
    assert _declare(leader_recorder, idea, for_member=org.recorder).status_code == 302
    declaration = Declaration.objects.get()
    assert declaration.submitted_by == leader_recorder.user
    assert declaration.reviewer == org.ceo.user


def test_an_escalation_skips_whoever_entered_the_declaration(
    org: Org, idea: Any, leader_recorder: Any
) -> None:
    org.team_a1.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=5
    )
    org.team_a1.save()
    _declare(leader_recorder, idea, for_member=org.worker_a1)
    declaration = Declaration.objects.get()
    assert declaration.reviewer == org.leader_a1.user  # not the one who entered it
    assert _decide(org.leader_a1, "approve").status_code == 302  # 10 > 5: up a level
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.ESCALATED
    assert declaration.reviewer == org.ceo.user  # department A's leader is skipped


def test_whoever_entered_a_declaration_may_not_review_it(
    org: Org, idea: Any, leader_recorder: Any
) -> None:
    _declare(leader_recorder, idea, for_member=org.worker_a1)
    declaration = Declaration.objects.get()
    Declaration.objects.filter(pk=declaration.pk).update(reviewer=leader_recorder.user)
    with pytest.raises(PermissionDenied):
        declaration_review(
            declaration=declaration, user=leader_recorder.user, action=ReviewAction.APPROVE
        )
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.SUBMITTED


def test_at_the_top_nobody_could_review_it_so_it_is_neither_offered_nor_taken(
    org: Org, idea: Any
) -> None:
    role_grant(user=org.ceo.user, role=Role.RECORDER)
    client = _client(org.ceo)
    offered = client.get(START).content.decode().split('name="member"')[1].split("</select>")[0]
    assert f'value="{org.leader_b.pk}"' not in offered  # the CEO would review it
    assert f'value="{org.worker_b.pk}"' in offered  # department B's leader reviews it
    found = client.get("/members/search/", {"for": "declare", "q": "acme-leader"}).json()
    names = {row["text"].split(" (")[0] for row in found["results"]}
    assert names == {"acme-leader-a1"}  # the department leaders' reviewer would be the CEO
    response = _declare(org.ceo, idea, for_member=org.leader_b, client=client)
    html = response.content.decode()
    assert response.status_code == 200 and "acme-leader-b 没有可审核此申报的上级" in html
    assert not Declaration.objects.exists()
    # the page shows whom its rules and caps are for, and keeps the item typed
    assert f'value="{org.ceo.pk}" selected' in html.split('name="member"')[1]
    assert "合理化建议被采纳" in html


def test_above_the_tier_with_nobody_but_the_one_who_entered_it_above_it_is_refused(
    org: Org, idea: Any
) -> None:
    """The CEO records 10 points for a worker of department B, whose leader may approve 5:
    the level above is the CEO, who entered it; the leader may not approve it alone."""
    role_grant(user=org.ceo.user, role=Role.RECORDER)
    org.dept_b.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=5
    )
    org.dept_b.save()
    _declare(org.ceo, idea, for_member=org.worker_b)
    response = _decide(org.leader_b, "approve")
    assert response.status_code == 200
    assert "超出您的权限，且您的上级无人可以批准" in response.content.decode()
    assert Declaration.objects.get().status == DeclarationStatus.SUBMITTED


def test_above_the_tier_a_superiors_declaration_skips_them_to_the_next_level(
    org: Org, idea: Any
) -> None:
    """Department A's leader belongs to team A1, whose leader reviews them; above that
    leader's tier the declaration goes past its own member to the CEO."""
    org.leader_a.unit = org.team_a1
    org.leader_a.save()
    org.team_a1.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=5
    )
    org.team_a1.save()
    _declare(org.leader_a, idea)
    assert Declaration.objects.get().reviewer == org.leader_a1.user
    assert _decide(org.leader_a1, "approve").status_code == 302
    declaration = Declaration.objects.get()
    assert declaration.status == DeclarationStatus.ESCALATED
    assert declaration.reviewer == org.ceo.user


def test_a_member_is_offered_when_a_leader_further_up_could_review_it(org: Org, idea: Any) -> None:
    """Team A1's leader records points; department A's leader belongs to team A1. Team
    A1's leader would review them, but entered it; department A's leader is the member:
    the CEO reviews it, so it is offered and taken."""
    org.leader_a.unit = org.team_a1
    org.leader_a.save()
    role_grant(user=org.leader_a1.user, role=Role.RECORDER)
    client = _client(org.leader_a1)
    offered = client.get(START).content.decode().split('name="member"')[1].split("</select>")[0]
    assert f'value="{org.worker_a1.pk}"' in offered and f'value="{org.leader_a.pk}"' in offered
    assert _declare(org.leader_a1, idea, for_member=org.leader_a, client=client).status_code == 302
    assert Declaration.objects.get().reviewer == org.ceo.user
