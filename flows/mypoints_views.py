"""The "my points" page (我的积分): what a member opens most, phone first. The view only
reads: selectors in ``flows.mypoints`` gather the figures, ``HistoryFilter`` checks the
filters, and the chart's data reaches the page through ``json_script``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from viewflow.urls import Viewset
from viewflow.urls.sites import AppMenuMixin

from flows.mypoints import (
    EntrySource,
    approver_name,
    entry_sources,
    member_history,
    my_points,
    trend_chart,
)
from flows.mypoints_filters import HistoryFilter
from points.models import LedgerEntry
from points.selectors.org import member_for_user

#: History rows per page: a phone screen or two.
HISTORY_PAGE = 20


@dataclass(frozen=True)
class HistoryRow:
    entry: LedgerEntry
    source: EntrySource
    approver: str


class MyPointsView(View):
    template_name = "flows/my_points.html"

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        member = member_for_user(user=request.user)
        if member is None:
            return render(request, self.template_name, {"member": None})
        history = HistoryFilter(
            request.GET or None, queryset=member_history(member=member), request=request
        )
        status = 200
        page = None
        rows: list[HistoryRow] = []
        if history.is_bound and not history.is_valid():
            status = 400  # the form shows what is wrong; no history is guessed at
        else:
            page = Paginator(history.qs, HISTORY_PAGE).get_page(request.GET.get("page"))
            entries = list(page.object_list)
            sources = entry_sources(entries)
            rows = [HistoryRow(e, sources[e.pk], approver_name(e.approved_by)) for e in entries]
        figures = my_points(user=request.user, member=member)
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            "member": member,
            "figures": figures,
            "statement": figures.statement,
            "trend_chart": trend_chart(figures.trend, label=_("Points per month")),
            "filter": history,
            "page": page,
            "rows": rows,
            "query": query.urlencode(),
        }
        return render(request, self.template_name, context, status=status)


class MyPointsViewset(AppMenuMixin, Viewset):
    """我的积分 in the site's menu, for everyone who logs in."""

    title = gettext_lazy("My points")
    icon = "account_balance_wallet"
    app_name = "me"

    index_path = path("", MyPointsView.as_view(), name="index")

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        return bool(user.is_authenticated)
