"""Reads of the rule catalog, including its history."""

from __future__ import annotations

from datetime import datetime

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet

from points.models import OrgUnit, RuleItem


def _for_unit(unit: OrgUnit) -> Q:
    """A rule item's scope takes in ``unit``: it names no unit (every unit), or the unit or
    a unit above it."""
    limited = RuleItem.units.through.objects.filter(ruleitem_id=OuterRef("pk"))
    return ~Exists(limited) | Exists(limited.filter(orgunit_id__in=unit.ancestor_ids()))


def rule_items_for_unit(*, unit: OrgUnit, include_inactive: bool = False) -> QuerySet[RuleItem]:
    """Rule items that apply to members of ``unit``: those for every unit, and those for the
    unit or any unit above it."""
    items = RuleItem.objects.filter(organisation_id=unit.organisation_id)
    if not include_inactive:
        items = items.filter(active=True)
    return items.filter(_for_unit(unit)).order_by("category", "code")


def rule_items_marked_for_unit(*, unit: OrgUnit) -> QuerySet[RuleItem]:
    """All the organisation's rule items, each marked ``applies_here``: in force and for
    ``unit`` (as ``rule_items_for_unit``). A form reads the chosen rule and learns whether
    it may be used in the same query, and can still say why not."""
    return RuleItem.objects.filter(organisation_id=unit.organisation_id).annotate(
        applies_here=ExpressionWrapper(Q(active=True) & _for_unit(unit), BooleanField())
    )


def rule_item_applies_to_unit(*, rule_item: RuleItem, unit: OrgUnit) -> bool:
    return rule_items_for_unit(unit=unit).filter(pk=rule_item.pk).exists()


def rule_item_as_of(*, rule_item: RuleItem, when: datetime) -> RuleItem:
    """The rule item as it stood at ``when``: the value that applied at that time.

    Raises ``RuleItem.DoesNotExist`` if the rule did not exist yet.
    """
    return rule_item.history.as_of(when)  # type: ignore[attr-defined,no-any-return]
