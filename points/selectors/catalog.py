"""Reads of the rule catalog, including its history."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet

from points.models import OrgUnit, RuleItem


def _for_units(units: Iterable[OrgUnit]) -> Q:
    """A rule item's scope takes in one of ``units``: it names no unit (every unit), or one
    of them or a unit above one."""
    ids = {pk for unit in units for pk in unit.ancestor_ids()}
    limited = RuleItem.units.through.objects.filter(ruleitem_id=OuterRef("pk"))
    return ~Exists(limited) | Exists(limited.filter(orgunit_id__in=sorted(ids)))


def _for_unit(unit: OrgUnit) -> Q:
    return _for_units([unit])


def rule_items_for_unit(*, unit: OrgUnit, include_inactive: bool = False) -> QuerySet[RuleItem]:
    """Rule items that apply to members of ``unit``: those for every unit, and those for the
    unit or any unit above it."""
    items = RuleItem.objects.filter(organisation_id=unit.organisation_id)
    if not include_inactive:
        items = items.filter(active=True)
    return items.filter(_for_unit(unit)).order_by("category", "code")


def rule_items_for_any_unit(*, units: QuerySet[OrgUnit]) -> QuerySet[RuleItem]:
    """Rule items in force that apply to members of at least one of ``units`` (all of one
    organisation): what a leader may award or deduct to somebody in their scope."""
    rows = list(units.only("pk", "organisation_id", "path"))
    if not rows:
        return RuleItem.objects.none()
    return (
        RuleItem.objects.filter(organisation_id=rows[0].organisation_id, active=True)
        .filter(_for_units(rows))
        .order_by("category", "code")
    )


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
