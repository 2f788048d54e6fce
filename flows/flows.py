"""The declaration flow (申报): start → review by the superior → (escalate | return and
revise | approve into the pending pool | reject). The Flow class is the one place that
says which moves are allowed; services decide and record."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow

from flows import publicity_views, redemption_views, views
from flows.models import (
    Appeal,
    AwardNotice,
    Declaration,
    DeclarationStatus,
    NoticeStatus,
    Redemption,
    RedemptionStatus,
    Summary,
    SummaryStatus,
)
from flows.tasklock import LockedView, claimable


class ScopedViewMixin:
    """For a Flow: its pages need the process view permission (every role has it); a
    process itself only for those who may see its record, as the flow's ``visible_to``
    says."""

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        if not super().has_view_permission(user):  # type: ignore[misc]
            return False
        return obj is None or bool(self.visible_to(user).filter(process=obj).exists())  # type: ignore[attr-defined]

    def cancel_open(self, process: Any) -> None:
        """Its record was withdrawn: cancel the process and its open task (called by the
        record's service in its transaction, after ``tasks_then_record_lock``)."""
        from viewflow.workflow.status import PROCESS

        if process.status not in (PROCESS.DONE, PROCESS.CANCELED):
            self.cancel(process)  # type: ignore[attr-defined]


class DeclarationFlow(ScopedViewMixin, flow.Flow):
    process_title = _("Declaration")
    process_description = _("Claim points from the rule catalog with evidence.")

    start = (
        flow.Start(views.DeclarationStartView.as_view())
        .Annotation(title=_("Declare points"))
        .Available(lambda user: views.may_declare(user))
        .Next(this.review)
    )
    review = (
        LockedView(views.DeclarationReviewView.as_view())
        .Annotation(title=_("Review the declaration"))
        .Assign(this.current_reviewer)
        .Next(this.route)
    )
    route = (
        flow.Switch()
        .Annotation(title=_("Routing by the outcome"))
        .Case(this.review, this.is_escalated)
        .Case(this.revise, this.is_returned)
        .Default(this.end)
    )
    revise = (
        LockedView(views.DeclarationReviseView.as_view())
        .Annotation(title=_("Revise the declaration"))
        .Assign(this.declarant)
        .Next(this.review)
    )
    end = flow.End().Annotation(title=_("Process ended"))

    def visible_to(self, user: Any) -> Any:
        from flows.services import declaration_visible_to

        return declaration_visible_to(user=user)

    # The declaration is read afresh for each node: the process object may hold a stale copy
    # (``process.declaration``). Only the service that has just written the row, in this
    # request, hands it over (``fresh_declaration``, see ``flows.services._hand_to_flow``).

    def _declaration(self, activation: Any) -> Declaration:
        """Read once per activation (the Switch asks two questions of the same row)."""
        cached: Declaration | None = getattr(activation, "_declaration", None) or vars(
            activation.process
        ).pop("fresh_declaration", None)  # handed over once: a later node reads afresh
        if cached is None:
            cached = Declaration.objects.select_related("reviewer", "submitted_by").get(
                process_id=activation.process.pk
            )
        activation._declaration = cached
        return cached

    def current_reviewer(self, activation: Any) -> Any:
        return self._declaration(activation).reviewer

    def declarant(self, activation: Any) -> Any:
        return self._declaration(activation).submitted_by

    def is_escalated(self, activation: Any) -> bool:
        return self._declaration(activation).status == DeclarationStatus.ESCALATED

    def is_returned(self, activation: Any) -> bool:
        return self._declaration(activation).status == DeclarationStatus.RETURNED


class AwardNoticeFlow(ScopedViewMixin, flow.Flow):
    """奖扣分通知单: issued by a leader; above the issuer's tier the next level signs, and so
    on up until a signer's tier covers it (a notice takes effect only when signed by a
    deputy general manager or above, the laundry company's rule)."""

    process_title = _("Award notice")
    process_description = _("A leader awards or deducts points to members of their units.")

    start = (
        flow.Start(views.NoticeStartView.as_view())
        .Annotation(title=_("Issue an award or deduction notice"))
        .Available(lambda user: views.may_issue_notice(user))
        .Next(this.route)
    )
    route = (
        flow.Switch()
        .Annotation(title=_("Routing by the outcome"))
        .Case(this.sign, this.needs_signature)
        .Default(this.end)
    )
    sign = (
        LockedView(views.NoticeSignView.as_view())
        .Annotation(title=_("Sign the notice"))
        .Assign(this.signer)
        .Next(this.route)  # above the signer's authority too, the next level signs
    )
    end = flow.End().Annotation(title=_("Process ended"))

    def _notice(self, activation: Any) -> AwardNotice:
        return AwardNotice.objects.get(process_id=activation.process.pk)

    def needs_signature(self, activation: Any) -> bool:
        return self._notice(activation).status == NoticeStatus.AWAITING_SIGNATURE

    def signer(self, activation: Any) -> Any:
        return self._notice(activation).signer

    def visible_to(self, user: Any) -> Any:
        from flows.services import notice_visible_to

        return notice_visible_to(user=user)


class SummaryFlow(ScopedViewMixin, flow.Flow):
    """汇总 → 签发 → 公示 → 记入积分账户: HR prepares, the committee signs off (the step
    completes when the policy's quorum decides), the batch is published for its window,
    and when the window's timer fires the unchallenged items are posted."""

    process_title = _("Summary and publicity")
    process_description = _("HR gathers a period's approved items; the committee signs off.")

    start = (
        flow.Start(publicity_views.SummaryStartView.as_view())
        .Annotation(title=_("Open a summary"))
        .Available(lambda user: publicity_views.may_run_summary(user))
        .Next(this.prepare)
    )
    prepare = (
        LockedView(publicity_views.SummaryPrepareView.as_view())
        .Annotation(title=_("Prepare the summary"))
        .Assign(this.hr_owner)
        .Next(this.signoff)
    )
    signoff = flow.Handle().Annotation(title=_("Committee sign-off")).Next(this.signed)
    signed = (
        flow.Switch()
        .Annotation(title=_("Routing by the outcome"))
        .Case(this.publicity, this.is_published)
        .Default(this.prepare)
    )
    publicity = flow.Timer(this.window_end).Annotation(title=_("Publicity window")).Next(this.post)
    post = flow.Function(this.post_items).Annotation(title=_("Post to the ledger")).Next(this.end)
    end = flow.End().Annotation(title=_("Process ended"))

    def _summary(self, activation: Any) -> Summary:
        return Summary.objects.get(process_id=activation.process.pk)

    def hr_owner(self, activation: Any) -> Any:
        return self._summary(activation).created_by

    def is_published(self, activation: Any) -> bool:
        return self._summary(activation).status == SummaryStatus.PUBLICITY

    def window_end(self, activation: Any) -> Any:
        return self._summary(activation).window_ends_at

    def post_items(self, activation: Any) -> None:
        from flows.publicity import publicity_close

        publicity_close(summary=self._summary(activation))

    def visible_to(self, user: Any) -> Any:
        from flows.publicity import summary_visible_to

        return summary_visible_to(user=user)


def _appeal_organisation(process: Any) -> Any:
    """The object the committee's ruling permission is checked on (viewflow calls this with
    the process; it is not resolved through ``this``)."""
    return Appeal.objects.select_related("organisation").get(process_id=process.pk).organisation


#: The re-examination's queue permission: HR's, on its own organisation (a django-guardian
#: object permission granted with the HR role; see
#: ``points.services.org.ORGANISATION_PERMISSIONS``), so that queue never crosses
#: organisations.
HR_QUEUE_PERMISSION = "points.reexamine_appeal"


class PartiesRefusedTask(LockedView):
    """A task nobody its record concerns (``_concerns``) may take from the queue or act
    on, even when it was assigned to them before."""

    def concerning(self, user: Any) -> Any:
        """The ids of the processes whose record concerns ``user`` (a ``values`` query)."""
        raise NotImplementedError  # each flow's step says who its parties are

    def _concerns(self, user: Any, task: Any) -> bool:
        return bool(self.concerning(user).filter(process_id=task.process_id).exists())

    def can_assign(self, user: Any, task: Any) -> bool:
        return bool(super().can_assign(user, task)) and not self._concerns(user, task)

    def can_execute(self, user: Any, task: Any) -> bool:
        return bool(super().can_execute(user, task)) and not self._concerns(user, task)


class AppealTask(PartiesRefusedTask):
    """A step of an appeal: nobody the appeal concerns (its appellant, the member whose
    item it is) takes or acts on it. The re-examination (二次核查) is assigned to an HR
    officer whom the appeal does not concern, or waits in HR's queue when it concerns every
    HR officer; the ruling waits in the committee's queue. ``flows.publicity``'s
    ``appeal_reexamine`` and ``appeal_rule`` refuse the parties as well."""

    def concerning(self, user: Any) -> Any:
        from flows.publicity import appeals_concerning

        # no NULL in the list: NOT IN (…, NULL) would hide every task of the step
        return appeals_concerning(user=user).filter(process__isnull=False).values("process_id")


class AppealFlow(ScopedViewMixin, flow.Flow):
    """申诉: a member objects to a published item; an HR officer whom the appeal does not
    concern re-examines (二次核查; ``flows.publicity.appeal_reexaminer`` says who, and when
    there is nobody the task waits in HR's queue); a committee member takes the ruling from
    the committee's queue (an object permission on the organisation, so the queue never
    crosses organisations) and rules (裁定)."""

    process_title = _("Appeal")
    process_description = _("Object to a published item during its publicity window.")

    start = (
        flow.Start(publicity_views.AppealStartView.as_view())
        .Annotation(title=_("Appeal an item"))
        .Available(lambda user: views.may_declare(user))
        .Next(this.reexamine)
    )
    reexamine = (
        AppealTask(publicity_views.AppealReexamineView.as_view())
        .Annotation(title=_("Re-examine the appeal"))
        .Assign(this.reexaminer)
        .Permission(HR_QUEUE_PERMISSION, obj=_appeal_organisation)
        .Next(this.rule)
    )
    rule = (
        AppealTask(publicity_views.AppealRuleView.as_view())
        .Annotation(title=_("Rule on the appeal"))
        .Permission("points.rule_appeal", obj=_appeal_organisation)
        .Next(this.end)
    )
    end = flow.End().Annotation(title=_("Process ended"))

    def _appeal(self, activation: Any) -> Appeal:
        return Appeal.objects.select_related("item__summary").get(process_id=activation.process.pk)

    def reexaminer(self, activation: Any) -> Any:
        from flows.publicity import appeal_reexaminer

        return appeal_reexaminer(appeal=self._appeal(activation))

    def visible_to(self, user: Any) -> Any:
        from flows.publicity import appeal_visible_to

        return appeal_visible_to(user=user)


def _redemption_organisation(process: Any) -> Any:
    """The object HR's redemption permission is checked on (viewflow calls this with the
    process)."""
    return Redemption.objects.select_related("organisation").get(process_id=process.pk).organisation


class RedemptionTask(PartiesRefusedTask):
    """An HR step of a redemption: HR may not take their own redemption from the queue
    (nor act on it; the services refuse them too), so it stays with the other HR officers."""

    def concerning(self, user: Any) -> Any:
        from flows.models import Redemption

        if getattr(user, "pk", None) is None:
            return Redemption.objects.none().values("process_id")
        mine = Redemption.objects.filter(member__user_id=user.pk, process__isnull=False)
        return mine.values("process_id")  # no NULL in the list (see AppealTask.concerning)


class RedemptionFlow(ScopedViewMixin, flow.Flow):
    """兑换: a member spends points on a reward (the points are spent at the request); HR
    takes the approval from the HR queue (an object permission on the organisation, so the
    queue never crosses organisations) and approves or rejects with a refund; an approved
    redemption waits in the queue to be fulfilled. The member may cancel before
    fulfilment (``cancel_open``): refunded, and the open task leaves the queue."""

    process_title = _("Redemption")
    process_description = _("Spend points on a reward from the points shop.")

    start = (
        flow.Start(redemption_views.RedemptionStartView.as_view())
        .Annotation(title=_("Redeem a reward"))
        .Available(lambda user: redemption_views.may_redeem(user))
        .Next(this.approve)
    )
    approve = (
        RedemptionTask(redemption_views.RedemptionApproveView.as_view())
        .Annotation(title=_("Approve the redemption"))
        .Permission("points.handle_redemption", obj=_redemption_organisation)
        .Next(this.approved)
    )
    approved = (
        flow.Switch()
        .Annotation(title=_("Routing by the outcome"))
        .Case(this.fulfil, this.is_approved)
        .Default(this.end)
    )
    fulfil = (
        RedemptionTask(redemption_views.RedemptionFulfilView.as_view())
        .Annotation(title=_("Fulfil the redemption"))
        .Permission("points.handle_redemption", obj=_redemption_organisation)
        .Next(this.end)
    )
    end = flow.End().Annotation(title=_("Process ended"))

    def is_approved(self, activation: Any) -> bool:
        status = (
            Redemption.objects.filter(process_id=activation.process.pk)
            .values_list("status", flat=True)
            .get()
        )
        return bool(status == RedemptionStatus.APPROVED)

    def visible_to(self, user: Any) -> Any:
        from flows.redemption import redemption_visible_to

        return redemption_visible_to(user=user)


#: Each flow's task lists (its viewset's URL namespace: ``inbox``, ``queue``), in the order
#: the home page lists them.
INBOXES = (
    (DeclarationFlow, "declarations:declaration"),
    (AwardNoticeFlow, "declarations:awardnotice"),
    (SummaryFlow, "publicity:summary"),
    (AppealFlow, "publicity:appeal"),
    (RedemptionFlow, "shop:redemption"),
)


def tasks_visible_to(user: Any) -> Any:
    """For ``Task.objects.filter``: tasks of our flows' processes the user may see (each
    flow's ``visible_to``), as the site's scoped task lists and the API's show them."""
    from django.db.models import Q

    visible = Q(pk__in=[])
    for flow_class, _lists in INBOXES:
        visible |= Q(
            process__flow_class=flow_class,
            process__in=flow_class.instance.visible_to(user).values("process"),
        )
    return visible


def _per_flow(tasks: Any) -> dict[Any, int]:
    """How many of ``tasks`` each flow class has, in one query."""
    from django.db.models import Count

    return dict(
        tasks.order_by()
        .values_list("process__flow_class")
        .annotate(n=Count("pk"))
        .values_list("process__flow_class", "n")
    )


def inbox_home_context(user: Any) -> dict[str, Any]:
    """The home page's task buttons: one per flow the user has tasks in, each to that
    flow's inbox (one count over every flow sent HR to an empty declaration inbox); one
    per flow with tasks waiting in its queue for the user to claim, each to that queue;
    and the counts the role buttons show.

    A queue's count is what viewflow's queue page (``FlowQueueListView``, our
    ``flows.inbox.QueueView``) lists: the new tasks of ``Task.objects.user_queue``, whose
    permission rule (the node's permission, guardian's object permissions) is viewflow's."""
    from django.urls import reverse
    from viewflow.workflow.models import Task
    from viewflow.workflow.status import STATUS

    assigned = _per_flow(Task.objects.filter(owner_id=user.pk, status=STATUS.ASSIGNED))
    # as the queue pages: in processes the user may see
    queue = Task.objects.user_queue(user).filter(status=STATUS.NEW).filter(tasks_visible_to(user))
    queued = _per_flow(claimable(queue, user))
    return {
        "inboxes": [
            (flow_class.process_title, reverse(f"{lists}:inbox"), assigned[flow_class])
            for flow_class, lists in INBOXES
            if assigned.get(flow_class)
        ],
        "queues": [
            (flow_class.process_title, reverse(f"{lists}:queue"), queued[flow_class])
            for flow_class, lists in INBOXES
            if queued.get(flow_class)
        ],
        "declaration_tasks": assigned.get(DeclarationFlow, 0),
        "appeals_to_rule": queued.get(AppealFlow, 0),
        "redemptions_to_handle": queued.get(RedemptionFlow, 0),
    }
