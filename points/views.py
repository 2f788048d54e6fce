"""Pages of the points module: the home page and the published rule catalog."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.mixins import PermissionRequiredMixin
from django.db.models import QuerySet
from django.views.generic import ListView, TemplateView

from points.filters import RuleItemFilter
from points.models import RuleItem
from points.roles import Role
from points.selectors.catalog import rule_items_for_unit
from points.selectors.org import member_for_user, member_superior, user_roles

#: Callables ``(user) -> dict`` that add to the home page's context. Apps that build on
#: points (flows) register theirs at start-up; points never imports them.
HOME_CONTEXT: list[Callable[[Any], dict[str, Any]]] = []


class HomeView(TemplateView):
    """Shows each role where to go."""

    template_name = "points/home.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        member = member_for_user(user=user)
        roles = user_roles(user=user)
        context.update(
            member=member,
            superior=member_superior(member=member) if member else None,
            roles=roles,
            Role=Role,
            role_labels=[label for value, label in Role.choices if value in roles],
            led_units=list(member.led_units.all()) if member else [],
        )
        for provider in HOME_CONTEXT:
            context.update(provider(user))
        return context


class RuleCatalogView(PermissionRequiredMixin, ListView):
    """The published rule catalog of the user's organisation: one list for everyone."""

    permission_required = "points.view_ruleitem"
    template_name = "points/catalog.html"
    paginate_by = 50
    raise_exception = True

    def get_queryset(self) -> QuerySet[RuleItem]:
        member = member_for_user(user=self.request.user)
        if member is None:
            return RuleItem.objects.none()
        if self.request.GET.get("scope") == "mine":
            items = rule_items_for_unit(unit=member.unit)
        else:
            items = RuleItem.objects.filter(organisation=member.organisation, active=True)
        self.filterset = RuleItemFilter(
            self.request.GET, queryset=items.order_by("category", "code")
        )
        return self.filterset.qs

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["filter"] = self.filterset
        context["member"] = member_for_user(user=self.request.user)
        query = self.request.GET.copy()
        query.pop("page", None)
        context["query"] = query.urlencode()
        return context
