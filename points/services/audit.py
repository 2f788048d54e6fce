"""Audit rows that no domain service writes: login lockouts and permission denials.
(Decisions, postings, reversals, imports and role changes are audited by their services.)"""

from __future__ import annotations

from typing import Any

from points.models import AuditEvent, Member
from points.selectors.org import member_for_user

#: The longest path kept in a denial row.
PATH_MAX = 300


def audit_lockout(*, username: str, ip_address: str) -> AuditEvent:
    member = Member.objects.select_related("organisation").filter(user__username=username).first()
    return AuditEvent.objects.create(
        organisation=member.organisation if member else None,
        actor=member.user if member else None,
        member=member,
        action="auth.lockout",
        object_repr=username[:200],
        data={"username": username[:150], "ip": ip_address[:64]},
    )


def audit_denial(*, request: Any, reason: str = "") -> AuditEvent:
    """A request was refused (403): who asked for what."""
    user = getattr(request, "user", None)
    authenticated = bool(getattr(user, "is_authenticated", False))
    member = member_for_user(user=user) if authenticated else None
    return AuditEvent.objects.create(
        organisation=member.organisation if member else None,
        actor=user if authenticated else None,
        member=member,
        action="permission.denied",
        object_repr=request.path[:200],
        data={
            "method": request.method,
            "path": request.get_full_path()[:PATH_MAX],
            "reason": str(reason)[:300],
        },
    )


def _current_actor() -> Any:
    """The user of the request being served, if any (django-simple-history keeps it)."""
    from simple_history.models import HistoricalRecords

    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


def audit_role_change(*, user: Any, roles: list[str], granted: bool) -> AuditEvent:
    """A user gained or lost roles (groups), by a service, the admin or a sync."""
    member = Member.objects.select_related("organisation").filter(user=user).first()
    return AuditEvent.objects.create(
        organisation=member.organisation if member else None,
        actor=_current_actor(),
        member=member,
        action="role.grant" if granted else "role.revoke",
        object_repr=str(user)[:200],
        data={"user": user.pk, "roles": sorted(roles)},
    )


def audit_catalog_change(*, rule_item: Any, change: str) -> AuditEvent:
    """A rule item of the catalog was created, changed or deleted (the full before/after
    is in the rule's history)."""
    return AuditEvent.objects.create(
        organisation_id=rule_item.organisation_id,
        actor=_current_actor(),
        action=f"catalog.{change}",
        object_repr=f"{rule_item.code} {rule_item.name}"[:200],
        data={
            "rule": rule_item.pk,
            "code": rule_item.code,
            "points": [rule_item.points_min, rule_item.points_max],
            "active": rule_item.active,
        },
    )
