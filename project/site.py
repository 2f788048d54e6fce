"""The viewflow Site: menu and pages under our own name. Flow applications join it here."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.urls import URLPattern, URLResolver, path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application, Site, Viewset
from viewflow.urls.sites import AppMenuMixin
from viewflow.workflow.flow import FlowAppViewset
from viewflow.workflow.flow.views import DetailProcessView, FlowChartView
from viewflow.workflow.models import Task

from flows import publicity_views, redemption_views
from flows.bulk_review import BulkApproveView
from flows.dashboard_views import DashboardViewset
from flows.flows import (
    AppealFlow,
    AwardNoticeFlow,
    DeclarationFlow,
    RedemptionFlow,
    SummaryFlow,
)
from flows.imports_views import ImportViewset
from flows.inbox import ArchiveView, FlowTasksView, InboxView, QueueView
from flows.mypoints_views import MyPointsViewset
from flows.records import process_record
from flows.tasklock import not_found_unseen
from flows.views import MyDeclarationsView, NoticeListView, declaration_withdraw_view
from points.audit_views import AUDIT_READERS, AuditLogView
from points.ids import id_from
from points.prize_views import PrizeAwardListView, prize_award_paid
from points.roles import Role
from points.selectors.org import member_name_of, user_roles
from points.views import HomeView, RuleCatalogView


class RuleCatalogViewset(AppMenuMixin, Viewset):
    title = _("Rule catalog")
    icon = "menu_book"

    index_path = path("", RuleCatalogView.as_view(), name="index")

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        return bool(user.has_perm("points.view_ruleitem"))


def _seen(flow_class: Any, user: Any, kwargs: dict[str, Any]) -> bool:
    """Whether ``user`` may see the process of a flow page's address (``process_pk``) and,
    if it names a task (``task_pk``), whether that task is one of the process's."""
    # (the path takes any digits: one no key can hold fails SQLite rather than finding nothing)
    process_id = id_from(kwargs["process_pk"])
    if process_id is None:
        return False
    if "task_pk" in kwargs:
        task_id = id_from(kwargs["task_pk"])
        if task_id is None or not Task.objects.filter(pk=task_id, process_id=process_id).exists():
            return False
    return bool(flow_class.instance.visible_to(user).filter(process_id=process_id).exists())


def _unseen_not_found(
    view: Callable[..., Any], flow_class: Any, *, ask_first: bool
) -> Callable[..., Any]:
    """A flow page about a process: refused (403) to one who may not see the process, it is
    "not found" (404), as for a process that does not exist, since 403 says it does. Asked
    only when refused, so the pages one may use cost nothing more; but ``ask_first`` for a
    page that refuses nobody (a step's address, which redirects to its page or, viewflow's,
    home with "You have no rights to view this task")."""

    @wraps(view)
    def page(request: Any, *args: Any, **kwargs: Any) -> Any:
        if ask_first and not _seen(flow_class, request.user, kwargs):
            raise not_found_unseen(request)
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied:
            if not _seen(flow_class, request.user, kwargs):
                raise not_found_unseen(request) from None
            raise

    page.hides_unseen = True  # type: ignore[attr-defined]
    return page


def _hide_unseen(patterns: list[Any], flow_class: Any) -> None:
    """``_unseen_not_found`` on every page of ``patterns`` (and those they include) whose
    address names a process: its page, chart and cancel, and every step's pages (open,
    claim, give back, detail, undo, cancel, revive)."""
    for i, pattern in enumerate(patterns):
        if isinstance(pattern, URLResolver):
            _hide_unseen(pattern.url_patterns, flow_class)
        elif "process_pk" in pattern.pattern.converters and not getattr(
            pattern.callback, "hides_unseen", False
        ):  # (a flow's URLs are built once and shared: wrapped once)
            patterns[i] = URLPattern(
                pattern.pattern,
                _unseen_not_found(pattern.callback, flow_class, ask_first=pattern.name == "index"),
                pattern.default_args,
                pattern.name,
            )


class ScopedChartView(FlowChartView):
    """viewflow's chart: a process's chart (coloured by its progress) only for those who may
    see the process."""

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if "process_pk" in kwargs and not _seen(self.flow_class, request.user, kwargs):
            raise not_found_unseen(request)
        return super().dispatch(request, *args, **kwargs)


GATEWAYS = ("SWITCH", "EXCLUSIVE_GATEWAY", "PARALLEL_GATEWAY", "JOIN")  # viewflow task_type


class ProcessDetailView(DetailProcessView):
    """viewflow's process page, with the record the process is about (flows/records.py),
    each step's owner by name, and its Cancel button only for those who may cancel
    (viewflow showed it to everyone, then refused them)."""

    template_name = "flows/process_detail.html"

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """A process the user may not see is "not found", as its chart and task pages
        answer (viewflow's 403 said it exists)."""
        flow = self.flow_class.instance  # type: ignore[union-attr]
        if not flow.has_view_permission(request.user, obj=self.get_object()):
            raise not_found_unseen(request)
        # (viewflow's own dispatch would ask the same question again)
        return super(DetailProcessView, self).dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        process = context["process"]
        # the steps people took, and the end; not the gateways between them ("按结果流转")
        context["task_list"] = (
            context["task_list"]
            .exclude(flow_task_type__in=GATEWAYS)
            .annotate(owner_name=member_name_of("owner"))
        )
        context["record"] = process_record(process, self.request.user)
        context["can_cancel"] = (
            process.status == "NEW"
            and self.flow_class.instance.has_manage_permission(  # type: ignore[union-attr]
                self.request.user, process
            )
        )
        return context


