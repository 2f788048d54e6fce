"""The task lists reviewers work from (viewflow's inbox, queue and archive of each flow), with
what each task is about: whose declaration, which rule, how many points. viewflow's own
lists repeated the task's title in a "Brief" column, so ten tasks looked alike.

Each flow has a ``subjects`` function: process ids → one line each, read in a fixed number
of queries for the whole page (the page's rows are known once the list is paginated).

The lists' filters name each step by its title and each record by its number and subject,
and the claim page's message says what was claimed (viewflow named steps by their raw node
names, "积分申报/Review", and tasks and processes by their own numbers, "#161")."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import ChoiceFilter, DateRangeFilter, FilterSet, MultipleChoiceFilter
from viewflow.workflow.fields import get_task_ref
from viewflow.workflow.flow.views import (
    AssignTaskView,
    DashboardTaskListView,
    FlowArchiveListView,
    FlowInboxListView,
    FlowQueueListView,
    UnassignTaskView,
)
from viewflow.workflow.flow.views.filters import NullDateRangeFilter
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

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
from flows.tasklock import claimable
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
            (
                summary.scope.name if summary.scope.parent_id else _("the whole organisation"),
                f"{summary.period_start:%Y-%m-%d} – {summary.period_end:%Y-%m-%d}",
            )
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


#: The model of the record each flow's processes are about: its key is the record's number.
RECORD_MODELS: dict[type, Any] = {
    DeclarationFlow: Declaration,
    AwardNoticeFlow: AwardNotice,
    SummaryFlow: Summary,
    AppealFlow: Appeal,
    RedemptionFlow: Redemption,
}


def _step_choices(flow_class: Any, tasks: QuerySet[Any]) -> list[tuple[str, str]]:
    """The steps ``tasks`` are at, by their titles, in the order the flow declares them."""
    order = {name: n for n, name in enumerate(vars(flow_class))}
    nodes = tasks.order_by().values_list("flow_task", flat=True).distinct()
    return [
        (get_task_ref(node), str(node.task_title))
        for node in sorted(nodes, key=lambda node: order.get(node.name, len(order)))
    ]


def _record_choices(flow_class: Any, tasks: QuerySet[Any]) -> list[tuple[int, str]]:
    """The records ``tasks`` are about, each by its number and subject as the lists show
    them, newest first, in a fixed number of queries."""
    numbers = dict(
        RECORD_MODELS[flow_class]
        .objects.filter(process_id__in=tasks.order_by().values("process_id"))
        .values_list("process_id", "pk")
    )
    subjects = SUBJECTS[flow_class](list(numbers)) if numbers else {}
    return [
        (process_id, " · ".join(filter(None, (f"#{number}", subjects.get(process_id)))))
        for process_id, number in sorted(numbers.items(), key=lambda row: -row[1])
    ]


class _StepsFilter(FilterSet):
    """viewflow's task filters (``viewflow.workflow.flow.views.filters``), with each step
    named by its title ("审核申报", where viewflow said "积分申报/Review")."""

    flow_task = ChoiceFilter()
    created = DateRangeFilter()

    def __init__(self, *args: Any, flow_class: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters["flow_task"].field.choices = _step_choices(flow_class, self.queryset)


class MyTasksFilter(_StepsFilter):
    """The inbox's and the queue's: which record, under the flow's name, by its number and
    subject as the lists show them (viewflow offered the process's own number: "积分申报
    #46" for declaration #7), which step, created when."""

    process = ChoiceFilter()

    class Meta:
        model = Task
        fields = ("process", "flow_task", "created")

    def __init__(self, *args: Any, flow_class: Any, **kwargs: Any) -> None:
        super().__init__(*args, flow_class=flow_class, **kwargs)
        records = self.filters["process"]
        records.label = flow_class.process_title
        records.field.choices = _record_choices(flow_class, self.queryset)


class ArchiveFilter(_StepsFilter):
    finished = DateRangeFilter()

    class Meta:
        model = Task
        fields = ("flow_task", "created", "finished")


class FlowTasksFilter(_StepsFilter):
    """The flow's list of all tasks: by default the unfinished ones (viewflow's rule)."""

    status = MultipleChoiceFilter(choices=STATUS.choices)
    finished = NullDateRangeFilter()

    class Meta:
        model = Task
        fields = ("flow_task", "status", "created", "finished")


class _SubjectsMixin:
    """A "subject" column (linked to the task) in place of viewflow's task number and
    "Brief", read for the page's tasks at once; filters by step title and record."""

    flow_class: Any
    request: Any
    template_name = "flows/task_list.html"
    _subjects: Subjects
    _page_tasks: list[Any]

    def get_filterset_kwargs(self, filterset_class: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_filterset_kwargs(filterset_class)  # type: ignore[misc]
        return {**kwargs, "flow_class": self.flow_class}

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
    filterset_class = FlowTasksFilter

    def get_filterset(self, filterset_class: Any, queryset: Any) -> Any:
        # scoped before the filters read their choices from it
        visible = self.flow_class.instance.visible_to(self.request.user)
        queryset = queryset.filter(process__in=visible.values("process"))
        return super().get_filterset(filterset_class, queryset)  # type: ignore[misc]

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
    filterset_class = MyTasksFilter

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        reviews = [t for t in self._page_tasks if t.flow_task == DeclarationFlow.review]
        if self.flow_class is DeclarationFlow and len(reviews) > 1:
            viewset = self.request.resolver_match.flow_viewset
            context["bulk_url"] = viewset.reverse("bulk_approve")
        return context


class QueueView(_SubjectsMixin, FlowQueueListView):
    """viewflow's queue, of tasks the user may claim in processes they may see: viewflow
    listed a task with no queue permission (given back by its owner) in every user's queue,
    in every organisation."""

    columns = ("subject", "task_title", "created")
    filterset_class = MyTasksFilter

    def _claimable(self, tasks: Any) -> Any:
        visible = self.flow_class.instance.visible_to(self.request.user)
        return claimable(tasks.filter(process__in=visible.values("process")), self.request.user)

    def get_filterset(self, filterset_class: Any, queryset: Any) -> Any:
        # scoped before the filters read their choices (records by subject) from it
        return super().get_filterset(filterset_class, self._claimable(queryset))  # type: ignore[misc]

    def get_queryset(self) -> Any:
        return self._claimable(super().get_queryset())


class ArchiveView(_SubjectsMixin, FlowArchiveListView):
    columns = ("subject", "task_title", "finished")
    filterset_class = ArchiveFilter

    def link(self, task: Any) -> str:
        """A done task's page says little: the process page shows every step."""
        viewset = self.request.resolver_match.flow_viewset
        return str(viewset.reverse("process_detail", args=[task.process_id]))


def task_in_words(process: Any, task: Any) -> str:
    """A task as a person would say it: its step and what its process is about, e.g.
    "审核申报 · 张三 · 合理化建议 · +10 分"."""
    subjects = SUBJECTS.get(process.flow_class)
    subject = subjects([process.pk]).get(process.pk) if subjects else None
    return " · ".join(filter(None, (str(task.flow_task.task_title), subject)))


class _SaysWhatMixin:
    """After claiming or putting back a task, say which task in words: viewflow's message
    named it by its number as a link ("任务 #161 已领取。"), which its snackbar drew as
    "任务 已领取。" beside a "#161" button."""

    request: Any
    done_message: Any

    def get_success_message(self, cleaned_data: dict[str, Any]) -> str:
        activation = self.request.activation
        return str(self.done_message) % {"what": task_in_words(activation.process, activation.task)}


class ClaimTaskView(_SaysWhatMixin, AssignTaskView):
    """viewflow's claim page (the node's ``assign`` view), saying what was claimed."""

    done_message = gettext_lazy("Claimed: %(what)s")


class PutBackTaskView(_SaysWhatMixin, UnassignTaskView):
    """viewflow's page that puts a claimed task back in the queue (the node's ``unassign``
    view), saying what was put back."""

    done_message = gettext_lazy("Put back: %(what)s")
