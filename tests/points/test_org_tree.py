"""The org tree: paths, subtrees, and who is whose direct superior."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from points.models import Member, MemberStatus
from points.selectors.org import member_superior, members_in_scope, unit_ancestors, unit_subtree
from tests.conftest import Org

pytestmark = pytest.mark.django_db


def test_superior_of_a_worker_is_the_leader_of_their_unit(org: Org) -> None:
    assert member_superior(member=org.worker_a1) == org.leader_a1
    assert member_superior(member=org.worker_b) == org.leader_b


def test_superior_of_a_unit_leader_is_the_leader_one_level_up(org: Org) -> None:
    assert member_superior(member=org.leader_a1) == org.leader_a
    assert member_superior(member=org.leader_a) == org.ceo


def test_the_top_leader_has_no_superior(org: Org) -> None:
    assert member_superior(member=org.ceo) is None


def test_the_superior_is_found_in_one_query_at_any_depth(
    org: Org, django_assert_num_queries: Any
) -> None:
    """The member's unit and the units above it, with their leaders and their logins, in one
    read."""
    worker = Member.objects.select_related("unit").get(pk=org.worker_a1.pk)
    leader = Member.objects.select_related("unit").get(pk=org.leader_a1.pk)
    with django_assert_num_queries(1):
        superior = member_superior(member=worker)
        assert superior == org.leader_a1 and superior.user == org.leader_a1.user
    with django_assert_num_queries(1):
        superior = member_superior(member=leader)
        assert superior == org.leader_a and superior.user == org.leader_a.user


def test_a_unit_without_a_leader_passes_to_the_next_leader_up(org: Org) -> None:
    org.team_a1.leader = None
    org.team_a1.save()
    assert member_superior(member=org.worker_a1) == org.leader_a


def test_a_leader_who_has_left_is_skipped(org: Org) -> None:
    org.leader_a1.status = MemberStatus.LEFT
    org.leader_a1.save()
    assert member_superior(member=org.worker_a1) == org.leader_a


def test_a_member_leading_two_levels_is_reviewed_above_both(org: Org) -> None:
    org.dept_a.leader = org.leader_a1
    org.dept_a.save()
    assert member_superior(member=org.leader_a1) == org.ceo


def test_subtree_and_ancestors(org: Org) -> None:
    assert set(unit_subtree(unit=org.dept_a)) == {org.dept_a, org.team_a1}
    assert set(unit_subtree(unit=org.company)) == {org.company, org.dept_a, org.dept_b, org.team_a1}
    assert unit_ancestors(unit=org.team_a1) == [org.dept_a, org.company]
    scope = set(members_in_scope(unit=org.dept_a))
    assert org.worker_a1 in scope and org.leader_a1 in scope
    assert org.worker_b not in scope


def test_moving_a_unit_moves_its_subtree(org: Org) -> None:
    org.dept_a.parent = org.dept_b
    org.dept_a.save()
    org.team_a1.refresh_from_db()
    assert org.team_a1.path.startswith(org.dept_b.path)
    assert set(unit_subtree(unit=org.dept_b)) == {org.dept_b, org.dept_a, org.team_a1}
    assert member_superior(member=org.leader_a) == org.leader_b


def test_a_unit_cannot_be_placed_under_its_own_descendant(org: Org) -> None:
    org.dept_a.parent = org.team_a1
    with pytest.raises(ValidationError) as error:
        org.dept_a.full_clean()
    assert "parent" in error.value.message_dict


def test_a_unit_cannot_have_a_parent_in_another_organisation(org: Org, other_org: Org) -> None:
    org.dept_a.parent = other_org.company
    with pytest.raises(ValidationError):
        org.dept_a.full_clean()


def test_leader_role_follows_leadership(org: Org) -> None:
    user = org.worker_b.user
    assert not user.groups.filter(name="leader").exists()
    org.dept_b.leader = org.worker_b
    org.dept_b.save()
    assert user.groups.filter(name="leader").exists()
    assert not org.leader_b.user.groups.filter(name="leader").exists()


def test_members_without_a_superior_are_found_in_one_query(
    org: Org, django_assert_num_queries: Any
) -> None:
    from points.selectors.org import members_without_superior

    org.leader_b.status = MemberStatus.LEFT  # 乙部门's leader has left: the CEO is next
    org.leader_b.save()
    org.leader_a1.user = None  # 甲一's leader has no login: nobody can review their team
    org.leader_a1.save()
    members = list(Member.objects.select_related("unit").filter(organisation=org.organisation))
    with django_assert_num_queries(1):
        nobody_above = members_without_superior(members=members)

    def reviewable(member: Member) -> bool:
        superior = member_superior(member=member)
        return superior is not None and superior.user_id is not None

    assert nobody_above == {m.pk for m in members if not reviewable(m)}
    assert org.ceo.pk in nobody_above and org.worker_a1.pk in nobody_above
    assert org.worker_b.pk not in nobody_above and org.leader_a1.pk not in nobody_above
