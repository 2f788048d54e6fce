"""The summary → sign-off → publicity → appeal → posting cycle: writes and reads.

HR gathers the approved items of a period and scope from the pending pool into a summary
and flags anomalies; the committee signs it off; it is published for the policy's window;
anyone in scope may appeal an item during the window (the item is held); HR re-examines
and the committee rules; when the window closes every unchallenged item is posted through
the ledger's posting service, ruled items as ruled. Views, flow nodes, Celery tasks and
commands call these functions and nothing else.
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.models import (
    Appeal,
    AppealStatus,
    AwardNotice,
    DeclarationItem,
    DeclarationStatus,
    ItemStatus,
    NoticeItem,
    NoticeStatus,
    Ruling,
    SignOff,
    Summary,
    SummaryItem,
    SummaryStatus,
)
from points.models import (
    AuditEvent,
    CommitteeQuorum,
    EntryKind,
    LedgerEntry,
    Member,
    MemberStatus,
    Organisation,
    OrgUnit,
    Period,
)
from points.periods import month_start, organisation_today, period_end, period_start
from points.roles import Role
from points.selectors.ledger import RankGroup, vetoed_member_ids
from points.selectors.org import member_for_user, user_roles
from points.services.ledger import (
    LedgerError,
    PostingItem,
    ledger_post_batch,
    ledger_reverse,
)

logger = logging.getLogger(__name__)

#: Anomaly flags HR sees on a summary item, with what they mean.
FLAG_LABELS = {
    "cap": gettext_lazy("over the rule's cap"),
    "duplicate": gettext_lazy("same member, rule and day claimed twice"),
    "veto": gettext_lazy("member under a one-vote veto"),
    "reviewer_volume": gettext_lazy("unusual volume from one reviewer"),
}

#: A reviewer is flagged when they approved more than this many items in a summary and more
#: than ``REVIEWER_VOLUME_FACTOR`` times the median reviewer.
REVIEWER_VOLUME_MIN = 10
REVIEWER_VOLUME_FACTOR = 3

#: Published rankings: the top N of each group (leaders, members) for the period.
PUBLISHED_TOP = 3


def _notify(user: Any, subject: str, body: str) -> None:
    from flows.notifications import notify

    notify(user=user, subject=subject, body=body)


def _audit(organisation: Organisation, user: Any, action: str, obj: Any, **data: Any) -> None:
    AuditEvent.objects.create(
        organisation=organisation,
        actor=user if getattr(user, "pk", None) else None,
        action=action,
        object_repr=str(obj)[:200],
        data=data,
    )


def _is(user: Any, role: str, organisation: Organisation) -> Member | None:
    """The user's member when they hold ``role`` in ``organisation``, else None."""
    member = member_for_user(user=user)
    if member is None or member.organisation_id != organisation.pk:
        return None
    return member if role in user_roles(user=user) else None


def _members_in_role(organisation: Organisation, role: str) -> QuerySet[Member]:
    """Active members of the organisation whose active login holds ``role``."""
    return Member.objects.filter(
        organisation=organisation,
        status=MemberStatus.ACTIVE,
        user__groups__name=role,
        user__is_active=True,
    ).select_related("user")


def committee_members(*, organisation: Organisation) -> QuerySet[Member]:
    return _members_in_role(organisation, Role.COMMITTEE)


def hr_members(*, organisation: Organisation) -> QuerySet[Member]:
    """Active HR officers of the organisation."""
    return _members_in_role(organisation, Role.HR)


def _administrators(organisation: Organisation) -> list[Any]:
    """The logins of the organisation's active administrators (they grant roles)."""
    return _distinct_users(_members_in_role(organisation, Role.ADMIN))


def _distinct_users(members: Iterable[Member]) -> list[Any]:
    """Each member's login once, in the members' order (a login may answer for several)."""
    users: dict[int, Any] = {}
    for member in members:
        if member.user_id is not None:
            users.setdefault(member.user_id, member.user)
    return list(users.values())


def may_run_summary(user: Any) -> bool:
    member = member_for_user(user=user)
    return member is not None and Role.HR in user_roles(user=user)


# --- gathering ----------------------------------------------------------------------------


def _in_scope(scope: OrgUnit, prefix: str) -> Q:
    return Q(**{f"{prefix}unit__path__startswith": scope.path})


def _gathered(field: str) -> QuerySet[SummaryItem]:
    return SummaryItem.objects.exclude(status=ItemStatus.EXCLUDED).filter(
        **{f"{field}__isnull": False}
    )


def pending_pool(
    *, organisation: Organisation, scope: OrgUnit, until: date
) -> tuple[QuerySet[DeclarationItem], QuerySet[NoticeItem]]:
    """Approved declaration and notice items of members in ``scope`` whose event is on or
    before ``until`` and which no live summary has gathered."""
    declarations = (
        DeclarationItem.objects.filter(
            declaration__organisation=organisation,
            declaration__status=DeclarationStatus.APPROVED,
            pool_month__isnull=False,
            event_date__lte=until,
        )
        .filter(_in_scope(scope, "declaration__member__"))
        .exclude(pk__in=_gathered("declaration_item").values("declaration_item_id"))
    )
    notices = (
        NoticeItem.objects.filter(
            notice__organisation=organisation,
            notice__status=NoticeStatus.APPROVED,
            pool_month__isnull=False,
            event_date__lte=until,
        )
        .filter(_in_scope(scope, "member__"))
        .exclude(pk__in=_gathered("notice_item").values("notice_item_id"))
    )
    return declarations, notices


