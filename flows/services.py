"""Writes of the declaration process. Views and flow nodes call these."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from flows.evidence import evidence_store
from flows.forms import DeclarationItemForm
from flows.models import DECLARATION_UNDECIDED, Declaration, DeclarationStatus
from points.models import AuditEvent, Member, MemberStatus
from points.periods import month_start, organisation_today
from points.roles import Role
from points.selectors.org import (
    leaders_above,
    member_for_user,
    member_reviewer_ids,
    member_superior,
    members_in_scope,
    members_without_superior,
    person_name,
    unit_ancestors,
    user_roles,
)


def declarable_scope(*, user: Any) -> QuerySet[Member]:
    """Whom the user may declare for, before the reviewer check: a recorder, the active
    members of their unit's subtree; anyone else, themselves; nobody who has left."""
    member = member_for_user(user=user)
    if member is None or member.status != MemberStatus.ACTIVE:
        return Member.objects.none()
    rows = Member.objects.select_related("unit", "organisation", "user").order_by("name", "pk")
    if Role.RECORDER in user_roles(user=user):
        return rows.filter(pk__in=members_in_scope(unit=member.unit).values("pk"))
    return rows.filter(pk=member.pk)


def nobody_could_review(*, user: Any, members: list[Member]) -> set[int]:
    """Of ``members``, those whose declaration nobody could review: a recorder is not
    offered them. The user themselves aside: their own declaration is refused with its
    reason when they submit it. Those the user would review themselves go to the next
    leader up who may (``_reviewer_above``), read once for all of them: two queries."""
    me = member_for_user(user=user)
    if me is None:
        return members_without_superior(members=members)
    reviewer_of = member_reviewer_ids(members=members)
    chain: list[Member] | None = None  # the leaders above me, read if needed

    def someone_above_me_for(member: Member) -> bool:
        nonlocal chain
        if chain is None:
            chain = leaders_above(member=me)
        return _next_reviewer(chain, member_id=member.pk, submitter_id=user.pk) is not None

    return {
        m.pk
        for m in members
        if m.pk != me.pk
        and (
            reviewer_of[m.pk] is None
            or (reviewer_of[m.pk] == me.pk and not someone_above_me_for(m))
        )
    }


def declaration_may_submit_for(*, user: Any, member: Member) -> bool:
    """A member declares for themselves; a recorder for active members of their unit's
    subtree, in their own organisation."""
    if member.status != MemberStatus.ACTIVE:
        return False
    if member.user_id == user.pk:
        return True
    recorder = member_for_user(user=user)
    return (
        recorder is not None
        and Role.RECORDER in user_roles(user=user)
        and recorder.organisation_id == member.organisation_id
        and members_in_scope(unit=recorder.unit).filter(pk=member.pk).exists()
    )


def _save_item(*, form: DeclarationItemForm, declaration: Declaration, user: Any) -> None:
    """Save an item form (a revised item awaits a fresh decision) with its checked evidence."""
    item = form.save(commit=False)
    item.declaration = declaration
    item.approved_points = None
    item.save()
    evidence_store(checked=form.checked_evidence, user=user, item=item)


def _hand_to_flow(process: Any, declaration: Declaration) -> None:
    """Give the flow the row just written, so its next nodes (the review's assignment, the
    route after a decision) need not read it again; see ``DeclarationFlow._declaration``."""
    if process is not None:
        process.fresh_declaration = declaration


def declaration_is_declarant(*, declaration: Declaration, user: Any) -> bool:
    """The user is the member the declaration is about, or whoever declared for them: they
    revise or withdraw it, and never review it."""
    return user.pk in (declaration.member.user_id, declaration.submitted_by_id)


