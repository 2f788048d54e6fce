"""The declaration flow (申报): start → review by the superior → (escalate | return and
revise | approve into the pending pool | reject). The Flow class is the one place that
says which moves are allowed; services decide and record."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow

from flows import views
from flows.models import AwardNotice, Declaration, DeclarationStatus, NoticeStatus


class ScopedViewMixin:
    """For a Flow: its pages need the process view permission (every role has it); a
    process itself only for those who may see its record, as the flow's ``visible_to``
    says."""

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        if not super().has_view_permission(user):  # type: ignore[misc]
            return False
        return obj is None or bool(self.visible_to(user).filter(process=obj).exists())  # type: ignore[attr-defined]


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
        flow.View(views.DeclarationReviewView.as_view())
        .Annotation(title=_("Review the declaration"))
        .Assign(this.current_reviewer)
        .Next(this.route)
    )
    route = (
        flow.Switch()
        .Case(this.review, this.is_escalated)
        .Case(this.revise, this.is_returned)
        .Default(this.end)
    )
    revise = (
        flow.View(views.DeclarationReviseView.as_view())
        .Annotation(title=_("Revise the declaration"))
        .Assign(this.declarant)
        .Next(this.review)
    )
    end = flow.End()

    def visible_to(self, user: Any) -> Any:
        from flows.services import declaration_visible_to

        return declaration_visible_to(user=user)

    # The declaration is read afresh each time: the process object may hold a stale copy.

    def _declaration(self, activation: Any) -> Declaration:
        return Declaration.objects.select_related("reviewer", "submitted_by").get(
            process_id=activation.process.pk
        )

    def current_reviewer(self, activation: Any) -> Any:
        return self._declaration(activation).reviewer

    def declarant(self, activation: Any) -> Any:
        return self._declaration(activation).submitted_by

    def is_escalated(self, activation: Any) -> bool:
        return self._declaration(activation).status == DeclarationStatus.ESCALATED

    def is_returned(self, activation: Any) -> bool:
        return self._declaration(activation).status == DeclarationStatus.RETURNED


class AwardNoticeFlow(ScopedViewMixin, flow.Flow):
    """奖扣分通知单: issued by a leader; above the issuer's tier the next level signs."""

    process_title = _("Award notice")
    process_description = _("A leader awards or deducts points to members of their units.")

    start = (
        flow.Start(views.NoticeStartView.as_view())
        .Annotation(title=_("Issue an award or deduction notice"))
        .Available(lambda user: views.may_issue_notice(user))
        .Next(this.route)
    )
    route = flow.Switch().Case(this.sign, this.needs_signature).Default(this.end)
    sign = (
        flow.View(views.NoticeSignView.as_view())
        .Annotation(title=_("Sign the notice"))
        .Assign(this.signer)
        .Next(this.end)
    )
    end = flow.End()

    def _notice(self, activation: Any) -> AwardNotice:
        return AwardNotice.objects.get(process_id=activation.process.pk)

    def needs_signature(self, activation: Any) -> bool:
        return self._notice(activation).status == NoticeStatus.AWAITING_SIGNATURE

    def signer(self, activation: Any) -> Any:
        return self._notice(activation).signer

    def visible_to(self, user: Any) -> Any:
        from flows.services import notice_visible_to

        return notice_visible_to(user=user)