def _flag(rows: Sequence[SummaryItem], organisation: Organisation, summary: Summary) -> None:
    """Mark caps exceeded, duplicates, vetoed members and unusual reviewer volume."""
    flags: dict[int, set[str]] = defaultdict(set)
    # Caps: this batch plus what the ledger already holds, per day and per month.
    capped = [r for r in rows if r.rule_item.cap_per_day or r.rule_item.cap_per_month]
    if capped:
        months = {month_start(r.event_date) for r in capped}
        held: dict[tuple[int, int, date], int] = defaultdict(int)
        for member_id, rule_id, day, total in (
            LedgerEntry.objects.filter(
                member_id__in={r.member_id for r in capped},
                rule_item_id__in={r.rule_item_id for r in capped},
                effective_date__gte=min(months),
                effective_date__lte=period_end("month", max(months)),
                kind__in=[EntryKind.DAILY, EntryKind.CORRECTION, EntryKind.REVERSAL],
            )
            .values_list("member_id", "rule_item_id", "effective_date")
            .annotate(total=Sum("amount"))
        ):
            held[(member_id, rule_id, day)] += total
        day_use: dict[tuple[int, int, date], int] = defaultdict(int)
        month_use: dict[tuple[int, int, date], int] = defaultdict(int)
        for (member_id, rule_id, day), total in held.items():
            day_use[(member_id, rule_id, day)] += abs(total)
            month_use[(member_id, rule_id, month_start(day))] += abs(total)
        for r in capped:
            day_use[(r.member_id, r.rule_item_id, r.event_date)] += abs(r.amount)
            month_use[(r.member_id, r.rule_item_id, month_start(r.event_date))] += abs(r.amount)
        for r in capped:
            rule = r.rule_item
            over_day = rule.cap_per_day and (
                day_use[(r.member_id, r.rule_item_id, r.event_date)] > rule.cap_per_day
            )
            over_month = rule.cap_per_month and (
                month_use[(r.member_id, r.rule_item_id, month_start(r.event_date))]
                > rule.cap_per_month
            )
            if over_day or over_month:
                flags[id(r)].add("cap")
    # Duplicates: the same member, rule and day twice in the batch or already in the ledger.
    seen = Counter((r.member_id, r.rule_item_id, r.event_date) for r in rows)
    in_ledger = set(
        LedgerEntry.objects.filter(
            member_id__in={r.member_id for r in rows},
            rule_item_id__in={r.rule_item_id for r in rows},
            effective_date__in={r.event_date for r in rows},
            kind=EntryKind.DAILY,
            reversals__isnull=True,
        ).values_list("member_id", "rule_item_id", "effective_date")
    )
    for r in rows:
        key = (r.member_id, r.rule_item_id, r.event_date)
        if seen[key] > 1 or key in in_ledger:
            flags[id(r)].add("duplicate")
    # Vetoed members, for the summary's period.
    vetoed = vetoed_member_ids(
        organisation=organisation, kind=summary.period_kind, start=summary.period_start
    )
    for r in rows:
        if r.member_id in vetoed:
            flags[id(r)].add("veto")
    # Reviewer volume: far above the median reviewer of the batch.
    per_reviewer = Counter(r.approved_by_id for r in rows if r.approved_by_id)
    if per_reviewer:
        median = statistics.median(per_reviewer.values())
        for r in rows:
            count = per_reviewer.get(r.approved_by_id, 0) if r.approved_by_id else 0
            if count > REVIEWER_VOLUME_MIN and count > REVIEWER_VOLUME_FACTOR * median:
                flags[id(r)].add("reviewer_volume")
    for r in rows:
        r.flags = sorted(flags[id(r)])


@transaction.atomic
def summary_open(*, user: Any, scope: OrgUnit, on: date) -> Summary:
    """HR opens the summary of the period (the policy's kind) that contains ``on`` for an
    org subtree, gathering every approved pending item in scope and flagging anomalies."""
    organisation = scope.organisation
    if _is(user, Role.HR, organisation) is None:
        raise PermissionDenied(_("Only HR of the organisation runs summaries."))
    kind = organisation.policy.summary_period
    start = period_start(kind, on)
    end = period_end(kind, start)
    summary = Summary.objects.create(
        organisation=organisation,
        scope=scope,
        period_kind=kind,
        period_start=start,
        period_end=end,
        created_by=user,
    )
    declarations, notices = pending_pool(organisation=organisation, scope=scope, until=end)
    rows: list[SummaryItem] = []
    for item in declarations.select_related("rule_item", "declaration"):
        per_unit = item.approved_points if item.approved_points is not None else item.points
        rows.append(
            SummaryItem(
                summary=summary,
                declaration_item=item,
                member_id=item.declaration.member_id,
                rule_item=item.rule_item,
                quantity=item.quantity,
                points=per_unit,
                amount=item.signed_total,
                event_date=item.event_date,
                description=item.description,
                approved_by_id=item.declaration.reviewer_id,
            )
        )
    for notice_item in notices.select_related("rule_item", "notice__issuer", "notice__signer"):
        notice = notice_item.notice
        rows.append(
            SummaryItem(
                summary=summary,
                notice_item=notice_item,
                member_id=notice_item.member_id,
                rule_item=notice_item.rule_item,
                quantity=notice_item.quantity,
                points=notice_item.points,
                amount=notice_item.signed_total,
                event_date=notice_item.event_date,
                description=notice_item.description,
                approved_by_id=notice.signer_id or notice.issuer.user_id,
            )
        )
    if not rows:
        raise ValidationError(
            _("Nothing approved is waiting in the pending pool for %(scope)s up to %(end)s.")
            % {"scope": scope.name, "end": end.isoformat()}
        )
    _flag(rows, organisation, summary)
    try:
        with transaction.atomic():
            SummaryItem.objects.bulk_create(rows)
    except IntegrityError as error:
        raise ValidationError(
            _("Another summary gathered some of these items at the same moment; try again.")
        ) from error
    _audit(organisation, user, "summary.open", summary, summary=summary.pk, items=len(rows))
    return summary


