"""Base and fixed points, leaving, year-end resets and closing months: each posts through
``ledger_post_batch``, so running any of them twice posts once."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from points.models import (
    Account,
    Attendance,
    AuditEvent,
    EntryKind,
    FixedPointFactor,
    FixedPointRule,
    LedgerEntry,
    Member,
    MemberStatus,
    Organisation,
)
from points.periods import month_start, organisation_today, period_end
from points.services import ledger_io
from points.services.ledger import (
    LedgerError,
    PostingItem,
    PostingResult,
    ledger_post,
    ledger_post_batch,
)
from points.services.locks import periods_lock
from points.services.prizes import prizes_award_for_month_close


def base_points_grant(*, member: Member, actor: Any = None, today: date | None = None) -> Any:
    """Give the organisation's base points once (on joining)."""
    organisation = member.organisation
    points = organisation.policy.base_points
    existing = LedgerEntry.objects.filter(idempotency_key=f"base:{member.pk}").first()
    if existing is not None or not points:
        return existing  # given once, whatever the policy says later
    joined = today or organisation_today(organisation)
    return ledger_post(
        organisation=organisation,
        item=PostingItem(
            member_id=member.pk,
            idempotency_key=f"base:{member.pk}",
            effective_date=joined,
            amount=points,
            kind=EntryKind.BASE,
            note=_("Base points on joining"),
        ),
        actor=actor,
        today=today,
    )


def _years_of_service(hire_date: date | None, month: date) -> int:
    if hire_date is None:
        return 0
    end = period_end("month", month)
    years = end.year - hire_date.year - ((end.month, end.day) < (hire_date.month, hire_date.day))
    return max(years, 0)