@transaction.atomic
def declaration_submit(
    *, user: Any, member: Member, item_forms: Sequence[DeclarationItemForm], process: Any = None
) -> Declaration:
    """Create a declaration from valid item forms, with its checked evidence, in one
    transaction, linked to its flow's ``process`` when given (saved already). The caller
    has validated the forms (``is_valid()``)."""
    if not declaration_may_submit_for(user=user, member=member):
        raise PermissionDenied(_("You may not declare points for this member."))
    if not item_forms:
        raise ValueError("a declaration has at least one item")
    declaration = Declaration.objects.create(
        organisation=member.organisation,
        member=member,
        submitted_by=user,
        reviewer=_first_reviewer(member=member, submitter=user).user,
        process=process,
    )
    for form in item_forms:
        _save_item(form=form, declaration=declaration, user=user)
    _hand_to_flow(process, declaration)
    _notify(
        declaration.reviewer,
        _("A declaration is waiting for your review"),
        _("%(member)s declared points; it is in your inbox.") % {"member": member.name},
    )
    AuditEvent.objects.create(
        organisation=member.organisation,
        actor=user,
        action="declaration.submit",
        member=member,
        object_repr=str(declaration)[:200],
        data={"declaration": declaration.pk, "items": len(item_forms)},
    )
    return declaration


# --- review --------------------------------------------------------------------------------


class ReviewAction:
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"
    CHOICES = (APPROVE, REJECT, RETURN)


def declaration_amount(*, declaration: Declaration, items: Sequence[Any] | None = None) -> int:
    """The size of a declaration for authority tiers: the sum of its items' points (of
    ``items`` when the caller has read them)."""
    rows = declaration.items.select_related("rule_item") if items is None else items
    return sum(abs(item.signed_total) for item in rows)


def reviewer_tier_limit(*, reviewer: Member, declaration: Declaration) -> int | None:
    """Points the reviewer may approve alone on this declaration: the tier of the unit they
    lead above the member (None: no limit). The member's own unit is checked first; the
    ancestors are read only when the reviewer leads a unit further up."""
    unit = declaration.member.unit
    units = [unit] if unit.leader_id == reviewer.pk else unit_ancestors(unit=unit)
    for unit in units:
        if unit.leader_id == reviewer.pk:
            tier = unit.authority_tier
            return None if tier is None else tier.max_points
    return 0


def _next_reviewer(chain: list[Member], *, member_id: int, submitter_id: Any) -> Member | None:
    """Of ``chain`` (``leaders_above`` someone), the first who may review a declaration:
    neither the member it is about nor whoever entered it, who are passed over (nobody
    approves a declaration about themselves or one they entered; the level above them
    does). None when there is nobody, or the next one has no login (as
    ``declaration_first_reviewer``)."""
    for leader in chain:
        if leader.pk == member_id or leader.user_id == submitter_id:
            continue
        return leader if leader.user_id is not None else None
    return None


def _reviewer_above(*, reviewer: Member, member_id: int, submitter_id: Any) -> Member | None:
    """The next leader up from ``reviewer`` who may review the declaration."""
    chain = leaders_above(member=reviewer)
    return _next_reviewer(chain, member_id=member_id, submitter_id=submitter_id)


def _first_reviewer(*, member: Member, submitter: Any) -> Member:
    """The member's direct superior, or, when that is whoever entered the declaration, the
    next leader up who may review it."""
    reviewer = declaration_first_reviewer(member=member)
    if reviewer.user_id != submitter.pk:
        return reviewer
    above = _reviewer_above(reviewer=reviewer, member_id=member.pk, submitter_id=submitter.pk)
    if above is None:
        raise ValidationError(
            _("Nobody above you can review a declaration you entered for %(member)s; ask HR.")
            % {"member": member.name}
        )
    return above


def declaration_first_reviewer(*, member: Member) -> Member:
    superior = member_superior(member=member)
    if superior is None or superior.user_id is None:
        raise ValidationError(
            _("Nobody above %(member)s can review this declaration; ask HR.")
            % {"member": member.name}
        )
    return superior


