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
