"""The filters of a member's points history on "my points"."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from points.models import EntryKind, LedgerEntry
from points.widgets import IsoDateInput


class Direction:
    AWARD = "award"
    DEDUCTION = "deduction"
    CHOICES = ((AWARD, _("awards")), (DEDUCTION, _("deductions")))


class HistoryFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        begin, end = cleaned.get("date_from"), cleaned.get("date_to")
        if begin and end and begin > end:
            raise forms.ValidationError(_("The first date must not be after the last date."))
        return cleaned


class HistoryFilter(django_filters.FilterSet):
    """Kind, awards or deductions, a date range (booked on) and a search in the rule and
    the note. Invalid input is reported, never silently ignored (see ``is_valid``)."""

    kind = django_filters.ChoiceFilter(label=_("kind"), choices=EntryKind.choices)
    direction = django_filters.ChoiceFilter(
        label=_("awards or deductions"), choices=Direction.CHOICES, method="by_direction"
    )
    date_from = django_filters.DateFilter(
        label=_("from"),
        field_name="booked_on",
        lookup_expr="gte",
        widget=IsoDateInput,
    )
    date_to = django_filters.DateFilter(
        label=_("to"),
        field_name="booked_on",
        lookup_expr="lte",
        widget=IsoDateInput,
    )
    q = django_filters.CharFilter(label=_("Search"), method="search", max_length=100)

    class Meta:
        model = LedgerEntry
        fields = ["kind", "direction", "date_from", "date_to", "q"]
        form = HistoryFilterForm

    def by_direction(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        if value == Direction.AWARD:
            return queryset.filter(amount__gt=0)
        if value == Direction.DEDUCTION:
            return queryset.filter(amount__lt=0)
        return queryset

    def search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(
            Q(rule_item__code__icontains=value)
            | Q(rule_item__name__icontains=value)
            | Q(note__icontains=value)
        )