@transaction.atomic
def declaration_review(
    *,
    declaration: Declaration,
    user: Any,
    action: str,
    reason: str = "",
    adjusted: dict[int, int] | None = None,
    process: Any = None,
) -> Declaration:
    """The current reviewer decides. Approving within the reviewer's tier puts the items in
    the open month's pending pool; above it, the declaration escalates to the next leader
    up. Rejecting or returning needs a reason; so does any adjustment, which must stay
    inside the rule's range. ``process``: the flow's, which routes on the outcome next."""
    declaration = (
        Declaration.objects.select_for_update(of=("self",))
        .select_related("member__unit__authority_tier", "organisation", "submitted_by", "reviewer")
        .get(pk=declaration.pk)
    )
    if user.pk != declaration.reviewer_id or declaration_is_declarant(
        declaration=declaration, user=user
    ):
        raise PermissionDenied(_("You may not review this declaration."))
    if declaration.status not in (DeclarationStatus.SUBMITTED, DeclarationStatus.ESCALATED):
        raise ValidationError(_("This declaration is not waiting for review."))
    if action not in ReviewAction.CHOICES:
        raise ValidationError(_("Choose approve, reject or return."))
    reason = reason.strip()
    items = list(declaration.items.select_related("rule_item"))
    if action in (ReviewAction.REJECT, ReviewAction.RETURN) and not reason:
        raise ValidationError(_("Give a reason for rejecting or returning."))
    changed = {
        pk: points
        for pk, points in (adjusted or {}).items()
        if any(i.pk == pk and (i.approved_points or i.points) != points for i in items)
    }
    if changed and not reason:
        raise ValidationError(_("Give a reason for adjusting the points."))
    for item in items:
        if item.pk in changed:
            rule = item.rule_item
            if not rule.points_min <= changed[item.pk] <= rule.points_max:
                raise ValidationError(
                    _("“%(rule)s” allows %(min)s to %(max)s points.")
                    % {"rule": rule.name, "min": rule.points_min, "max": rule.points_max}
                )
            item.approved_points = changed[item.pk]
            item.adjustment_reason = reason
            item.save(update_fields=["approved_points", "adjustment_reason"])

    reviewer = member_for_user(user=user)
    decision = action
    if action == ReviewAction.REJECT:
        declaration.status = DeclarationStatus.REJECTED
    elif action == ReviewAction.RETURN:
        declaration.status = DeclarationStatus.RETURNED
    else:
        assert reviewer is not None
        limit = reviewer_tier_limit(reviewer=reviewer, declaration=declaration)
        if limit is not None and declaration_amount(declaration=declaration, items=items) > limit:
            chain = leaders_above(member=reviewer)
            above = _next_reviewer(
                chain, member_id=declaration.member_id, submitter_id=declaration.submitted_by_id
            )
            if above is not None:
                declaration.status = DeclarationStatus.ESCALATED
                declaration.reviewer = above.user
                decision = "escalate"
            elif chain:
                # there is a level above, but it may not approve this one (it entered it,
                # or it is about them): above this reviewer's authority, nobody may
                raise ValidationError(
                    _(
                        "This declaration is above your authority, and nobody above you "
                        "may approve it; ask HR."
                    )
                )
        if decision == ReviewAction.APPROVE:
            declaration.status = DeclarationStatus.APPROVED
            month = month_start(organisation_today(declaration.organisation))
            for item in items:
                if item.approved_points is None:
                    item.approved_points = item.points
                item.pool_month = month
                item.save(update_fields=["approved_points", "pool_month"])
    declaration.decision_reason = reason
    declaration.save(update_fields=["status", "reviewer", "decision_reason", "updated_at"])
    outcome = {
        "approve": _("approved"),
        "reject": _("rejected"),
        "return": _("returned for revision"),
        "escalate": _("escalated"),
    }[decision]
    _notify(
        declaration.submitted_by,
        _("Your declaration was %(outcome)s") % {"outcome": outcome},
        reason or _("No reason was given."),
    )
    if declaration.member.user_id not in (None, declaration.submitted_by_id):
        _notify(  # entered for them (a recorder's): the member hears of it too
            declaration.member.user,
            _("The declaration %(submitter)s entered for you was %(outcome)s")
            % {"submitter": person_name(user=declaration.submitted_by), "outcome": outcome},
            reason or _("No reason was given."),
        )
    if decision == "escalate":
        _notify(
            declaration.reviewer,
            _("A declaration is waiting for your review"),
            _("%(member)s's declaration is above the previous reviewer's authority.")
            % {"member": declaration.member.name},
        )
    AuditEvent.objects.create(
        organisation=declaration.organisation,
        actor=user,
        action=f"declaration.{decision}",
        member=declaration.member,
        object_repr=str(declaration)[:200],
        data={
            "declaration": declaration.pk,
            "reason": reason,
            "adjusted": {str(k): v for k, v in changed.items()},
        },
    )
    _hand_to_flow(process, declaration)
    return declaration


