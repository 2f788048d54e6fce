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


def person_name(*, user: Any) -> str:
    """A login's person by name (people are named, not shown by login); the login when
    no person has it, and empty for no login."""
    if user is None:
        return ""
    name = (
        Member.objects.filter(user_id=user.pk, kind=MemberKind.PERSON)
        .order_by("pk")
        .values_list("name", flat=True)
        .first()
    )
    return name or str(user)


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


def _superior_unit(member: Member, active_leader_of: dict[int, Any]) -> int | None:
    """The rule of the direct superior, on the units' active leaders (``unit pk →
    leader pk``): the nearest unit, from the member's own up, led by someone else."""
    for pk in reversed(member.unit.ancestor_ids()):
        leader = active_leader_of.get(pk)
        if leader is not None and leader != member.pk:
            return pk
    return None


def member_reviewer_ids(*, members: list[Member]) -> dict[int, int | None]:
    """For each of ``members`` (of one organisation, with their units): the id of the member
    who would review them (``member_superior``), or None when that is nobody or somebody
    without a login (as ``flows.services.declaration_first_reviewer`` refuses). One query
    for any number of members."""
    if not members:
        return {}
    rows = OrgUnit.objects.filter(
        organisation_id=members[0].organisation_id, leader__status=MemberStatus.ACTIVE
    ).values_list("pk", "leader_id", "leader__user_id")
    active_leader_of = {unit: leader for unit, leader, _user in rows}
    login_of = {unit: user for unit, _leader, user in rows}
    reviewers: dict[int, int | None] = {}
    for member in members:
        unit = _superior_unit(member, active_leader_of)
        reviewers[member.pk] = (
            None if unit is None or login_of[unit] is None else active_leader_of[unit]
        )
    return reviewers


def members_without_superior(*, members: list[Member]) -> set[int]:
    """Of ``members``, the ids of those whom nobody could review (see
    ``member_reviewer_ids``)."""
    return {pk for pk, leader in member_reviewer_ids(members=members).items() if leader is None}


def leaders_above(*, member: Member) -> list[Member]:
    """The active leaders of the units from the member's own up, nearest first, each once
    and without the member, read with their logins: ``member_superior`` is the first of
    them; the others are who reviews when the nearer ones may not. One query."""
    ids = member.unit.ancestor_ids()
    by_id = OrgUnit.objects.select_related("leader__user").in_bulk(ids)
    chain: list[Member] = []
    for pk in reversed(ids):
        leader = by_id[pk].leader if pk in by_id else None
        if (
            leader is not None
            and leader.status == MemberStatus.ACTIVE
            and leader.pk != member.pk
            and all(leader.pk != seen.pk for seen in chain)
        ):
            chain.append(leader)
    return chain


def member_superior(*, member: Member) -> Member | None:
    """The member's direct superior: the leader of their unit, or, when the member leads that
    unit (or it has no leader), the nearest leader further up the tree who is someone else;
    read with their login (who reviews, signs and is notified). The first of
    ``leaders_above``."""
    chain = leaders_above(member=member)
    return chain[0] if chain else None
