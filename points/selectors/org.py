"""Reads about organisations, the unit tree, members and roles."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from points.models import Member, MemberKind, MemberStatus, Organisation, OrgUnit
from points.roles import Role

_CACHE_ATTR = "_points_member_cache"


def member_for_user(*, user: Any) -> Member | None:
    """The person member a login belongs to (cached on the user object for the request)."""
    if not getattr(user, "is_authenticated", False):
        return None
    if not hasattr(user, _CACHE_ATTR):
        member = (
            Member.objects.select_related("organisation", "unit")
            .filter(user=user, kind=MemberKind.PERSON)
            .first()
        ) or (Member.objects.select_related("organisation", "unit").filter(user=user).first())
        setattr(user, _CACHE_ATTR, member)
    return getattr(user, _CACHE_ATTR)


def member_name_of(user_ref: str) -> Subquery:
    """For ``annotate``: the name of the person member whose login is in the field
    ``user_ref`` (e.g. ``"reviewer"``): lists show people by name, not by username."""
    return Subquery(
        Member.objects.filter(user_id=OuterRef(user_ref), kind=MemberKind.PERSON)
        .order_by("pk")
        .values("name")[:1]
    )


def organisation_for_user(*, user: Any) -> Organisation | None:
    member = member_for_user(user=user)
    return member.organisation if member else None


def user_roles(*, user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    roles = {name for name in user.groups.values_list("name", flat=True) if name in Role.values}
    if user.is_superuser:
        roles.add(Role.ADMIN)
    return roles


def unit_subtree(*, unit: OrgUnit) -> QuerySet[OrgUnit]:
    """The unit and every unit below it."""
    return OrgUnit.objects.filter(organisation_id=unit.organisation_id, path__startswith=unit.path)


def unit_ancestors(*, unit: OrgUnit) -> list[OrgUnit]:
    """The units above ``unit``, nearest first."""
    ids = unit.ancestor_ids()[:-1]
    by_id = OrgUnit.objects.select_related("leader").in_bulk(ids)
    return [by_id[pk] for pk in reversed(ids) if pk in by_id]


def members_in_scope(*, unit: OrgUnit) -> QuerySet[Member]:
    """Active members of the unit's subtree."""
    return Member.objects.filter(
        organisation_id=unit.organisation_id,
        unit__path__startswith=unit.path,
        status=MemberStatus.ACTIVE,
    )


def members_without_superior(*, members: list[Member]) -> set[int]:
    """Of ``members`` (of one organisation, with their units), the ids of those who have no
    direct superior with a login (as ``member_superior`` finds one): nobody could review
    what is declared for them. One query for any number of members."""
    if not members:
        return set()
    leaders = dict(
        OrgUnit.objects.filter(
            organisation_id=members[0].organisation_id,
            leader__status=MemberStatus.ACTIVE,
            leader__user__isnull=False,
        ).values_list("pk", "leader_id")
    )
    return {
        member.pk
        for member in members
        if not any(leaders.get(pk) not in (None, member.pk) for pk in member.unit.ancestor_ids())
    }


def member_superior(*, member: Member) -> Member | None:
    """The member's direct superior: the leader of their unit, or, when the member leads that
    unit (or it has no leader), the nearest leader further up the tree who is someone else;
    read with their login (who reviews, signs and is notified)."""
    ids = member.unit.ancestor_ids()  # the unit's own leader comes in the same query
    by_id = OrgUnit.objects.select_related("leader__user").in_bulk(ids)
    for unit in (by_id[pk] for pk in reversed(ids) if pk in by_id):
        leader = unit.leader
        if leader is not None and leader.pk != member.pk and leader.status == MemberStatus.ACTIVE:
            return leader
    return None