@transaction.atomic
def declaration_resubmit(
    *, declaration: Declaration, user: Any, item_forms: Sequence[DeclarationItemForm]
) -> Declaration:
    """The member (or the recorder who declared) edits a returned declaration and sends it
    back to the same reviewer."""
    declaration = Declaration.objects.select_for_update().get(pk=declaration.pk)
    if not declaration_is_declarant(declaration=declaration, user=user):
        raise PermissionDenied(_("You may not revise this declaration."))
    if declaration.status != DeclarationStatus.RETURNED:
        raise ValidationError(_("Only a returned declaration can be revised."))
    for form in item_forms:
        _save_item(form=form, declaration=declaration, user=user)
    declaration.status = DeclarationStatus.SUBMITTED
    declaration.save(update_fields=["status", "updated_at"])
    _notify(
        declaration.reviewer,
        _("A declaration is waiting for your review"),
        _("%(member)s revised a returned declaration.") % {"member": declaration.member.name},
    )
    AuditEvent.objects.create(
        organisation=declaration.organisation,
        actor=user,
        action="declaration.resubmit",
        member=declaration.member,
        object_repr=str(declaration)[:200],
        data={"declaration": declaration.pk},
    )
    return declaration


def declaration_may_withdraw(*, declaration: Declaration, user: Any) -> bool:
    """The member it is about, or whoever declared for them, while it is not decided."""
    return declaration.status in DECLARATION_UNDECIDED and declaration_is_declarant(
        declaration=declaration, user=user
    )


@transaction.atomic
def declaration_withdraw(*, declaration: Declaration, user: Any, reason: str = "") -> Declaration:
    """The member (or whoever declared for them) takes back a declaration not decided yet:
    waiting for review, escalated, or returned to them. Its open task and process are
    cancelled, so it leaves the reviewer's inbox; nothing of it reaches the pending pool.
    The open task's row is locked before the declaration's, the order every task action
    takes (``flows.tasklock``): a reviewer deciding at the same moment either decides
    first (and this is refused) or finds the task cancelled."""
    from flows.flows import DeclarationFlow
    from flows.tasklock import tasks_then_record_lock

    pk = declaration.pk
    declaration = tasks_then_record_lock(
        process_id=declaration.process_id,
        lock_record=lambda: (
            Declaration.objects.select_for_update(of=("self",))
            .select_related("member__user", "organisation", "reviewer", "submitted_by", "process")
            .get(pk=pk)
        ),
    )
    if not declaration_is_declarant(declaration=declaration, user=user):
        raise PermissionDenied(
            _("Only the member or whoever declared for them may withdraw this declaration.")
        )
    if declaration.status == DeclarationStatus.WITHDRAWN:
        return declaration  # withdrawn already (a double tap, a retried call): done
    if declaration.status not in DECLARATION_UNDECIDED:
        raise ValidationError(
            _("This declaration was %(outcome)s already: it can no longer be withdrawn.")
            % {"outcome": declaration.get_status_display()}
        )
    waiting_for_review = declaration.status != DeclarationStatus.RETURNED
    reason = reason.strip()[:500]
    declaration.status = DeclarationStatus.WITHDRAWN
    declaration.decision_reason = reason
    declaration.save(update_fields=["status", "decision_reason", "updated_at"])
    if declaration.process is not None:
        DeclarationFlow.instance.cancel_open(declaration.process)
    said = {
        "member": declaration.member.name,
        "number": declaration.pk,
        "by": person_name(user=user),
        "reason": reason or _("No reason was given."),
    }
    if waiting_for_review and declaration.reviewer is not None:
        _notify(
            declaration.reviewer,
            _("A declaration was withdrawn"),
            _(
                "%(by)s withdrew %(member)s's declaration #%(number)s; it left your inbox. "
                "Reason: %(reason)s"
            )
            % said,
        )
    # the member and whoever declared for them: the one who did not withdraw it is told
    for other in {declaration.member.user, declaration.submitted_by} - {user, None}:
        _notify(
            other,
            _("A declaration was withdrawn"),
            _("%(by)s withdrew %(member)s's declaration #%(number)s. Reason: %(reason)s") % said,
        )
    AuditEvent.objects.create(
        organisation=declaration.organisation,
        actor=user,
        action="declaration.withdraw",
        member=declaration.member,
        object_repr=str(declaration)[:200],
        data={"declaration": declaration.pk, "reason": reason},
    )
    return declaration


