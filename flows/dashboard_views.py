"""The dashboards (看板): leaders see the subtrees of the units they lead, HR and the
committee their organisation. ``flows.dashboards`` decides the scope and reads the
figures; the charts' data reaches the page through ``json_script``."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from viewflow.urls import Viewset
from viewflow.urls.sites import AppMenuMixin

from flows.dashboards import (
    UnitNotInScope,
    dashboard_charts,
    dashboard_for,
    dashboard_may_view,
    dashboard_scope,
)
from flows.models import AppealStatus, Ruling
from points.models import OrgUnit, PeriodKind
from points.periods import month_start, organisation_today, parse_month, period_end
from points.selectors.org import member_for_user


def _chart_labels() -> dict[str, str]:
    labels = {
        "members": _("members"),
        "total": _("total"),
        "average": _("average"),
        "declared": _("declared"),
        "redeemed": _("redeemed"),
        "pending": _("pending reviews"),
        "oldest": _("oldest (days)"),
        "appeals": _("appeals"),
    }
    labels.update({str(value): str(label) for value, label in AppealStatus.choices})
    labels.update({str(value): str(label) for value, label in Ruling.choices})
    return labels


def _month(text: str, today: date) -> date:
    """The ``month`` parameter (2026-10), this month by default; ValueError if unusable."""
    if not text.strip():
        return month_start(today)
    month = parse_month(text)
    try:
        period_end(PeriodKind.MONTH, month)
    except (ValueError, OverflowError) as error:
        raise ValueError(text) from error
    return month


def _unit_choices(units: list[OrgUnit]) -> list[tuple[int, str]]:
    """(id, name indented by depth) in tree order."""
    top = min(u.path.count("/") for u in units)
    return [(u.pk, "\u2003" * (u.path.count("/") - top) + u.name) for u in units]


class DashboardView(View):
    template_name = "flows/dashboard.html"

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        member = member_for_user(user=request.user)
        if member is None or not dashboard_may_view(user=request.user):
            raise PermissionDenied
        errors = []
        unit_text = request.GET.get("unit", "").strip()
        unit_id = None
        if unit_text:
            try:
                unit_id = int(unit_text)
            except ValueError:
                errors.append(_("“%(value)s” is not a unit.") % {"value": unit_text[:20]})
        month_text = request.GET.get("month", "")
        try:
            month = _month(month_text, organisation_today(member.organisation))
        except ValueError:
            month = month_start(organisation_today(member.organisation))
            errors.append(
                _("“%(value)s” is not a month like 2026-10.") % {"value": month_text[:20]}
            )
        if errors:
            return render(request, self.template_name, {"errors": errors}, status=400)
        try:
            scope = dashboard_scope(user=request.user, unit_id=unit_id)
        except UnitNotInScope as error:
            raise Http404 from error
        dashboard = dashboard_for(scope=scope, month=month)
        labels = _chart_labels()
        appeals = dashboard.appeals
        context = {
            "dashboard": dashboard,
            "scope": scope,
            "charts": dashboard_charts(dashboard, labels),
            "month_value": f"{dashboard.month:%Y-%m}",
            "unit_choices": _unit_choices(scope.choices),
            "appeal_statuses": [(labels[k], n) for k, n in appeals.by_status.items()],
            "appeal_rulings": [(labels[k], n) for k, n in appeals.by_ruling.items()],
        }
        return render(request, self.template_name, context)


class DashboardViewset(AppMenuMixin, Viewset):
    """看板 in the site's menu, for leaders, HR and the committee."""

    title = gettext_lazy("Dashboard")
    icon = "insights"
    app_name = "dashboard"

    index_path = path("", DashboardView.as_view(), name="index")

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        return bool(user.is_authenticated) and dashboard_may_view(user=user)
