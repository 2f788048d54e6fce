from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from points.models import RuleCategory, RuleItem, RuleKind


class RuleItemFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(label=_("Search"), method="search")
    category = django_filters.ChoiceFilter(label=_("category"), choices=RuleCategory.choices)
    kind = django_filters.ChoiceFilter(label=_("kind"), choices=RuleKind.choices)

    class Meta:
        model = RuleItem
        fields = ["q", "category", "kind"]

    def search(self, queryset, name, value):  # type: ignore[no-untyped-def]
        from django.db.models import Q

        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value))
