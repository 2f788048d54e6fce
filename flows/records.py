"""The record a process is about (a declaration, a notice, a summary, an appeal or a
redemption), as its process page and its task pages show it: its number as the lists
show it, its status in the record's own words, and what it holds. viewflow's pages showed
the process's own number and status ("#38", "新建") and nothing of what was declared.

Each page draws one record, in a fixed number of queries. The pages are scoped to people
who may see the process; evidence links are checked again when followed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch
from django.urls import reverse

from flows.flows import AppealFlow, AwardNoticeFlow, DeclarationFlow, RedemptionFlow, SummaryFlow
from flows.inbox import SUBJECTS
from flows.models import (
    Appeal,
    AwardNotice,
    Declaration,
    DeclarationItem,
    NoticeItem,
    Redemption,
    Summary,
    SummaryStatus,
)
from flows.services import declaration_may_withdraw
from points.roles import Role
from points.selectors.org import member_name_of, user_roles
from points.selectors.shop import redeemable_balance


@dataclass
class Record:
    number: int
    subject: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


def _declaration(process_id: int, user: Any) -> Record | None:
    declaration = (
        Declaration.objects.filter(process_id=process_id)
        .select_related("member__unit")
        .annotate(
            submitted_by_name=member_name_of("submitted_by"),
            reviewer_name=member_name_of("reviewer"),
        )
        .prefetch_related(
            Prefetch(
                "items",
                DeclarationItem.objects.select_related("rule_item")
                .prefetch_related("evidence")
                .order_by("pk"),
            )
        )
        .first()
    )
    if declaration is None:
        return None
    items = list(declaration.items.all())
    return Record(
        declaration.pk,
        "",
        "flows/records/declaration.html",
        {
            "declaration": declaration,
            "items": items,
            "total": sum(item.signed_total for item in items),
            "may_withdraw": declaration_may_withdraw(declaration=declaration, user=user),
        },
    )


def _notice(process_id: int, user: Any) -> Record | None:
    notice = (
        AwardNotice.objects.filter(process_id=process_id)
        .select_related("issuer")
        .annotate(signer_name=member_name_of("signer"))
        .prefetch_related(
            Prefetch(
                "items", NoticeItem.objects.select_related("rule_item", "member").order_by("pk")
            )
        )
        .first()
    )
    if notice is None:
        return None
    items = list(notice.items.all())
    return Record(
        notice.pk,
        "",
        "flows/records/notice.html",
        {"notice": notice, "items": items, "total": sum(item.signed_total for item in items)},
    )


def _summary(process_id: int, user: Any) -> Record | None:
    summary = (
        Summary.objects.filter(process_id=process_id)
        .select_related("scope")
        .annotate(created_by_name=member_name_of("created_by"))
        .first()
    )
    if summary is None:
        return None
    published = summary.status in (SummaryStatus.PUBLICITY, SummaryStatus.POSTED)
    return Record(
        summary.pk,
        "",
        "flows/records/summary.html",
        {
            "summary": summary,
            # the committee's reasons are its deliberation: HR's and the committee's (as the
            # API's), not every member's who may see the published summary
            "deliberation": bool({Role.HR, Role.COMMITTEE} & user_roles(user=user)),
            "item_count": summary.items.count(),
            "board_url": reverse("publicity:board:detail", args=[summary.pk]) if published else "",
        },
    )


def _appeal(process_id: int, user: Any) -> Record | None:
    appeal = (
        Appeal.objects.filter(process_id=process_id)
        .select_related("appellant", "item__member", "item__rule_item")
        .prefetch_related("evidence")
        .first()
    )
    if appeal is None:
        return None
    return Record(
        appeal.pk,
        "",
        "flows/_appeal.html",
        {"appeal": appeal, "item": appeal.item, "evidence": appeal.evidence.all()},
    )


def _redemption(process_id: int, user: Any) -> Record | None:
    redemption = (
        Redemption.objects.filter(process_id=process_id).select_related("member", "reward").first()
    )
    if redemption is None:
        return None
    return Record(
        redemption.pk,
        "",
        "flows/_redemption.html",
        {
            "redemption": redemption,
            "redeemable": redeemable_balance(member_id=redemption.member_id),
        },
    )


RECORDS: dict[type, Callable[[int, Any], Record | None]] = {
    DeclarationFlow: _declaration,
    AwardNoticeFlow: _notice,
    SummaryFlow: _summary,
    AppealFlow: _appeal,
    RedemptionFlow: _redemption,
}


def process_record(process: Any, user: Any) -> Record | None:
    """The record ``process`` is about, as ``user`` (who may see the process) is shown it,
    or None (a flow without records, or a process whose record was never written)."""
    read = RECORDS.get(process.flow_class)
    if read is None:
        return None
    record = read(process.pk, user)
    if record is not None:
        record.subject = SUBJECTS[process.flow_class]([process.pk]).get(process.pk, "")
    return record