@transaction.atomic
def summary_exclude(*, summary: Summary, item_id: int, user: Any, reason: str) -> SummaryItem:
    """HR leaves an item out with a reason: it leaves the pending pool and goes back to its
    reviewer (or issuer), and the member is told."""
    summary = Summary.objects.select_for_update().get(pk=summary.pk)
    if summary.created_by_id != user.pk:
        raise PermissionDenied(_("Only the HR officer who opened this summary changes it."))
    if summary.status != SummaryStatus.DRAFT:
        raise ValidationError(_("Only a summary being prepared can be changed."))
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Give a reason for excluding the item."))
    item = (
        summary.items.select_related(
            "member__user", "rule_item", "declaration_item__declaration", "notice_item__notice"
        )
        .filter(pk=item_id, status=ItemStatus.INCLUDED)
        .first()
    )
    if item is None:
        raise ValidationError(_("That item is not in this summary."))
    item.status = ItemStatus.EXCLUDED
    item.excluded_reason = reason[:500]
    item.save(update_fields=["status", "excluded_reason"])
    source = item.source
    source.pool_month = None
    source.save(update_fields=["pool_month"])
    if item.declaration_item is not None:
        back_to = item.declaration_item.declaration.reviewer
    else:
        assert item.notice_item is not None
        notice = AwardNotice.objects.select_related("issuer__user").get(
            pk=item.notice_item.notice_id
        )
        back_to = notice.issuer.user
    body = _("%(member)s: %(rule)s (%(points)s). Reason: %(reason)s") % {
        "member": item.member.name,
        "rule": item.rule_item.name,
        "points": item.amount,
        "reason": reason,
    }
    _notify(back_to, _("HR excluded an item you approved from the summary"), body)
    _notify(item.member.user, _("HR excluded one of your items from the summary"), body)
    _audit(
        summary.organisation,
        user,
        "summary.exclude",
        item,
        summary=summary.pk,
        item=item.pk,
        reason=reason,
    )
    return item


@transaction.atomic
def summary_submit(*, summary: Summary, user: Any) -> Summary:
    """HR sends the summary to the committee for sign-off (a new round)."""
    summary = Summary.objects.select_for_update().get(pk=summary.pk)
    if summary.created_by_id != user.pk:
        raise PermissionDenied(_("Only the HR officer who opened this summary submits it."))
    if summary.status != SummaryStatus.DRAFT:
        raise ValidationError(_("Only a summary being prepared can be submitted."))
    if not summary.items.exclude(status=ItemStatus.EXCLUDED).exists():
        raise ValidationError(_("Every item was excluded; there is nothing to sign off."))
    if not committee_members(organisation=summary.organisation).exists():
        raise ValidationError(_("The organisation has no committee members to sign off."))
    summary.status = SummaryStatus.SIGNOFF
    summary.round += 1
    summary.submitted_at = timezone.now()
    summary.save(update_fields=["status", "round", "submitted_at"])
    for member in committee_members(organisation=summary.organisation):
        _notify(
            member.user,
            _("A summary waits for your sign-off"),
            _("%(summary)s, submitted by HR.") % {"summary": summary},
        )
    _audit(summary.organisation, user, "summary.submit", summary, round=summary.round)
    return summary


def _quorum(rule: str, voters: int, approvals: int, rejections: int) -> bool | None:
    """True: signed off; False: rejected; None: still open."""
    if rule == CommitteeQuorum.ALL:
        if rejections:
            return False
        return True if approvals >= voters else None
    if rule == CommitteeQuorum.ANY:
        if approvals:
            return True
        return False if rejections >= voters else None
    if approvals * 2 > voters:
        return True
    return False if (voters - rejections) * 2 <= voters else None