def fixed_points_for_member(
    *,
    member: Member,
    month: date,
    table: dict[tuple[str, str], int],
    attendance: Attendance | None,
) -> int:
    """The member's fixed points for ``month``: the sum of their factors, pro-rated by the
    days present where attendance was imported."""
    values = {
        FixedPointFactor.EDUCATION: member.education,
        FixedPointFactor.TITLE: member.title,
        FixedPointFactor.POSITION: member.position,
        FixedPointFactor.SKILL: member.skill_level,
    }
    points = sum(table.get((factor, value), 0) for factor, value in values.items() if value)
    points += table.get((FixedPointFactor.SENIORITY, ""), 0) * _years_of_service(
        member.hire_date, month
    )
    if attendance is not None:
        ratio = Decimal(attendance.days_present) / Decimal(attendance.days_required)
        points = int((Decimal(points) * ratio).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return points


def fixed_points_post_month(
    *, organisation: Organisation, month: date, actor: Any = None, today: date | None = None
) -> PostingResult:
    """Post every active member's fixed points for ``month`` (idempotent per member and
    month)."""
    month = month_start(month)
    if period_end("month", month) >= (today or organisation_today(organisation)):
        raise LedgerError(_("Fixed points are posted after the month has ended."))
    table = {
        (rule.factor, rule.value): rule.points
        for rule in FixedPointRule.objects.filter(organisation=organisation)
    }
    attendance = {
        a.member_id: a
        for a in Attendance.objects.filter(member__organisation=organisation, month=month)
    }
    effective = period_end("month", month)
    # Posted once per member and month: a key already in the ledger is skipped (a later
    # change of attendance is a correction, not a second posting).
    posted = set(
        LedgerEntry.objects.filter(
            organisation=organisation, idempotency_key__startswith=f"fixed:{month:%Y-%m}:"
        ).values_list("idempotency_key", flat=True)
    )
    items = []
    for member in Member.objects.filter(
        organisation=organisation, status=MemberStatus.ACTIVE
    ).order_by("pk"):
        if member.hire_date and member.hire_date > period_end("month", month):
            continue
        points = fixed_points_for_member(
            member=member, month=month, table=table, attendance=attendance.get(member.pk)
        )
        key = f"fixed:{month:%Y-%m}:{member.pk}"
        if points and key not in posted:
            items.append(
                PostingItem(
                    member_id=member.pk,
                    idempotency_key=key,
                    effective_date=effective,
                    amount=points,
                    kind=EntryKind.FIXED,
                    note=_("Fixed points for %(month)s") % {"month": f"{month:%Y-%m}"},
                )
            )
    result = ledger_post_batch(organisation=organisation, items=items, actor=actor, today=today)
    result.already_posted = len(posted)
    return result


@transaction.atomic
def member_leave(
    *, member: Member, left_on: date, actor: Any = None, today: date | None = None
) -> None:
    """A member leaves: status and date set, account frozen, points cleared by a reset
    entry when the organisation's policy says so."""
    organisation = member.organisation
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.status == MemberStatus.LEFT:
        return
    if organisation.policy.clear_on_leave:
        # Booked today so that it clears everything the account holds, including points
        # booked after the leaving date for work done before it.
        ledger_post(
            organisation=organisation,
            item=PostingItem(
                member_id=member.pk,
                idempotency_key=f"reset:leave:{member.pk}",
                effective_date=today or organisation_today(organisation),
                amount=None,
                kind=EntryKind.RESET,
                note=_("Points cleared on leaving (%(day)s)") % {"day": left_on.isoformat()},
            ),
            actor=actor,
            today=today,
        )
    balance = ledger_io.lock_balances(organisation.pk, [member.pk])[member.pk]
    Account.objects.filter(pk=balance.id).update(frozen=True, updated_at=timezone.now())
    member.status = MemberStatus.LEFT
    member.left_on = left_on
    member.save(update_fields=["status", "left_on"])
    AuditEvent.objects.create(
        organisation=organisation,
        actor=actor if getattr(actor, "pk", None) else None,
        action="member.leave",
        member=member,
        object_repr=str(member),
        data={"left_on": left_on.isoformat()},
    )


def year_end_reset(
    *, organisation: Organisation, year: int, actor: Any = None, today: date | None = None
) -> PostingResult:
    """Clear every account at the end of ``year`` if the policy has year-end resets."""
    if not organisation.policy.year_end_reset:
        raise LedgerError(_("Year-end reset is switched off for this organisation."))
    items = [
        PostingItem(
            member_id=member_id,
            idempotency_key=f"reset:{year}:{member_id}",
            effective_date=date(year, 12, 31),
            amount=None,
            kind=EntryKind.RESET,
            note=_("Year-end reset %(year)s") % {"year": year},
        )
        for member_id in Member.objects.filter(
            organisation=organisation, status=MemberStatus.ACTIVE
        ).values_list("pk", flat=True)
    ]
    return ledger_post_batch(organisation=organisation, items=items, actor=actor, today=today)


@transaction.atomic
def period_close(*, organisation: Organisation, month: date, actor: Any = None) -> None:
    """Close a month that has ended: it accepts no entries afterwards, and the prize
    tables it completes are awarded (``points.services.prizes``)."""
    month = month_start(month)
    if period_end("month", month) >= organisation_today(organisation):
        raise LedgerError(_("Only a month that has ended can be closed."))
    period = periods_lock(organisation=organisation, months=[month], exclusive=True)[month]
    if period.is_closed:
        raise LedgerError(_("%(month)s is already closed.") % {"month": f"{month:%Y-%m}"})
    period.closed_at = timezone.now()
    period.closed_by = actor if getattr(actor, "pk", None) else None
    period.save(update_fields=["closed_at", "closed_by"])
    AuditEvent.objects.create(
        organisation=organisation,
        actor=period.closed_by,
        action="period.close",
        object_repr=f"{month:%Y-%m}",
    )
    # The month's ranking is now final: award the prize tables it completes.
    prizes_award_for_month_close(organisation=organisation, month=month, actor=period.closed_by)