def _led_units(*, member: Member, prefix: str) -> Any:
    """Rows whose member (reached by ``prefix``) is in a unit subtree ``member`` leads."""
    from django.db.models import Q

    scope = Q(pk__in=[])
    for unit in member.led_units.all():
        scope |= Q(**{f"{prefix}unit__path__startswith": unit.path})
    return scope


def _oversight(*, user: Any, member: Member, prefix: str) -> Any:
    """What a user oversees beyond their own rows: the whole organisation for HR and the
    committee, else the subtrees of the units they lead."""
    from django.db.models import Q

    if {Role.HR, Role.COMMITTEE} & user_roles(user=user):
        return Q(organisation=member.organisation)
    return _led_units(member=member, prefix=prefix)


def declaration_visible_to(*, user: Any) -> Any:
    """Declarations a user may see: their own, those they submitted or review(ed), those of
    members in the units they lead, and, for HR and the committee, their organisation's."""
    from django.db.models import Q

    member = member_for_user(user=user)
    if member is None:
        return Declaration.objects.none()
    visible = Q(member__user=user) | Q(submitted_by=user) | Q(reviewer=user)
    visible |= _oversight(user=user, member=member, prefix="member__")
    return Declaration.objects.filter(organisation=member.organisation).filter(visible)


# --- deadlines -----------------------------------------------------------------------------


def _notify(user: Any, subject: str, body: str) -> None:
    """Record the event; it is mailed after commit or in the user's daily digest."""
    from flows.notifications import notify

    notify(user=user, subject=subject, body=body)


@transaction.atomic
def declaration_deadlines_run(*, now: Any = None) -> dict[str, int]:
    """Remind a reviewer once after the policy's reminder days; after its escalation days,
    pass the review to the next leader up (the task is reassigned). Safe to run again."""
    from datetime import timedelta

    from django.utils import timezone
    from viewflow.workflow.status import STATUS

    from flows.flows import DeclarationFlow

    now = now or timezone.now()
    counts = {"reminded": 0, "escalated": 0}
    tasks = (
        DeclarationFlow.task_class.objects.select_for_update(of=("self",))
        .filter(flow_task=DeclarationFlow.review, status=STATUS.ASSIGNED)
        .select_related("process", "owner")
        .order_by("pk")
    )
    for task in tasks:
        declaration = Declaration.objects.select_related("organisation__policy", "member").get(
            process_id=task.process_id
        )
        policy = declaration.organisation.policy
        age = now - task.created
        if age >= timedelta(days=policy.review_escalation_days):
            reviewer = member_for_user(user=task.owner)
            above = (
                _reviewer_above(
                    reviewer=reviewer,
                    member_id=declaration.member_id,
                    submitter_id=declaration.submitted_by_id,
                )
                if reviewer
                else None
            )
            if above is None:
                continue
            declaration.reviewer = above.user
            declaration.status = DeclarationStatus.ESCALATED
            declaration.save(update_fields=["reviewer", "status", "updated_at"])
            task.owner = above.user
            task.created = now  # the new reviewer's clock starts now
            # the new reviewer's clock: reminded in their turn as the first one was
            kept = {k: v for k, v in (task.data or {}).items() if k != "reminded"}
            task.data = {**kept, "escalated_from": reviewer.pk if reviewer else None}
            task.save(update_fields=["owner", "created", "data"])
            AuditEvent.objects.create(
                organisation=declaration.organisation,
                action="declaration.escalate_overdue",
                member=declaration.member,
                object_repr=str(declaration)[:200],
                data={"declaration": declaration.pk, "to": above.pk},
            )
            _notify(
                above.user,
                _("A declaration was escalated to you"),
                _("%(member)s's declaration waited too long and is now yours to review.")
                % {"member": declaration.member.name},
            )
            counts["escalated"] += 1
        elif age >= timedelta(days=policy.review_reminder_days) and not (task.data or {}).get(
            "reminded"
        ):
            task.data = {**(task.data or {}), "reminded": now.isoformat()}
            task.save(update_fields=["data"])
            _notify(
                task.owner,
                _("A declaration is waiting for your review"),
                _("%(member)s's declaration has waited %(days)s days.")
                % {"member": declaration.member.name, "days": age.days},
            )
            counts["reminded"] += 1
    return counts