@transaction.atomic
def summary_sign(*, summary: Summary, user: Any, approve: bool, reason: str = "") -> bool | None:
    """A committee member approves or rejects the current round. When the policy's rule
    (all, majority or any one) decides, the summary is published for its window or goes
    back to HR with the reasons, and the flow moves on. Returns the decision, if any."""
    summary = Summary.objects.select_for_update().get(pk=summary.pk)
    organisation = summary.organisation
    if _is(user, Role.COMMITTEE, organisation) is None:
        raise PermissionDenied(_("Only committee members sign off summaries."))
    if summary.status != SummaryStatus.SIGNOFF:
        raise ValidationError(_("This summary is not waiting for sign-off."))
    reason = reason.strip()
    if not approve and not reason:
        raise ValidationError(_("Give a reason for rejecting."))
    if SignOff.objects.filter(summary=summary, user=user, round=summary.round).exists():
        raise ValidationError(_("You have already signed this round."))
    SignOff.objects.create(
        summary=summary, user=user, round=summary.round, approve=approve, reason=reason[:500]
    )
    _audit(
        organisation,
        user,
        "summary.sign" if approve else "summary.reject",
        summary,
        round=summary.round,
        reason=reason,
    )
    votes = list(SignOff.objects.filter(summary=summary, round=summary.round))
    voters = committee_members(organisation=organisation).count()
    decided = _quorum(
        organisation.policy.committee_quorum,
        voters,
        sum(v.approve for v in votes),
        sum(not v.approve for v in votes),
    )
    if decided is None:
        return None
    now = timezone.now()
    if decided:
        summary.status = SummaryStatus.PUBLICITY
        summary.published_at = now
        summary.window_ends_at = now + timedelta(days=organisation.policy.publicity_window_days)
        summary.save(update_fields=["status", "published_at", "window_ends_at"])
        for user_id in set(summary.items.values_list("member__user", flat=True)):
            if user_id:
                _notify(
                    _user(user_id),
                    _("Your points are published"),
                    _("%(summary)s is published until %(end)s; you may appeal any item.")
                    % {"summary": summary, "end": _local(summary.window_ends_at)},
                )
    else:
        summary.status = SummaryStatus.DRAFT
        summary.rejection_reasons = "\n".join(v.reason for v in votes if not v.approve)
        summary.save(update_fields=["status", "rejection_reasons"])
        _notify(
            summary.created_by,
            _("The committee rejected a summary"),
            summary.rejection_reasons,
        )
    _audit(
        organisation,
        None,
        "summary.published" if decided else "summary.returned",
        summary,
        round=summary.round,
    )
    _advance_signoff(summary)
    return decided


def _user(user_id: int) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=user_id)


