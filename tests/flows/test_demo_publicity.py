"""seed_demo leaves the publicity cycle at every step, idempotently: a posted and closed
last month, a batch in its window with an appeal at each step, a summary waiting for the
committee and one HR is preparing, each with its real flow tasks."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.demo_publicity import DRAFT, POSTED, PUBLICITY, SIGNOFF
from flows.flows import AppealFlow, RedemptionFlow, SummaryFlow
from flows.models import (
    Appeal,
    AppealStatus,
    ItemStatus,
    Redemption,
    SignOff,
    Summary,
    SummaryItem,
    SummaryStatus,
)
from flows.publicity_views import publicity_notice_pdf
from points.demo.seed import DEMO_PASSWORD
from points.models import EntryKind, LedgerEntry, Period, PeriodTotal
from points.selectors.ledger import ledger_verify, ranking_for_period

pytestmark = pytest.mark.django_db

LAST_MONTH = date(2026, 10, 1)  # the tests run on 2026-11-20


def _counts() -> dict[str, int]:
    return {
        "summaries": Summary.objects.count(),
        "items": SummaryItem.objects.count(),
        "appeals": Appeal.objects.count(),
        "signoffs": SignOff.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "tasks": Task.objects.count(),
    }


def test_the_publicity_cycle_at_every_step_and_idempotent() -> None:
    call_command("seed_demo", stdout=StringIO())
    first = _counts()

    # Last month: posted to the ledger, rankings and the notice exist, the month closed.
    posted = Summary.objects.get(status=SummaryStatus.POSTED)
    assert posted.period_start == LAST_MONTH and posted.scope.code == "gm"
    # Its window ended in the past; the window's timer posted it and ended the process.
    assert posted.window_ends_at is not None and posted.posted_at is not None
    assert posted.window_ends_at < posted.posted_at <= timezone.now()
    assert posted.process is not None and posted.process.finished is not None
    items = list(posted.items.all())
    assert len(items) == 13 and {i.status for i in items} == {ItemStatus.POSTED}
    assert {i.amount < 0 for i in items} == {True, False}  # awards and a deduction
    entries = LedgerEntry.objects.filter(pk__in=[i.ledger_entry_id for i in items])
    assert entries.count() == len(items)
    assert {(e.source_type.model, e.source_id) for e in entries} == {
        ("summaryitem", i.pk) for i in items
    }
    assert set(entries.values_list("kind", flat=True)) == {EntryKind.DAILY}
    assert {e.effective_date.replace(day=1) for e in entries} == {LAST_MONTH}
    assert ledger_verify() == []
    assert Period.objects.get(organisation=posted.organisation, month=LAST_MONTH).is_closed
    ranking = ranking_for_period(organisation=posted.organisation, kind="month", start=LAST_MONTH)
    assert len(ranking) >= 10
    assert PeriodTotal.objects.filter(period_kind="month", period_start=LAST_MONTH).exists()
    assert publicity_notice_pdf(summary=posted).startswith(b"%PDF")
    # Its process went through the window's timer to the end.
    assert not SummaryFlow.task_class.objects.filter(
        process=posted.process, status__in=[STATUS.NEW, STATUS.ASSIGNED, STATUS.SCHEDULED]
    ).exists()

    # This month, in the window: an appeal at each step, with the flow's tasks.
    window = Summary.objects.get(status=SummaryStatus.PUBLICITY)
    assert window.period_start == date(2026, 11, 1) and window.scope.code == "eq"
    assert window.items.count() == 5
    appeals = {a.status: a for a in Appeal.objects.filter(item__summary=window)}
    assert set(appeals) == {AppealStatus.REEXAMINATION, AppealStatus.RULING, AppealStatus.RULED}
    reexamine = AppealFlow.task_class.objects.get(
        process=appeals[AppealStatus.REEXAMINATION].process, flow_task=AppealFlow.reexamine
    )
    assert reexamine.status == STATUS.ASSIGNED and reexamine.owner.username == "hr1"
    ruling = AppealFlow.task_class.objects.get(
        process=appeals[AppealStatus.RULING].process, flow_task=AppealFlow.rule
    )
    assert ruling.status == STATUS.NEW and ruling.owner is None and ruling.owner_permission
    ruled = appeals[AppealStatus.RULED]
    assert ruled.ruling == "amend" and ruled.ruled_points == 20
    assert ruled.item.status == ItemStatus.RULED
    assert not AppealFlow.task_class.objects.filter(
        process=ruled.process, status__in=[STATUS.NEW, STATUS.ASSIGNED]
    ).exists()
    assert window.items.filter(status=ItemStatus.HELD).count() == 2
    assert SummaryFlow.task_class.objects.get(
        process=window.process, flow_task=SummaryFlow.publicity
    ).scheduled == (window.window_ends_at)

    # A summary waiting for the committee: one vote of three.
    signoff = Summary.objects.get(status=SummaryStatus.SIGNOFF)
    assert signoff.scope.code == "wh" and signoff.items.count() == 3
    assert list(signoff.signoffs.values_list("user__username", "approve")) == [("committee1", True)]
    assert SummaryFlow.task_class.objects.get(
        process=signoff.process, flow_task=SummaryFlow.signoff
    ).status == (STATUS.NEW)

    # A summary HR is still preparing: hr2's prepare task.
    draft = Summary.objects.get(status=SummaryStatus.DRAFT)
    prepare = SummaryFlow.task_class.objects.get(
        process=draft.process, flow_task=SummaryFlow.prepare
    )
    assert prepare.status == STATUS.ASSIGNED and prepare.owner.username == "hr2"
    assert draft.scope.code == "sales" and draft.items.count() == 2

    # The batches did not swallow the other demos' approved items.
    markers = (POSTED, PUBLICITY, SIGNOFF, DRAFT)
    assert all(
        d.endswith(markers) for d in SummaryItem.objects.values_list("description", flat=True)
    )

    call_command("seed_demo", stdout=StringIO())
    assert _counts() == first

    _the_demo_logins_find_the_work()  # on the same seeding (most of a minute on PostgreSQL)


def _the_demo_logins_find_the_work() -> None:
    window = Summary.objects.get(status=SummaryStatus.PUBLICITY)
    signoff = Summary.objects.get(status=SummaryStatus.SIGNOFF)

    hr = Client()
    assert hr.login(username="hr1", password=DEMO_PASSWORD)
    task = AppealFlow.task_class.objects.get(flow_task=AppealFlow.reexamine, status="ASSIGNED")
    url = f"/publicity/appeal/{task.process_id}/reexamine/{task.pk}/execute/"
    assert "申诉待复核" in hr.get(url).content.decode()
    # the task lists say what each task is about
    appeal = Appeal.objects.select_related("appellant", "item__member", "item__rule_item").get(
        process_id=task.process_id
    )
    item = appeal.item
    assert (
        f"{appeal.appellant.name} 申诉 · {item.member.name} · {item.rule_item.name} · "
        f"{item.amount:+d} 分"
    ) in hr.get("/publicity/appeal/inbox/").content.decode()
    waiting = Redemption.objects.select_related("member", "reward").get(status="approved")
    assert (
        f"{waiting.member.name} · {waiting.reward.name} · {waiting.points} 可兑换积分"
    ) in hr.get("/shop/redemption/queue/").content.decode()
    # and so does the page to claim it
    claim = RedemptionFlow.task_class.objects.get(process_id=waiting.process_id, status="NEW")
    url = f"/shop/redemption/{claim.process_id}/{claim.flow_task.name}/{claim.pk}/assign/"
    assert f"{waiting.member.name} · {waiting.reward.name}" in hr.get(url).content.decode()

    committee = Client()
    assert committee.login(username="committee2", password=DEMO_PASSWORD)
    html = committee.get("/publicity/board/signoff/").content.decode()
    assert f"/publicity/board/signoff/{signoff.pk}/" in html
    assert committee.get(f"/publicity/board/{window.pk}/").status_code == 200
    posted = Summary.objects.get(status=SummaryStatus.POSTED)
    pdf = committee.get(f"/publicity/board/{posted.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