# --- award notices -------------------------------------------------------------------------


def notice_scope(*, user: Any) -> Any:
    """Active members of the units the user leads (empty for someone who leads none, or
    who has left: a unit may still name them as its leader)."""

    member = member_for_user(user=user)
    if member is None or member.status != MemberStatus.ACTIVE:
        return Member.objects.none()
    return Member.objects.filter(
        organisation=member.organisation, status=MemberStatus.ACTIVE
    ).filter(_led_units(member=member, prefix=""))


def _issuer_limit(issuer: Member) -> int | None:
    """The largest authority tier of the units the issuer leads (None: no limit)."""
    limits = [
        u.authority_tier.max_points if u.authority_tier else None
        for u in issuer.led_units.select_related("authority_tier")
    ]
    if not limits or None in limits:
        return None
    return max(limit for limit in limits if limit is not None)


def _notice_signer_above(
    member: Member, *, notice: Any, items: list[Any], signed: Iterable[int] = ()
) -> Member | None:
    """Who signs the notice next when its ``items`` are above ``member``'s tier (the
    issuer's, or a signer's): the next leader up who may sign it, not one it names, its
    issuer, nor one who has signed it already (``signed``, logins: a leader may sit in a
    unit led by the one who passed it to them, who would be "above" them again), who are
    passed over. None within the tier, or at the top of the organisation (nobody is above
    it); refused when there is a level above but nobody there may sign (the next one has no
    login), as for a declaration."""
    limit = _issuer_limit(member)
    if limit is None or sum(abs(item.signed_total) for item in items) <= limit:
        return None
    names, passed = {item.member_id for item in items}, set(signed)
    chain = leaders_above(member=member)
    for leader in chain:
        if leader.pk in names or leader.pk == notice.issuer_id or leader.user_id in passed:
            continue
        if leader.user_id is not None:
            return leader
        break
    if chain:
        raise ValidationError(
            _("This notice is above your authority, and nobody above you may sign it; ask HR.")
        )
    return None


def _pool(items: Any, organisation: Any) -> None:
    month = month_start(organisation_today(organisation))
    for item in items:
        item.pool_month = month
        item.save(update_fields=["pool_month"])


@transaction.atomic
def notice_issue(*, user: Any, form: Any) -> Any:
    """Issue a notice from a valid ``AwardNoticeForm``: within the issuer's tier its items
    go straight to the pending pool; above it, the next leader up must sign."""
    from flows.models import AwardNotice, NoticeItem, NoticeStatus

    issuer = member_for_user(user=user)
    if issuer is None or not notice_scope(user=user).exists():
        raise PermissionDenied(_("Only a leader issues award and deduction notices."))
    data = form.cleaned_data
    members = list(data["members"])
    scope_ids = set(notice_scope(user=user).values_list("pk", flat=True))
    if any(m.pk not in scope_ids or m.pk == issuer.pk for m in members):
        raise PermissionDenied(_("A notice can only name members of the units you lead."))
    notice = AwardNotice.objects.create(
        organisation=issuer.organisation,
        issuer=issuer,
        status=NoticeStatus.AWAITING_SIGNATURE,
    )
    items = [
        NoticeItem.objects.create(
            notice=notice,
            member=member,
            rule_item=data["rule_item"],
            quantity=data["quantity"],
            points=data["points"],
            event_date=data["event_date"],
            description=data["description"],
        )
        for member in members
    ]
    amount = sum(abs(item.signed_total) for item in items)
    above = _notice_signer_above(issuer, notice=notice, items=items)
    if above is not None:
        notice.signer = above.user
        notice.save(update_fields=["signer"])
        _notify(
            above.user,
            _("An award notice waits for your signature"),
            _("%(issuer)s issued a notice above their authority.") % {"issuer": issuer.name},
        )
    else:
        notice.status = NoticeStatus.APPROVED
        notice.save(update_fields=["status"])
        _pool(items, issuer.organisation)
        for item in items:
            _notify(
                item.member.user,
                _("Points notice"),
                _("%(rule)s: %(points)s points.")
                % {"rule": item.rule_item.name, "points": item.signed_total},
            )
    AuditEvent.objects.create(
        organisation=issuer.organisation,
        actor=user,
        action="notice.issue",
        member=issuer,
        object_repr=str(notice)[:200],
        data={"notice": notice.pk, "members": [m.pk for m in members], "amount": amount},
    )
    return notice


