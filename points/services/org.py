"""Writes about organisations, units, members and roles."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from points.models import Member, MemberStatus, Organisation, OrgUnit, Policy
from points.roles import DERIVED_ROLES, ROLE_PERMISSIONS, STAFF_ROLES, Role


@transaction.atomic
def organisation_create(*, code: str, name: str, **policy: Any) -> Organisation:
    """Create an organisation with its policy (defaults unless given)."""
    organisation = Organisation.objects.create(code=code, name=name)
    Policy.objects.update_or_create(organisation=organisation, defaults=policy)
    return organisation


@transaction.atomic
def roles_sync_groups() -> None:
    """Create one group per role and give it exactly the permissions in ROLE_PERMISSIONS."""
    for role, perm_names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        perms = []
        for perm_name in perm_names:
            app_label, codename = perm_name.split(".")
            perms.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(perms)


@transaction.atomic
def roles_sync_user(*, user: Any) -> None:
    """Keep the derived roles (member, leader) and the staff flag in step with the data:
    a user with an active member is in "member"; one who leads a unit is in "leader";
    HR and admins may open the admin site."""
    has_member = Member.objects.filter(user=user, status=MemberStatus.ACTIVE).exists()
    leads = OrgUnit.objects.filter(leader__user=user, leader__status=MemberStatus.ACTIVE).exists()
    wanted = {Role.MEMBER: has_member, Role.LEADER: leads}
    held = set(user.groups.values_list("name", flat=True))
    for role in DERIVED_ROLES:
        if wanted[role] == (role in held):
            continue  # no change, no audit row
        group, _ = Group.objects.get_or_create(name=role)
        if wanted[role]:
            user.groups.add(group)
        else:
            user.groups.remove(group)
    _sync_object_permissions(user)
    is_staff = user.is_superuser or user.groups.filter(name__in=STAFF_ROLES).exists()
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])


#: Permissions a role holds on the member's own organisation only (django-guardian object
#: permissions): task queues that ask for them never show another organisation's tasks.
ORGANISATION_PERMISSIONS: dict[str, list[str]] = {
    Role.COMMITTEE: ["points.rule_appeal"],
    Role.HR: ["points.handle_redemption", "points.reexamine_appeal"],
}


def _sync_object_permissions(user: Any) -> None:
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import UserObjectPermission
    from guardian.shortcuts import assign_perm

    member = Member.objects.filter(user=user).select_related("organisation").first()
    roles = set(user.groups.values_list("name", flat=True))
    content_type = ContentType.objects.get_for_model(Organisation)
    for role, perms in ORGANISATION_PERMISSIONS.items():
        keep = member is not None and role in roles and member.status == MemberStatus.ACTIVE
        codenames = [perm.split(".")[1] for perm in perms]
        stale = UserObjectPermission.objects.filter(
            user=user, content_type=content_type, permission__codename__in=codenames
        )
        if keep:
            assert member is not None
            stale = stale.exclude(object_pk=str(member.organisation_id))
        stale.delete()
        if keep:
            assert member is not None
            for perm in perms:
                assign_perm(perm, user, member.organisation)


@transaction.atomic
def role_grant(*, user: Any, role: str) -> None:
    """Grant a role that is given by hand (recorder, HR, committee, admin)."""
    if role not in Role.values or role in DERIVED_ROLES:
        raise ValueError(f"{role!r} is not a role that can be granted by hand")
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    roles_sync_user(user=user)


@transaction.atomic
def role_revoke(*, user: Any, role: str) -> None:
    if role not in Role.values or role in DERIVED_ROLES:
        raise ValueError(f"{role!r} is not a role that can be revoked by hand")
    user.groups.remove(*user.groups.filter(name=role))
    roles_sync_user(user=user)
