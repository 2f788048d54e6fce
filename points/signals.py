"""Keep derived roles in step with members and unit leaders; create role groups after
migrations. The receivers only call services."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save, pre_save
from django.dispatch import receiver

from points.models import Member, MemberStatus, Organisation, OrgUnit, Policy, RuleItem
from points.services.accounts import base_points_grant
from points.services.audit import audit_catalog_change, audit_lockout, audit_role_change
from points.services.org import roles_sync_groups, roles_sync_user


@receiver(post_migrate)
def _create_role_groups(sender: Any, app_config: Any = None, **kwargs: Any) -> None:
    if app_config is not None and app_config.label == "points":
        roles_sync_groups()


@receiver(post_save, sender=Organisation)
def _ensure_policy(sender: Any, instance: Organisation, created: bool, **kwargs: Any) -> None:
    if created and not kwargs.get("raw"):
        Policy.objects.get_or_create(organisation=instance)


@receiver(post_save, sender=Member)
def _member_saved(sender: Any, instance: Member, created: bool, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    if instance.user_id:
        roles_sync_user(user=instance.user)
    if created and instance.status == MemberStatus.ACTIVE:
        base_points_grant(member=instance)


@receiver(pre_save, sender=OrgUnit)
def _unit_saving(sender: Any, instance: OrgUnit, **kwargs: Any) -> None:
    if instance.pk and not kwargs.get("raw"):
        previous = OrgUnit.objects.filter(pk=instance.pk).values_list("leader_id", flat=True)
        instance._previous_leader_id = previous.first()  # type: ignore[attr-defined]


@receiver(post_save, sender=OrgUnit)
def _unit_saved(sender: Any, instance: OrgUnit, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    # The previous leader may have lost the role; the new one gains it.
    previous = getattr(instance, "_previous_leader_id", None)
    if previous == instance.leader_id and not kwargs.get("created"):
        return
    for member in (
        Member.objects.filter(user__isnull=False)
        .filter(pk__in=[pk for pk in (instance.leader_id, previous) if pk])
        .select_related("user")
    ):
        roles_sync_user(user=member.user)


@receiver(user_locked_out)
def _locked_out(sender: Any, request: Any, username: str | None, **kwargs: Any) -> None:
    """django-axes locked a username after too many failed logins: an audit row."""
    audit_lockout(username=username or "", ip_address=kwargs.get("ip_address") or "")


@receiver(m2m_changed, sender=get_user_model().groups.through)
def _groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    """Role (group) changes from any path, the admin included: an audit row each."""
    if action not in {"post_add", "post_remove"} or not pk_set or reverse:
        return
    roles = list(Group.objects.filter(pk__in=pk_set).values_list("name", flat=True))
    audit_role_change(user=instance, roles=roles, granted=action == "post_add")


@receiver(post_save, sender=RuleItem)
def _rule_saved(sender: Any, instance: RuleItem, created: bool, **kwargs: Any) -> None:
    if not kwargs.get("raw"):
        audit_catalog_change(rule_item=instance, change="create" if created else "change")


@receiver(post_delete, sender=RuleItem)
def _rule_deleted(sender: Any, instance: RuleItem, **kwargs: Any) -> None:
    audit_catalog_change(rule_item=instance, change="delete")