@transaction.atomic
def notice_sign(*, notice: Any, user: Any, approve: bool, reason: str = "") -> Any:
    from flows.models import AwardNotice, NoticeStatus

    notice = (
        AwardNotice.objects.select_for_update(of=("self",))
        .select_related("issuer__user")
        .get(pk=notice.pk)
    )
    if notice.signer_id != user.pk or notice.status != NoticeStatus.AWAITING_SIGNATURE:
        raise PermissionDenied(_("You may not sign this notice."))
    if not approve and not reason.strip():
        raise ValidationError(_("Give a reason for rejecting or returning."))
    items = list(notice.items.select_related("member__user", "rule_item"))
    reason = reason.strip()
    above = None
    if approve:
        signer = member_for_user(user=user)
        assert signer is not None  # (the signer is a leader: ``notice_issue`` chose them)
        passed = AuditEvent.objects.filter(action="notice.escalate", data__notice=notice.pk)
        signed = passed.values_list("actor_id", flat=True)  # (read only above the tier)
        above = _notice_signer_above(signer, notice=notice, items=items, signed=signed)
    if above is not None:  # above this signer's authority too: the next level signs
        notice.signer = above.user
        action = "notice.escalate"
    else:
        notice.status = NoticeStatus.APPROVED if approve else NoticeStatus.REJECTED
        action = "notice.sign" if approve else "notice.reject"
    notice.decision_reason = reason
    notice.save(update_fields=["status", "signer", "decision_reason"])
    issuer = notice.issuer.user
    if above is not None:
        _notify(
            above.user,
            _("An award notice waits for your signature"),
            _("%(issuer)s's notice is above the previous signer's authority.")
            % {"issuer": notice.issuer.name},
        )
    elif approve:
        _pool(items, notice.organisation)
        for item in items:
            _notify(
                item.member.user,
                _("Points notice"),
                _("%(rule)s: %(points)s points.")
                % {"rule": item.rule_item.name, "points": item.signed_total},
            )
    if issuer is not None:  # the issuer hears what became of it
        outcome = {
            "notice.escalate": _("passed to %(signer)s to sign")
            % {"signer": above.name if above else ""},
            "notice.sign": _("signed: it took effect"),
            "notice.reject": _("rejected"),
        }[action]
        _notify(
            issuer,
            _("Your award notice was %(outcome)s") % {"outcome": outcome},
            reason or _("No reason was given."),
        )
    AuditEvent.objects.create(
        organisation=notice.organisation,
        actor=user,
        action=action,
        object_repr=str(notice)[:200],
        data={"notice": notice.pk, "reason": reason, **({"to": above.pk} if above else {})},
    )
    return notice


def notice_visible_to(*, user: Any) -> Any:
    """Notices a user may see: issued or to be signed by them, naming them, in the units
    they lead, and for HR and the committee their organisation's."""
    from django.db.models import Q

    from flows.models import AwardNotice

    member = member_for_user(user=user)
    if member is None:
        return AwardNotice.objects.none()
    visible = Q(issuer=member) | Q(signer=user) | Q(items__member=member)
    visible |= _oversight(user=user, member=member, prefix="items__member__")
    return AwardNotice.objects.filter(organisation=member.organisation).filter(visible).distinct()
