"""The task lists reviewers work from (viewflow's inbox, queue and archive of each flow), with
what each task is about: whose declaration, which rule, how many points. viewflow's own
lists repeated the task's title in a "Brief" column, so ten tasks looked alike.

Each flow has a ``subjects`` function: process ids → one line each, read in a fixed number
of queries for the whole page (the page's rows are known once the list is paginated)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Prefetch
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.flow.views import (
    DashboardTaskListView,
    FlowArchiveListView,
    FlowInboxListView,
    FlowQueueListView,
)

from flows.flows import AppealFlow, AwardNoticeFlow, DeclarationFlow, RedemptionFlow, SummaryFlow
from flows.models import (
    Appeal,
    AwardNotice,
    Declaration,
    DeclarationItem,
    NoticeItem,
    Redemption,
    Summary,
)
from points.selectors.org import member_name_of

Subjects = dict[int | None, str]  # process id → what the process is about


def _points(total: int) -> str:
    return _("%(points)s points") % {"points": f"{total:+d}" if total else "0"}


def _rules(items: list[Any]) -> str:
    """The items' rule, or the first of their rules and how many items there are."""
    if not items:
        return "—"
    first = items[0].rule_item.name
    if len({item.rule_item_id for item in items}) == 1:
        return first
    return _("%(rule)s and others, %(count)s items") % {"rule": first, "count": len(items)}


def _declarations(process_ids: list[int]) -> Subjects:
    rows = Declaration.objects.filter(process_id__in=process_ids).select_related("member")
    rows = rows.prefetch_related(
        Prefetch("items", DeclarationItem.objects.select_related("rule_item").order_by("pk"))
    )
    found = {}
    for declaration in rows:
        items = list(declaration.items.all())
        total = sum(item.signed_total for item in items)
        found[declaration.process_id] = " · ".join(
            (declaration.member.name, _rules(items), _points(total))
        )
    return found


def _notices(process_ids: list[int]) -> Subjects:
    rows = AwardNotice.objects.filter(process_id__in=process_ids).select_related("issuer")
    rows = rows.prefetch_related(
        Prefetch("items", NoticeItem.objects.select_related("rule_item", "member").order_by("pk"))
    )
    found = {}
    for notice in rows:
        items = list(notice.items.all())
        people = {item.member.name for item in items}
        who = (
            items[0].member.name
            if len(people) == 1
            else _("%(count)s members") % {"count": len(people)}
        )
        total = sum(item.signed_total for item in items)
        found[notice.process_id] = " · ".join(
            (
                who,
                _rules(items),
                _points(total),
                _("issued by %(name)s") % {"name": notice.issuer.name},
            )
        )
    return found


def _summaries(process_ids: list[int]) -> Subjects:
    rows = Summary.objects.filter(process_id__in=process_ids).select_related("scope")
    return {
        summary.process_id: " · ".join(
            (summary.scope.name, f"{summary.period_start:%Y-%m-%d} – {summary.period_end:%Y-%m-%d}")
        )
        for summary in rows
    }


def _appeals(process_ids: list[int]) -> Subjects:
    rows = Appeal.objects.filter(process_id__in=process_ids).select_related(
        "appellant", "item__member", "item__rule_item"
    )
    return {
        appeal.process_id: " · ".join(
            (
                _("appeal by %(name)s") % {"name": appeal.appellant.name},
                appeal.item.member.name,
                appeal.item.rule_item.name,
                _points(appeal.item.amount),
            )
        )
        for appeal in rows
    }


def _redemptions(process_ids: list[int]) -> Subjects:
    rows = Redemption.objects.filter(process_id__in=process_ids).select_related("member", "reward")
    return {
        redemption.process_id: " · ".join(
            (
                redemption.member.name,
                redemption.reward.name,
                _("%(points)s redeemable points") % {"points": redemption.points},
            )
        )
        for redemption in rows
    }


SUBJECTS: dict[type, Callable[[list[int]], Subjects]] = {
    DeclarationFlow: _declarations,
    AwardNoticeFlow: _notices,
    SummaryFlow: _summaries,
    AppealFlow: _appeals,
    RedemptionFlow: _redemptions,
}


class _SubjectsMixin:
    """A "subject" column (linked to the task) in place of viewflow's task number and
    "Brief", read for the page's tasks at once."""

    flow_class: Any
    request: Any
    template_name = "flows/task_list.html"
    _subjects: Subjects
    _page_tasks: list[Any]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        page = context.get("page_obj")
        tasks: Iterable[Any] = page.object_list if page is not None else context["object_list"]
        self._page_tasks = list(tasks)
        process_ids = sorted({task.process_id for task in self._page_tasks})
        self._subjects = SUBJECTS[self.flow_class](process_ids) if process_ids else {}
        return context

    def link(self, task: Any) -> str:
        return str(task.flow_task.reverse("index", args=[task.process_id, task.pk]))

    def subject(self, task: Any) -> str:
        text = self._subjects.get(task.process_id) or task.title
        return format_html('<a href="{}">{}</a>', self.link(task), text)

    subject.short_description = gettext_lazy("Subject")  # type: ignore[attr-defined]

    def task_title(self, task: Any) -> str:
        return str(task.title)

    task_title.short_description = gettext_lazy("Task")  # type: ignore[attr-defined]


class FlowTasksView(_SubjectsMixin, DashboardTaskListView):
    """viewflow's list of all the flow's tasks (under the flow's dashboard), only for
    processes the user may see, with each task's subject and its owner by name."""

    template_name = "flows/flow_task_list.html"
    columns = ("subject", "task_title", "created", "owner_name")

    def get_queryset(self) -> Any:
        visible = self.flow_class.instance.visible_to(self.request.user)
        return (
            super()
            .get_queryset()
            .filter(process__in=visible.values("process"))
            .annotate(owner_name=member_name_of("owner"))
        )

    def owner_name(self, task: Any) -> str:
        return str(task.owner_name or "—")

    owner_name.short_description = gettext_lazy("owner")  # type: ignore[attr-defined]


class InboxView(_SubjectsMixin, FlowInboxListView):
    columns = ("subject", "task_title", "created")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        reviews = [t for t in self._page_tasks if t.flow_task == DeclarationFlow.review]
        if self.flow_class is DeclarationFlow and len(reviews) > 1:
            viewset = self.request.resolver_match.flow_viewset
            context["bulk_url"] = viewset.reverse("bulk_approve")
        return context


class QueueView(_SubjectsMixin, FlowQueueListView):
    columns = ("subject", "task_title", "created")


class ArchiveView(_SubjectsMixin, FlowArchiveListView):
    columns = ("subject", "task_title", "finished")

    def link(self, task: Any) -> str:
        """A done task's page says little: the process page shows every step."""
        viewset = self.request.resolver_match.flow_viewset
        return str(viewset.reverse("process_detail", args=[task.process_id]))
