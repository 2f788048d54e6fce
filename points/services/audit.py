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
