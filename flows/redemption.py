"""Redemption (兑换) in the points shop: writes and reads.

A member asks for a reward: in one transaction the reward row is locked, its offer,
eligibility and stock are checked, the points are spent through the ledger (a redemption
entry keyed ``redemption:<id>``; the ledger refuses a vetoed member, a frozen account and a
balance that does not cover the cost, with the reason) and one item of stock is taken. A
refusal raises a translated ``ValidationError`` and writes nothing. HR of the organisation
approves and then fulfils, or rejects with a reason; the member may cancel before
fulfilment. A rejection or cancellation reverses the redemption entry (the refund) and puts
the item back. Every step writes an audit row and tells the member.

Views, flow nodes and the demo call these functions and nothing else.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from flows.models import Redemption, RedemptionStatus
from flows.models.redemption import OPEN
from flows.tasklock import tasks_then_record_lock
from points.models import AuditEvent, EntryKind, Member, MemberStatus, Reward
from points.periods import organisation_today
from points.roles import Role
from points.selectors.org import member_for_user, user_roles
from points.selectors.shop import reward_refusal
from points.services.ledger import (
    LedgerError,
    PostingItem,
    ledger_post,
    ledger_reverse,
)
from points.services.shop import reward_lock, reward_stock_return, reward_stock_take

logger = logging.getLogger(__name__)


def _notify(user: Any, subject: str, body: str) -> None:
    from flows.notifications import notify

    notify(user=user, subject=subject, body=body)


def _audit(redemption: Redemption, user: Any, action: str, **data: Any) -> None:
    AuditEvent.objects.create(
        organisation_id=redemption.organisation_id,
        actor=user if getattr(user, "pk", None) else None,
        action=action,
        member_id=redemption.member_id,
        object_repr=str(redemption)[:200],
        data={"redemption": redemption.pk, "reward": redemption.reward_id, **data},
    )


def may_redeem(user: Any) -> bool:
    member = member_for_user(user=user)
    return member is not None and member.status == MemberStatus.ACTIVE


def _lock(redemption: Redemption) -> Redemption:
    return (
        Redemption.objects.select_for_update(of=("self",))
        .select_related("member__user", "reward", "organisation")
        .get(pk=redemption.pk)
    )


def _hr(user: Any, redemption: Redemption) -> Member:
    """The deciding HR officer's member: HR of the redemption's organisation, never the
    member who redeems."""
    member = member_for_user(user=user)
    if (
        member is None
        or member.organisation_id != redemption.organisation_id
        or Role.HR not in user_roles(user=user)
    ):
        raise PermissionDenied(_("Only HR of the organisation decides on redemptions."))
    if member.pk == redemption.member_id:
        raise PermissionDenied(_("You may not decide on your own redemption."))
    return member


# --- request --------------------------------------------------------------------------------


@transaction.atomic
def redemption_request(
    *, user: Any, reward_id: int, note: str = "", today: date | None = None
) -> Redemption:
    """The member asks for one item of a reward and the points are spent now."""
    member = member_for_user(user=user)
    if member is None or member.status != MemberStatus.ACTIVE:
        raise PermissionDenied(_("Only active members redeem rewards."))
    reward = reward_lock(reward_id=reward_id)
    if reward is None or reward.organisation_id != member.organisation_id:
        raise ValidationError(_("This reward is not offered."))
    organisation = member.organisation
    today = today or organisation_today(organisation)
    refusal = reward_refusal(reward=reward, member=member, roles=user_roles(user=user), today=today)
    if refusal:
        raise ValidationError(refusal)
    if reward.stock < 1:
        raise ValidationError(_("“%(reward)s” is out of stock.") % {"reward": reward.name})
    redemption = Redemption.objects.create(
        organisation=organisation,
        member=member,
        reward=reward,
        points=reward.points_cost,
        note=note.strip()[:500],
        requested_by=user,
    )
    try:
        entry = ledger_post(
            organisation=organisation,
            item=PostingItem(
                member_id=member.pk,
                idempotency_key=f"redemption:{redemption.pk}",
                effective_date=today,
                amount=-reward.points_cost,
                kind=EntryKind.REDEMPTION,
                source=redemption,
                note=reward.name[:200],
            ),
            actor=user,
            today=today,
        )
    except LedgerError as error:  # vetoed, not enough points, frozen, closed month
        raise ValidationError(str(error), code=error.code) from error
    reward_stock_take(reward=reward)
    redemption.entry = entry
    redemption.save(update_fields=["entry"])
    _audit(redemption, user, "redemption.request", points=redemption.points, entry=entry.pk)
    _notify(
        member.user,
        _("Your redemption was received"),
        _("%(reward)s for %(points)s points; HR will approve it. You may cancel until then.")
        % {"reward": reward.name, "points": redemption.points},
    )
    return redemption


# --- HR's decisions -------------------------------------------------------------------------


@transaction.atomic
def redemption_approve(*, redemption: Redemption, user: Any) -> Redemption:
    redemption = _lock(redemption)
    _hr(user, redemption)
    if redemption.status != RedemptionStatus.REQUESTED:
        raise ValidationError(_("This redemption is not waiting for approval."))
    redemption.status = RedemptionStatus.APPROVED
    redemption.decided_by = user
    redemption.decided_at = timezone.now()
    redemption.save(update_fields=["status", "decided_by", "decided_at"])
    _audit(redemption, user, "redemption.approve")
    _notify(
        redemption.member.user,
        _("Your redemption was approved"),
        _("%(reward)s will be handed over by HR.") % {"reward": redemption.reward.name},
    )
    return redemption


def _refund(redemption: Redemption, user: Any, reason: str) -> None:
    """Reverse the redemption entry and put the item back (inside the caller's
    transaction, with the redemption locked)."""
    reward = reward_lock(reward_id=redemption.reward_id)
    assert reward is not None and redemption.entry is not None
    try:
        entries = ledger_reverse(entry=redemption.entry, reason=reason[:400], actor=user)
    except LedgerError as error:
        raise ValidationError(str(error), code=error.code) from error
    redemption.refund_entry = next(e for e in entries if e.reverses_id == redemption.entry_id)
    reward_stock_return(reward=reward)


@transaction.atomic
def redemption_reject(*, redemption: Redemption, user: Any, reason: str) -> Redemption:
    """HR refuses (before fulfilment) with a reason; the member is refunded."""
    redemption = _lock(redemption)
    _hr(user, redemption)
    if redemption.status not in OPEN:
        raise ValidationError(_("Only a redemption that is not fulfilled can be rejected."))
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Give a reason for rejecting."))
    _refund(redemption, user, reason)
    redemption.status = RedemptionStatus.REJECTED
    redemption.reason = reason[:500]
    redemption.decided_by = user
    redemption.decided_at = timezone.now()
    redemption.save(update_fields=["status", "reason", "decided_by", "decided_at", "refund_entry"])
    _audit(redemption, user, "redemption.reject", reason=reason, refund=redemption.refund_entry_id)
    _notify(
        redemption.member.user,
        _("Your redemption was rejected"),
        _("%(reward)s: %(reason)s. Your %(points)s points were refunded.")
        % {"reward": redemption.reward.name, "reason": reason, "points": redemption.points},
    )
    return redemption


@transaction.atomic
def redemption_fulfil(*, redemption: Redemption, user: Any) -> Redemption:
    """HR hands the reward over."""
    redemption = _lock(redemption)
    _hr(user, redemption)
    if redemption.status != RedemptionStatus.APPROVED:
        raise ValidationError(_("Only an approved redemption can be fulfilled."))
    redemption.status = RedemptionStatus.FULFILLED
    redemption.fulfilled_by = user
    redemption.fulfilled_at = timezone.now()
    redemption.save(update_fields=["status", "fulfilled_by", "fulfilled_at"])
    _audit(redemption, user, "redemption.fulfil")
    _notify(
        redemption.member.user,
        _("Your reward was handed over"),
        _("%(reward)s: fulfilled.") % {"reward": redemption.reward.name},
    )
    return redemption


# --- the member cancels ---------------------------------------------------------------------


@transaction.atomic
def redemption_cancel(*, redemption: Redemption, user: Any, reason: str = "") -> Redemption:
    """The member withdraws before fulfilment: refunded, and the process's open task is
    cancelled (so it leaves HR's queue). The open task's row is locked before the
    redemption's, the order every task action takes (``flows.tasklock``)."""
    locked = redemption
    redemption = tasks_then_record_lock(
        process_id=redemption.process_id, lock_record=lambda: _lock(locked)
    )
    member = member_for_user(user=user)
    if member is None or member.pk != redemption.member_id:
        raise PermissionDenied(_("Only the member who redeemed may cancel."))
    if redemption.status not in OPEN:
        raise ValidationError(_("Only a redemption that is not fulfilled can be cancelled."))
    reason = reason.strip() or _("Cancelled by the member.")
    _refund(redemption, user, reason)
    redemption.status = RedemptionStatus.CANCELLED
    redemption.reason = reason[:500]
    redemption.cancelled_at = timezone.now()
    redemption.save(update_fields=["status", "reason", "cancelled_at", "refund_entry"])
    if redemption.process_id is not None:
        from flows.flows import RedemptionFlow

        RedemptionFlow.instance.cancel_open(redemption.process)
    _audit(redemption, user, "redemption.cancel", reason=reason, refund=redemption.refund_entry_id)
    _notify(
        redemption.member.user,
        _("Your redemption was cancelled"),
        _("%(reward)s: your %(points)s points were refunded.")
        % {"reward": redemption.reward.name, "points": redemption.points},
    )
    return redemption


# --- who sees what --------------------------------------------------------------------------


def redemption_visible_to(*, user: Any) -> QuerySet[Redemption]:
    """A member sees their own redemptions; HR sees the organisation's."""
    member = member_for_user(user=user)
    if member is None:
        return Redemption.objects.none()
    redemptions = Redemption.objects.filter(organisation=member.organisation)
    if Role.HR in user_roles(user=user):
        return redemptions
    return redemptions.filter(member=member)


def redemptions_open_for_member(*, member: Member) -> QuerySet[Redemption]:
    """The member's redemptions not yet fulfilled, rejected or cancelled (for "my
    points")."""
    return (
        Redemption.objects.filter(member=member, status__in=OPEN)
        .select_related("reward")
        .order_by("-created_at", "-pk")
    )


def reward_for_request(*, user: Any, reward_id: Any) -> Reward | None:
    """The reward a member's request page is about, if it is of their organisation."""
    member = member_for_user(user=user)
    try:
        pk = int(reward_id)
    except (TypeError, ValueError):
        return None
    if member is None:
        return None
    return Reward.objects.filter(pk=pk, organisation_id=member.organisation_id).first()
