"""Reads of the rule catalog, including its history."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from points.models import OrgUnit, RuleItem


def rule_items_for_unit(*, unit: OrgUnit, include_inactive: bool = False) -> QuerySet[RuleItem]:
    """Rule items that apply to members of ``unit``: those for every unit, and those for the
    unit or any unit above it."""
    items = RuleItem.objects.filter(organisation_id=unit.organisation_id)
    if not include_inactive:
        items = items.filter(active=True)
    applies = Q(units__isnull=True) | Q(units__in=unit.ancestor_ids())
    ids = items.filter(applies).values("pk")
    return RuleItem.objects.filter(pk__in=ids).order_by("category", "code")


def rule_item_applies_to_unit(*, rule_item: RuleItem, unit: OrgUnit) -> bool:
    return rule_items_for_unit(unit=unit).filter(pk=rule_item.pk).exists()


def rule_item_as_of(*, rule_item: RuleItem, when: datetime) -> RuleItem:
    """The rule item as it stood at ``when``: the value that applied at that time.

    Raises ``RuleItem.DoesNotExist`` if the rule did not exist yet.
    """
    return rule_item.history.as_of(when)  # type: ignore[attr-defined,no-any-return]