class ScopedFlowAppViewset(FlowAppViewset):
    """Every page viewflow adds for a flow, scoped to the records the user may see; the
    task lists say what each task is about."""

    inbox_view_class = InboxView
    queue_view_class = QueueView
    archive_view_class = ArchiveView
    task_list_view_class = FlowTasksView
    chart_view_class = ScopedChartView
    process_detail_view_class = ProcessDetailView

    def _get_urls(self) -> list[Any]:
        patterns: list[Any] = super()._get_urls()
        _hide_unseen(patterns, self._flow_class)
        return patterns


class DeclarationViewset(ScopedFlowAppViewset):
    """viewflow's flow pages, with the process list scoped to what the user may see."""

    index_path = path("", MyDeclarationsView.as_view(), name="index")
    process_list_path = path("list/", MyDeclarationsView.as_view(), name="process_list")
    bulk_approve_path = path("bulk-approve/", BulkApproveView.as_view(), name="bulk_approve")
    withdraw_path = path("withdraw/<int:pk>/", declaration_withdraw_view, name="withdraw")


class NoticeViewset(ScopedFlowAppViewset):
    index_path = path("", NoticeListView.as_view(), name="index")
    process_list_path = path("list/", NoticeListView.as_view(), name="process_list")


class SummaryViewset(ScopedFlowAppViewset):
    index_path = path("", publicity_views.SummaryListView.as_view(), name="index")
    process_list_path = path(
        "list/", publicity_views.SummaryListView.as_view(), name="process_list"
    )


class AppealViewset(ScopedFlowAppViewset):
    index_path = path("", publicity_views.AppealListView.as_view(), name="index")
    process_list_path = path("list/", publicity_views.AppealListView.as_view(), name="process_list")


class PublicityBoardViewset(AppMenuMixin, Viewset):
    """Published batches for everyone in scope, their PDF notices, and the committee's
    sign-off pages."""

    title = _("Publicity board")  # under the application "Publicity"
    icon = "campaign"
    app_name = "board"

    index_path = path("", publicity_views.PublicityListView.as_view(), name="index")
    detail_path = path("<int:pk>/", publicity_views.publicity_detail, name="detail")
    pdf_path = path("<int:pk>/pdf/", publicity_views.publicity_pdf, name="pdf")
    signoffs_path = path("signoff/", publicity_views.SignOffListView.as_view(), name="signoffs")
    signoff_path = path("signoff/<int:pk>/", publicity_views.SignOffView.as_view(), name="signoff")

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        return bool(user.is_authenticated)


class ShopViewset(AppMenuMixin, Viewset):
    """The points shop: rewards on offer to the member, and their pictures."""

    title = _("Points shop")
    icon = "storefront"
    app_name = "rewards"

    index_path = path("", redemption_views.ShopView.as_view(), name="index")
    picture_path = path("<int:pk>/picture/", redemption_views.reward_picture, name="picture")

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        return bool(user.is_authenticated)


class RedemptionViewset(ScopedFlowAppViewset):
    index_path = path("", redemption_views.RedemptionListView.as_view(), name="index")
    process_list_path = path(
        "list/", redemption_views.RedemptionListView.as_view(), name="process_list"
    )
    withdraw_path = path(
        "withdraw/<int:pk>/", redemption_views.redemption_withdraw, name="withdraw"
    )


class PrizeViewset(AppMenuMixin, Viewset):
    """HR's list of prize winners."""

    title = _("Prize winners")
    icon = "emoji_events"
    app_name = "prizes"

    index_path = path("", PrizeAwardListView.as_view(), name="index")
    paid_path = path("<int:pk>/paid/", prize_award_paid, name="paid")

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        return Role.HR in user_roles(user=user)


class AuditLogViewset(AppMenuMixin, Viewset):
    """HR's and the committee's search of the organisation's audit log."""

    title = _("Audit log")
    icon = "policy"
    app_name = "audit"

    index_path = path("", AuditLogView.as_view(), name="index")

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        return bool(user_roles(user=user) & AUDIT_READERS)


class PointsSite(Site):
    index_path = path("", HomeView.as_view(), name="index")
    menu_template_name = "points/includes/site_menu.html"  # with a way home


site = PointsSite(
    title=_("Points system"),
    primary_color="#b71c1c",
    secondary_color="#ff8f00",
    viewsets=[
        Application(
            title=_("Points"),
            icon="stars",
            app_name="points",
            viewsets=[
                MyPointsViewset(),
                RuleCatalogViewset(),
                DashboardViewset(),
                AuditLogViewset(),
            ],
        ),
        Application(
            title=_("Declarations"),
            icon="assignment",
            app_name="declarations",
            viewsets=[
                DeclarationViewset(DeclarationFlow, icon="edit_note"),
                NoticeViewset(AwardNoticeFlow, icon="campaign"),
                ImportViewset(),
            ],
        ),
        Application(
            title=_("Publicity"),
            icon="how_to_vote",
            app_name="publicity",
            viewsets=[
                PublicityBoardViewset(),
                SummaryViewset(SummaryFlow, icon="summarize"),
                AppealViewset(AppealFlow, icon="gavel"),
            ],
        ),
        Application(
            title=_("Points shop"),
            icon="storefront",
            app_name="shop",
            viewsets=[
                ShopViewset(),
                RedemptionViewset(RedemptionFlow, icon="redeem"),
                PrizeViewset(),
            ],
        ),
    ],
)