def _local(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _advance_signoff(summary: Summary) -> None:
    """Complete the flow's sign-off step (a Handle) once the committee has decided."""
    from viewflow.workflow.status import STATUS

    from flows.flows import SummaryFlow

    if summary.process_id is None:
        return
    task = SummaryFlow.task_class.objects.filter(
        process_id=summary.process_id, flow_task=SummaryFlow.signoff, status=STATUS.NEW
    ).first()
    if task is not None:
        SummaryFlow.signoff.run(task)


# --- who sees what ------------------------------------------------------------------------


def summary_visible_to(*, user: Any) -> QuerySet[Summary]:
    """HR and the committee see their organisation's summaries; everyone else the published
    ones whose scope contains their unit."""
    member = member_for_user(user=user)
    if member is None:
        return Summary.objects.none()
    summaries = Summary.objects.filter(organisation=member.organisation)
    if {Role.HR, Role.COMMITTEE} & user_roles(user=user):
        return summaries
    # In scope: the member's unit lies inside the batch's scope; a leader also sees the
    # batches of every unit inside the subtrees they lead.
    in_scope = Q(scope__path__in=list(_path_prefixes(member.unit.path)))
    for unit in member.led_units.all():
        in_scope |= Q(scope__path__startswith=unit.path)
    return summaries.filter(status__in=[SummaryStatus.PUBLICITY, SummaryStatus.POSTED]).filter(
        in_scope
    )


def _path_prefixes(path: str) -> Iterable[str]:
    """ "/1/4/9/" → "/1/", "/1/4/", "/1/4/9/"."""
    parts = [p for p in path.split("/") if p]
    for i in range(1, len(parts) + 1):
        yield "/" + "/".join(parts[:i]) + "/"


def appeal_visible_to(*, user: Any) -> QuerySet[Appeal]:
    """Appeals a user lodged or that concern their items; HR and the committee see their
    organisation's."""
    member = member_for_user(user=user)
    if member is None:
        return Appeal.objects.none()
    appeals = Appeal.objects.filter(organisation=member.organisation)
    if {Role.HR, Role.COMMITTEE} & user_roles(user=user):
        return appeals
    return appeals.filter(Q(appellant=member) | Q(item__member=member))


# --- publicity ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicityRow:
    member: Member
    items: list[SummaryItem]
    total: int


@dataclass(frozen=True)
class Publicity:
    summary: Summary
    rows: list[PublicityRow]
    top: dict[str, list[tuple[int, PublicityRow]]]
    item_count: int


def publicity_for(*, summary: Summary) -> Publicity:
    """What the publicity page and its PDF show: each member's items and period total, and
    the period's top members per group (leaders, members), ties sharing a rank."""
    items = list(
        summary.items.exclude(status=ItemStatus.EXCLUDED)
        .select_related("member__unit", "rule_item")
        .order_by("member__unit__path", "member__name", "member_id", "event_date", "pk")
    )
    by_member: dict[int, list[SummaryItem]] = defaultdict(list)
    for item in items:
        by_member[item.member_id].append(item)
    rows = [
        PublicityRow(member=its[0].member, items=its, total=sum(i.amount for i in its))
        for its in by_member.values()
    ]
    leaders = set(
        OrgUnit.objects.filter(leader_id__in=by_member).values_list("leader_id", flat=True)
    )
    top: dict[str, list[tuple[int, PublicityRow]]] = {}
    for group in (RankGroup.LEADERS, RankGroup.MEMBERS):
        grouped = sorted(
            (r for r in rows if (r.member.pk in leaders) == (group == RankGroup.LEADERS)),
            key=lambda r: (-r.total, r.member.pk),
        )
        ranked: list[tuple[int, PublicityRow]] = []
        for position, row in enumerate(grouped, 1):
            rank = ranked[-1][0] if ranked and ranked[-1][1].total == row.total else position
            if rank > PUBLISHED_TOP:
                break
            ranked.append((rank, row))
        top[group] = ranked
    return Publicity(summary=summary, rows=rows, top=top, item_count=len(items))


# --- appeals ------------------------------------------------------------------------------


def appeal_may_lodge(*, user: Any, item: SummaryItem, now: datetime | None = None) -> str | None:
    """None when the user may appeal the item now, else the reason they may not."""
    now = now or timezone.now()
    member = member_for_user(user=user)
    summary = item.summary
    if member is None or member.organisation_id != summary.organisation_id:
        return _("You may not appeal this item.")
    is_hr = Role.HR in user_roles(user=user)
    if not is_hr and not summary_visible_to(user=user).filter(pk=summary.pk).exists():
        return _("You may not appeal this item.")
    if item.status == ItemStatus.EXCLUDED or summary.status not in (
        SummaryStatus.PUBLICITY,
        SummaryStatus.POSTED,
    ):
        return _("This item is not published.")
    window_open = summary.status == SummaryStatus.PUBLICITY and now < (
        summary.window_ends_at or now
    )
    if not window_open and not is_hr:
        return _("The publicity window closed on %(end)s; appeals are no longer accepted.") % {
            "end": _local(summary.window_ends_at)
        }
    if item.appeals.exclude(status=AppealStatus.RULED).exists():
        return _("This item is already under appeal.")
    if item.status in (ItemStatus.CANCELLED, ItemStatus.REFUSED):
        return _("This item was not posted; there is nothing to appeal.")
    return None


@transaction.atomic
def appeal_lodge(*, user: Any, item: SummaryItem, reason: str) -> Appeal:
    """Object to a published item during the window (HR may also reopen a posted item, e.g.
    a false declaration found later). The item is held until the ruling."""
    item = SummaryItem.objects.select_for_update().select_related("summary").get(pk=item.pk)
    summary = Summary.objects.select_for_update().get(pk=item.summary_id)
    item.summary = summary
    refusal = appeal_may_lodge(user=user, item=item)
    if refusal:
        raise ValidationError(refusal)
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Give the reason for your appeal."))
    appellant = member_for_user(user=user)
    assert appellant is not None
    policy = summary.organisation.policy
    appeal = Appeal.objects.create(
        organisation=summary.organisation,
        item=item,
        appellant=appellant,
        reason=reason,
        hr_due=timezone.now() + timedelta(days=policy.appeal_hr_days),
    )
    if item.status in (ItemStatus.INCLUDED, ItemStatus.RULED):
        item.status = ItemStatus.HELD
        item.save(update_fields=["status"])
    objection = _("%(appellant)s objected to %(item)s.") % {
        "appellant": appellant.name,
        "item": item,
    }
    reexaminer = appeal_reexaminer(appeal=appeal)
    if reexaminer is not None:
        _notify(reexaminer, _("An appeal waits for re-examination"), objection)
    else:
        _tell_no_reexaminer(appeal, objection)
    if item.member.user_id and item.member.user_id != user.pk:
        _notify(
            item.member.user,
            _("One of your items is under appeal"),
            _("%(item)s is held until the committee rules.") % {"item": item},
        )
    _audit(summary.organisation, user, "appeal.lodge", appeal, item=item.pk, reason=reason)
    return appeal


def appeals_concerning(*, user: Any) -> QuerySet[Appeal]:
    """Appeals about the user: lodged by a member they log in for, or on the item of one
    (a household's or unit's accountable person included). They neither re-examine nor
    rule on these."""
    if getattr(user, "pk", None) is None:
        return Appeal.objects.none()
    return Appeal.objects.filter(Q(appellant__user_id=user.pk) | Q(item__member__user_id=user.pk))


def appeal_reexaminers(*, appeal: Appeal) -> QuerySet[Member]:
    """The HR officers who may re-examine the appeal: the organisation's active HR whom the
    appeal does not concern (not the appellant, not the member whose item it is). In the
    order the task is assigned by: the HR officer who opened the summary first (as every
    appeal went before), then the others by their record's age (key)."""
    item = SummaryItem.objects.select_related("summary").get(pk=appeal.item_id)
    concerned = (
        Member.objects.filter(pk__in=[appeal.appellant_id, item.member_id])
        .filter(user__isnull=False)  # NOT IN with a NULL would exclude everybody
        .values("user_id")
    )
    opened_by = Case(
        When(user_id=item.summary.created_by_id, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return (
        hr_members(organisation=appeal.organisation)
        .exclude(user_id__in=concerned)
        .annotate(opened_by=opened_by)
        .order_by("opened_by", "pk")
    )


def appeal_reexaminer(*, appeal: Appeal) -> Any | None:
    """The login the re-examination (二次核查) is assigned to: the first of
    ``appeal_reexaminers``. None when the appeal concerns every active HR officer: the task
    then waits unassigned in the HR queue (HR's object permission on the organisation), where
    any HR officer appointed later may take it and those it concerns may not; the
    administrators are told at once (``_tell_no_reexaminer``)."""
    first = appeal_reexaminers(appeal=appeal).first()
    return first.user if first is not None else None


def _tell_no_reexaminer(appeal: Appeal, body: str) -> None:
    """Nobody may re-examine the appeal: tell the administrators, who appoint HR officers."""
    admins = _administrators(appeal.organisation)
    if not admins:
        logger.warning("appeal %s: no HR officer may re-examine it and no administrator", appeal.pk)
    for admin in admins:
        _notify(
            admin,
            _("No HR officer may re-examine an appeal"),
            body
            + " "
            + _(
                "It concerns every active HR officer (as the appellant or as the member whose "
                "item it is), so it waits in HR's queue: appoint another HR officer to "
                "re-examine it."
            ),
        )


def _committee_for(appeal: Appeal) -> list[Any]:
    """The logins of the committee members who may rule on the appeal (it does not concern
    them)."""
    concerned = {
        user_id
        for user_id in Member.objects.filter(
            pk__in=[appeal.appellant_id, appeal.item.member_id]
        ).values_list("user_id", flat=True)
        if user_id is not None
    }
    members = committee_members(organisation=appeal.organisation).exclude(user_id__in=concerned)
    return _distinct_users(members)


@transaction.atomic
def appeal_reexamine(*, appeal: Appeal, user: Any, findings: str) -> Appeal:
    """HR records its re-examination (二次核查); the appeal goes to the committee. Nobody
    re-examines an appeal they lodged or on their own item."""
    appeal = Appeal.objects.select_for_update().get(pk=appeal.pk)
    if _is(user, Role.HR, appeal.organisation) is None:
        raise PermissionDenied(_("Only HR re-examines appeals."))
    if appeals_concerning(user=user).filter(pk=appeal.pk).exists():
        raise PermissionDenied(
            _(
                "You may not re-examine an appeal that concerns you: another HR officer "
                "re-examines it."
            )
        )
    if appeal.status != AppealStatus.REEXAMINATION:
        raise ValidationError(_("This appeal is not waiting for re-examination."))
    findings = findings.strip()
    if not findings:
        raise ValidationError(_("Record the findings of the re-examination."))
    appeal.findings = findings
    appeal.reexamined_by = user
    appeal.reexamined_at = timezone.now()
    appeal.status = AppealStatus.RULING
    appeal.committee_due = appeal.reexamined_at + timedelta(
        days=appeal.organisation.policy.appeal_committee_days
    )
    appeal.save()
    rulers = _committee_for(appeal)
    for ruler in rulers:
        _notify(
            ruler,
            _("An appeal waits for the committee's ruling"),
            _("HR has re-examined the appeal on %(item)s.") % {"item": appeal.item},
        )
    if not rulers:
        _tell_no_ruler(appeal)
    _audit(appeal.organisation, user, "appeal.reexamine", appeal, findings=findings)
    return appeal


def _tell_no_ruler(appeal: Appeal) -> None:
    """No committee member may rule on the appeal: tell the administrators."""
    for admin in _administrators(appeal.organisation):
        _notify(
            admin,
            _("No committee member may rule on an appeal"),
            _(
                "The appeal on %(item)s concerns every active committee member: appoint "
                "another committee member to rule on it."
            )
            % {"item": appeal.item},
        )


@transaction.atomic
def appeal_rule(
    *, appeal: Appeal, user: Any, ruling: str, reason: str, points: int | None = None
) -> Appeal:
    """The committee's final ruling: uphold, amend within the rule's range, cancel, or
    cancel as a false declaration (double deduction). A held item is posted as ruled once
    the window has closed; an item already posted is reversed and corrected."""
    appeal = Appeal.objects.select_for_update().select_related("item__rule_item").get(pk=appeal.pk)
    item = SummaryItem.objects.select_for_update().get(pk=appeal.item_id)
    summary = Summary.objects.select_for_update().get(pk=item.summary_id)
    ruler = _is(user, Role.COMMITTEE, appeal.organisation)
    if ruler is None:
        raise PermissionDenied(_("Only the committee rules on appeals."))
    if (
        ruler.pk in (item.member_id, appeal.appellant_id)
        or appeals_concerning(user=user).filter(pk=appeal.pk).exists()
    ):
        raise PermissionDenied(_("You may not rule on an appeal that concerns you."))
    if appeal.status != AppealStatus.RULING:
        raise ValidationError(_("This appeal is not waiting for a ruling."))
    if ruling not in Ruling.values:
        raise ValidationError(_("Choose a ruling."))
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Give the reasons for the ruling."))
    rule = appeal.item.rule_item
    if ruling == Ruling.AMEND:
        if points is None or not rule.points_min <= points <= rule.points_max:
            raise ValidationError(
                _("“%(rule)s” allows %(min)s to %(max)s points.")
                % {"rule": rule.name, "min": rule.points_min, "max": rule.points_max}
            )
    appeal.ruling = ruling
    appeal.ruled_points = points if ruling == Ruling.AMEND else None
    appeal.ruling_reason = reason
    appeal.ruled_by = user
    appeal.ruled_at = timezone.now()
    appeal.status = AppealStatus.RULED
    appeal.save()
    item.summary = summary
    if item.status == ItemStatus.POSTED:
        _correct_posted(item=item, appeal=appeal, user=user)
    else:
        _apply_ruling(item, appeal)
        if summary.status == SummaryStatus.POSTED:  # the window has closed: post it now
            _post(summary=summary, items=[item], user=user)
    outcome = _("The committee ruled: %(ruling)s. %(reason)s") % {
        "ruling": appeal.get_ruling_display(),
        "reason": reason,
    }
    _notify(appeal.appellant.user, _("Your appeal was ruled on"), outcome)
    if item.member.user_id and item.member_id != appeal.appellant_id:
        _notify(item.member.user, _("An appeal on your item was ruled on"), outcome)
    _audit(
        appeal.organisation,
        user,
        "appeal.rule",
        appeal,
        item=item.pk,
        ruling=ruling,
        points=points,
        reason=reason,
    )
    return appeal


def _ruled_amount(item: SummaryItem, appeal: Appeal) -> int:
    if appeal.ruling == Ruling.AMEND:
        assert appeal.ruled_points is not None
        return item.rule_item.sign * appeal.ruled_points * item.quantity
    return item.amount


def _apply_ruling(item: SummaryItem, appeal: Appeal) -> None:
    """A held item takes the ruling; it waits for the window's close to be posted."""
    if appeal.ruling == Ruling.CANCEL:
        item.status = ItemStatus.CANCELLED
    else:
        item.status = ItemStatus.RULED
    item.save(update_fields=["status"])


def _latest_ruling(item: SummaryItem) -> Appeal | None:
    return item.appeals.filter(status=AppealStatus.RULED).order_by("-ruled_at", "-pk").first()


def _posting_item(item: SummaryItem, closed: set[date]) -> PostingItem | None:
    """What the ledger should hold for a summary item, or None when nothing is posted."""
    appeal = _latest_ruling(item) if item.status == ItemStatus.RULED else None
    kind = EntryKind.DAILY
    amount = item.amount
    if appeal is not None:
        if appeal.ruling == Ruling.CANCEL:
            return None
        if appeal.ruling == Ruling.FALSE_DECLARATION:
            kind = EntryKind.FALSE_DECLARATION
        amount = _ruled_amount(item, appeal)
    return PostingItem(
        member_id=item.member_id,
        idempotency_key=f"summary-item:{item.pk}",
        effective_date=item.event_date,
        amount=amount,
        kind=kind,
        rule_item_id=item.rule_item_id,
        quantity=item.quantity,
        source=item,
        approved_by_id=item.approved_by_id,
        note=item.description[:200],
        correction=month_start(item.event_date) in closed,
    )


def _closed_months(organisation: Organisation) -> set[date]:
    return set(
        Period.objects.filter(organisation=organisation, closed_at__isnull=False).values_list(
            "month", flat=True
        )
    )


def _post(*, summary: Summary, items: Sequence[SummaryItem], user: Any) -> tuple[int, int]:
    """Post items (included or ruled) through the ledger; record each outcome on the item.
    Returns (posted, refused)."""
    closed = _closed_months(summary.organisation)
    postings: dict[str, tuple[SummaryItem, PostingItem]] = {}
    for item in items:
        if item.status == ItemStatus.CANCELLED:
            continue
        posting = _posting_item(item, closed)
        if posting is None:
            item.status = ItemStatus.CANCELLED
            item.save(update_fields=["status"])
            continue
        postings[posting.idempotency_key] = (item, posting)
    if not postings:
        return 0, 0
    result = ledger_post_batch(
        organisation=summary.organisation,
        items=[posting for _item, posting in postings.values()],
        actor=user,
    )
    entries = {entry.idempotency_key: entry for entry in result.entries}
    changed: list[SummaryItem] = []
    for key, (item, _posting) in postings.items():
        if key in entries:
            item.status = ItemStatus.POSTED
            item.ledger_entry = entries[key]
        changed.append(item)
    for posting, reason in result.refused:
        item = postings[posting.idempotency_key][0]
        item.status = ItemStatus.REFUSED
        item.refused_reason = reason[:500]
        _notify(
            item.member.user,
            _("One of your items could not be posted"),
            _("%(item)s: %(reason)s") % {"item": item, "reason": reason},
        )
    SummaryItem.objects.bulk_update(changed, ["status", "ledger_entry", "refused_reason"])
    return len(postings) - len(result.refused), len(result.refused)


def _correct_posted(*, item: SummaryItem, appeal: Appeal, user: Any) -> None:
    """A ruling on an item already in the ledger: reverse its entry (and co-award), then
    post the ruled value as a correction in the open month."""
    if appeal.ruling == Ruling.UPHOLD:
        return
    entry = item.ledger_entry
    assert entry is not None
    try:
        ledger_reverse(entry=entry, reason=appeal.ruling_reason[:400], actor=user)
    except LedgerError as error:
        raise ValidationError(str(error)) from error
    if appeal.ruling == Ruling.CANCEL:
        item.status = ItemStatus.CANCELLED
        item.save(update_fields=["status"])
        return
    # Within the event's own (open) month the ruled value is an ordinary entry of that
    # month; for an earlier month it is a correction booked in the open month.
    organisation = item.summary.organisation
    late = month_start(item.event_date) != month_start(organisation_today(organisation))
    if appeal.ruling == Ruling.FALSE_DECLARATION:
        kind = EntryKind.FALSE_DECLARATION
    else:
        kind = EntryKind.CORRECTION if late else EntryKind.DAILY
    result = ledger_post_batch(
        organisation=organisation,
        items=[
            PostingItem(
                member_id=item.member_id,
                idempotency_key=f"appeal:{appeal.pk}:correction",
                effective_date=item.event_date,
                amount=_ruled_amount(item, appeal),
                kind=kind,
                rule_item_id=item.rule_item_id,
                quantity=item.quantity,
                source=appeal,
                approved_by_id=user.pk,
                note=appeal.ruling_reason[:200],
                correction=late,
            )
        ],
        actor=user,
    )
    if result.refused:
        raise ValidationError(result.refused[0][1])


@dataclass(frozen=True)
class CloseResult:
    summaries: int
    posted: int
    refused: int
    held: int


@transaction.atomic
def publicity_close(
    *, summary: Summary, user: Any = None, now: datetime | None = None
) -> CloseResult:
    """Close a publicity window: post every unchallenged item (and every ruled one) through
    the ledger; items still under appeal stay held and are posted when ruled. Closing again
    posts nothing twice."""
    now = now or timezone.now()
    summary = Summary.objects.select_for_update().get(pk=summary.pk)
    if summary.status == SummaryStatus.POSTED:
        return CloseResult(0, 0, 0, 0)
    if summary.status != SummaryStatus.PUBLICITY:
        raise ValidationError(_("This summary is not in its publicity window."))
    if summary.window_ends_at is None or now < summary.window_ends_at:
        raise ValidationError(
            _("The publicity window is open until %(end)s.")
            % {"end": _local(summary.window_ends_at)}
        )
    items = list(
        summary.items.filter(status__in=[ItemStatus.INCLUDED, ItemStatus.RULED]).select_related(
            "member__user", "rule_item"
        )
    )
    posted, refused = _post(summary=summary, items=items, user=user)
    summary.status = SummaryStatus.POSTED
    summary.posted_at = now
    summary.save(update_fields=["status", "posted_at"])
    held = summary.items.filter(status=ItemStatus.HELD).count()
    _audit(
        summary.organisation,
        user,
        "summary.post",
        summary,
        posted=posted,
        refused=refused,
        held=held,
    )
    return CloseResult(1, posted, refused, held)


def publicity_close_due(*, now: datetime | None = None) -> CloseResult:
    """Close every window that has ended (the beat job and ``close_publicity_windows``);
    each summary in its own transaction, so one failure does not hold up the rest. The
    flows' window timers are fired as well, which moves their processes to the end."""
    from viewflow.workflow.timers import fire_due_timers

    now = now or timezone.now()
    totals = [0, 0, 0, 0]
    for summary in Summary.objects.filter(
        status=SummaryStatus.PUBLICITY, window_ends_at__lte=now
    ).order_by("window_ends_at", "pk"):
        try:
            result = publicity_close(summary=summary, now=now)
        except Exception:  # one broken batch must not hold up the others; retried next run
            logger.exception("closing the publicity window of summary %s failed", summary.pk)
            continue
        for i, value in enumerate((result.summaries, result.posted, result.refused, result.held)):
            totals[i] += value
    fire_due_timers()
    return CloseResult(*totals)


# --- deadlines ----------------------------------------------------------------------------


@transaction.atomic
def appeal_deadlines_run(*, now: datetime | None = None) -> dict[str, int]:
    """Remind HR of appeals past their re-examination deadline and the committee of those
    past their ruling deadline, once per step. Safe to run again."""
    now = now or timezone.now()
    counts = {"hr": 0, "committee": 0}
    overdue = (
        Appeal.objects.select_for_update()
        .filter(
            Q(status=AppealStatus.REEXAMINATION, hr_due__lte=now, hr_reminded_at__isnull=True)
            | Q(
                status=AppealStatus.RULING,
                committee_due__lte=now,
                committee_reminded_at__isnull=True,
            )
        )
        .select_related("item__summary", "organisation")
    )
    for appeal in overdue:
        body = _("The appeal on %(item)s is past its deadline.") % {"item": appeal.item}
        if appeal.status == AppealStatus.REEXAMINATION:
            for user in _reexamination_waits_on(appeal):
                _notify(user, _("An appeal is overdue"), body)
            appeal.hr_reminded_at = now
            appeal.save(update_fields=["hr_reminded_at"])
            counts["hr"] += 1
        else:
            rulers = _committee_for(appeal)
            for ruler in rulers or _administrators(appeal.organisation):
                _notify(ruler, _("An appeal is overdue"), body)
            appeal.committee_reminded_at = now
            appeal.save(update_fields=["committee_reminded_at"])
            counts["committee"] += 1
    return counts


def _reexamination_waits_on(appeal: Appeal) -> list[Any]:
    """Whom an overdue re-examination waits on: the HR officer its task is assigned to;
    while it waits in HR's queue (or its owner may not do it), every HR officer who may take
    it; when there is none, the administrators. Never someone the appeal concerns."""
    from viewflow.workflow.models import Task
    from viewflow.workflow.status import STATUS

    from flows.flows import AppealFlow

    eligible = _distinct_users(appeal_reexaminers(appeal=appeal))
    owner_id = (
        Task.objects.filter(
            process_id=appeal.process_id,
            flow_task=AppealFlow.reexamine,
            status__in=[STATUS.ASSIGNED, STATUS.STARTED],
        )
        .values_list("owner_id", flat=True)
        .first()
        if appeal.process_id is not None
        else None
    )
    owner = [user for user in eligible if user.pk == owner_id]
    return owner or eligible or _administrators(appeal.organisation)
