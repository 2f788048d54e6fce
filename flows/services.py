"""Writes of the declaration process. Views and flow nodes call these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from flows.forms import DeclarationItemForm
from flows.models import Declaration, Evidence
from points.models import AuditEvent, Member, MemberStatus
from points.roles import Role
from points.selectors.org import member_for_user, members_in_scope, user_roles


def declaration_may_submit_for(*, user: Any, member: Member) -> bool:
    """A member declares for themselves; a recorder for active members of their unit's
    subtree, in their own organisation."""
    if member.status != MemberStatus.ACTIVE:
        return False
    if member.user_id == user.pk:
        return True
    recorder = member_for_user(user=user)
    return (
        recorder is not None
        and Role.RECORDER in user_roles(user=user)
        and recorder.organisation_id == member.organisation_id
        and members_in_scope(unit=recorder.unit).filter(pk=member.pk).exists()
    )


@transaction.atomic
def declaration_submit(
    *, user: Any, member: Member, item_forms: Sequence[DeclarationItemForm]
) -> Declaration:
    """Create a declaration from valid item forms, with its checked evidence, in one
    transaction. The caller has validated the forms (``is_valid()``)."""
    if not declaration_may_submit_for(user=user, member=member):
        raise PermissionDenied(_("You may not declare points for this member."))
    if not item_forms:
        raise ValueError("a declaration has at least one item")
    declaration = Declaration.objects.create(
        organisation=member.organisation, member=member, submitted_by=user
    )
    for form in item_forms:
        item = form.save(commit=False)
        item.declaration = declaration
        item.save()
        for checked in form.checked_evidence:
            evidence = Evidence(
                item=item,
                content_type=checked.content_type,
                original_name=checked.original_name,
                size=checked.size,
                uploaded_by=user,
            )
            evidence.file.save(checked.content.name, checked.content, save=False)
            evidence.save()
    AuditEvent.objects.create(
        organisation=member.organisation,
        actor=user,
        action="declaration.submit",
        member=member,
        object_repr=str(declaration)[:200],
        data={"declaration": declaration.pk, "items": len(item_forms)},
    )
    return declaration
