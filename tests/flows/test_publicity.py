"""The summary → sign-off → publicity → appeal → posting cycle through the test client."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.flows import AppealFlow, SummaryFlow
from flows.models import (
    Appeal,
    AppealStatus,
    DeclarationItem,
    ItemStatus,
    Summary,
    SummaryItem,
    SummaryStatus,
)
from points.models import AuditEvent, EntryKind, LedgerEntry, PeriodTotal
from points.roles import Role
from points.selectors.ledger import ledger_verify, member_statement, ranking_for_period
from tests.conftest import Org
from tests.factories import TEST_PASSWORD, RuleItemFactory
from tests.flows.test_declaration_flow import _decide, _declare

pytestmark = pytest.mark.django_db

SUMMARY_START = "/publicity/summary/start/"
APPEAL_START = "/publicity/appeal/start/"


def _client(member: Any) -> Client:
    client = Client()
    assert client.login(username=member.user.username, password=TEST_PASSWORD)
    return client


def _task(flow: Any, node: Any, **filters: Any) -> Task:
    return flow.task_class.objects.get(
        flow_task=node, status__in=[STATUS.NEW, STATUS.ASSIGNED], **filters
    )


def _url(prefix: str, task: Task, action: str = "execute") -> str:
    return f"{prefix}{task.process_id}/{task.flow_task.name}/{task.pk}/{action}/"


@pytest.fixture
def rule(org: Org) -> Any:
    return RuleItemFactory(
        organisation=org.organisation,
        name="合理化建议",
        kind="award",
        points_min=10,
        points_max=100,
    )


def _approved(org: Org, rule: Any, member: Any, leader: Any, points: int, **extra: Any) -> None:
    assert _declare(member, rule, points=points, **extra).status_code == 302
    assert _decide(leader, "approve").status_code == 302


def _open_summary(org: Org) -> Summary:
    hr = _client(org.hr)
    assert hr.get(SUMMARY_START).status_code == 200
    response = hr.post(SUMMARY_START, {"scope": org.company.pk, "on": "2026-11-20"})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Summary.objects.get()


def _submit(org: Org) -> None:
    task = _task(SummaryFlow, SummaryFlow.prepare)
    assert task.owner == org.hr.user
    response = _client(org.hr).post(_url("/publicity/summary/", task), {"submit": "1"})
    assert response.status_code == 302, response.content.decode()[:2000]


def _sign(member: Any, summary: Summary, decision: str = "approve", reason: str = "") -> Any:
    return _client(member).post(
        f"/publicity/board/signoff/{summary.pk}/", {"decision": decision, "reason": reason}
    )


def _published(org: Org, rule: Any, committee2: Any) -> Summary:
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    _approved(org, rule, org.worker_b, org.leader_b, 40)
    summary = _open_summary(org)
    _submit(org)
    assert _sign(org.committee, summary).status_code == 302
    assert _sign(committee2, summary).status_code == 302
    summary.refresh_from_db()
    assert summary.status == SummaryStatus.PUBLICITY
    return summary


def _appeal(appellant: Any, item: SummaryItem, reason: str = "并未被采纳") -> Any:
    return _client(appellant).post(APPEAL_START, {"item": item.pk, "reason": reason})


def _reexamine(org: Org, findings: str = "经核查，建议只部分采纳", by: Any = None) -> None:
    """The re-examination's HR officer (``by``, the summary's HR by default) records it."""
    hr = by or org.hr
    task = _task(AppealFlow, AppealFlow.reexamine)
    assert task.owner == hr.user
    response = _client(hr).post(_url("/publicity/appeal/", task), {"findings": findings})
    assert response.status_code == 302, response.content.decode()[:2000]


def _hr2(org: Org) -> Any:
    """A second HR officer: re-examines the appeals HR (``org.hr``) lodges."""
    return org.member(org.company, f"{org.organisation.code}-hr2", role=Role.HR)


def _rule(member: Any, ruling: str, points: int | None = None, reason: str = "委员会裁定") -> Any:
    task = _task(AppealFlow, AppealFlow.rule)
    client = _client(member)
    assert client.post(_url("/publicity/appeal/", task, "assign")).status_code == 302
    data = {"ruling": ruling, "reason": reason, "points": "" if points is None else points}
    return client.post(_url("/publicity/appeal/", task), data)


def _close_after_window(summary: Summary) -> None:
    summary.refresh_from_db()
    assert summary.window_ends_at is not None
    with time_machine.travel(summary.window_ends_at + timedelta(minutes=1), tick=False):
        call_command("close_publicity_windows")


def _errors(response: Any) -> str:
    import re

    return " ".join(
        re.findall(
            r'class="[^"]*(?:errorlist|pts-errors)[^"]*">(.*?)</', response.content.decode(), re.S
        )
    )


def _pdftotext(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def test_the_whole_cycle_ends_with_the_amended_value_in_the_ledger(
    org: Org, rule: Any, committee2: Any
) -> None:
    org.worker_a1.name = "张三"
    org.worker_a1.save()
    summary = _published(org, rule, committee2)
    assert summary.items.count() == 2 and summary.period_start == date(2026, 11, 1)
    # Nothing is in the ledger during publicity.
    assert not LedgerEntry.objects.filter(kind=EntryKind.DAILY).exists()

    # Anyone in scope sees the publicity page and its PDF.
    page = _client(org.worker_b).get(f"/publicity/board/{summary.pk}/")
    assert page.status_code == 200
    assert "张三" in page.content.decode() and "合理化建议" in page.content.decode()
    pdf = _client(org.worker_b).get(f"/publicity/board/{summary.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = _pdftotext(pdf.content)
    assert "张三" in text and "30" in text and "40" in text and "acme厂" in text

    # Another member appeals 张三's item; it is held.
    item = summary.items.get(member=org.worker_a1)
    assert _client(org.worker_b).get(f"{APPEAL_START}?item={item.pk}").status_code == 200
    assert _appeal(org.worker_b, item).status_code == 302
    item.refresh_from_db()
    assert item.status == ItemStatus.HELD
    appeal = Appeal.objects.get()
    assert appeal.process is not None and appeal.evidence.count() == 0

    _reexamine(org)
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.RULING and appeal.findings

    # A committee member takes the ruling from the committee queue and amends to 20.
    response = _rule(org.committee, "amend", 20)
    assert response.status_code == 302, response.content.decode()[:2000]
    appeal.refresh_from_db()
    item.refresh_from_db()
    assert appeal.status == AppealStatus.RULED and item.status == ItemStatus.RULED

    _close_after_window(summary)
    summary.refresh_from_db()
    item.refresh_from_db()
    assert summary.status == SummaryStatus.POSTED and item.status == ItemStatus.POSTED
    entry = LedgerEntry.objects.get(member=org.worker_a1, kind=EntryKind.DAILY)
    assert entry.amount == 20 and item.ledger_entry == entry
    assert LedgerEntry.objects.get(member=org.worker_b, kind=EntryKind.DAILY).amount == 40
    # Totals and rankings agree with the ledger.
    assert ledger_verify() == []
    base = org.organisation.policy.base_points  # granted on joining, this month
    month = PeriodTotal.objects.get(member=org.worker_a1, period_kind="month")
    assert month.total == base + 20
    ranking = ranking_for_period(
        organisation=org.organisation, kind="month", start=date(2026, 11, 1)
    )
    totals = {row.member_id: row.total for row in ranking}
    assert totals[org.worker_b.pk] == base + 40 and totals[org.worker_a1.pk] == base + 20
    statement = member_statement(member=org.worker_a1, on=date(2026, 11, 20))
    assert statement.totals["month"] == base + 20
    # Both processes ended; every step left an audit row.
    assert summary.process.finished is not None and appeal.process.finished is not None
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"summary.open", "summary.submit", "summary.sign", "summary.published"} <= actions
    assert {"appeal.lodge", "appeal.reexamine", "appeal.rule", "summary.post"} <= actions


def test_closing_twice_posts_once(org: Org, rule: Any, committee2: Any) -> None:
    summary = _published(org, rule, committee2)
    _close_after_window(summary)
    _close_after_window(summary)
    assert LedgerEntry.objects.filter(kind=EntryKind.DAILY).count() == 2
    assert ledger_verify() == []


def test_the_window_is_not_closed_early(org: Org, rule: Any, committee2: Any) -> None:
    summary = _published(org, rule, committee2)
    call_command("close_publicity_windows")
    summary.refresh_from_db()
    assert summary.status == SummaryStatus.PUBLICITY
    assert not LedgerEntry.objects.filter(kind=EntryKind.DAILY).exists()


def test_a_held_item_waits_for_its_ruling_and_the_rest_is_posted(
    org: Org, rule: Any, committee2: Any
) -> None:
    summary = _published(org, rule, committee2)
    item = summary.items.get(member=org.worker_a1)
    assert _appeal(org.worker_b, item).status_code == 302
    _close_after_window(summary)
    item.refresh_from_db()
    assert item.status == ItemStatus.HELD
    assert not LedgerEntry.objects.filter(member=org.worker_a1, kind=EntryKind.DAILY).exists()
    assert LedgerEntry.objects.filter(member=org.worker_b, kind=EntryKind.DAILY).exists()
    # Ruled after the window: posted at once, as ruled.
    _reexamine(org)
    assert _rule(org.committee, "uphold").status_code == 302
    item.refresh_from_db()
    assert item.status == ItemStatus.POSTED
    assert LedgerEntry.objects.get(member=org.worker_a1, kind=EntryKind.DAILY).amount == 30
    assert ledger_verify() == []


def test_a_late_appeal_is_refused(org: Org, rule: Any, committee2: Any) -> None:
    summary = _published(org, rule, committee2)
    item = summary.items.get(member=org.worker_a1)
    assert summary.window_ends_at is not None
    with time_machine.travel(summary.window_ends_at + timedelta(seconds=1), tick=False):
        response = _appeal(org.worker_b, item)
    assert response.status_code == 200
    assert "公示期已于" in response.content.decode()
    assert not Appeal.objects.exists()
    item.refresh_from_db()
    assert item.status == ItemStatus.INCLUDED


def test_a_ruling_after_posting_reverses_and_corrects(org: Org, rule: Any, committee2: Any) -> None:
    """HR reopens a posted item (a false declaration found later); the ruling reverses the
    entry and posts the double deduction as a correction in the open month."""
    summary = _published(org, rule, committee2)
    _close_after_window(summary)
    item = summary.items.get(member=org.worker_a1)
    original = LedgerEntry.objects.get(member=org.worker_a1, kind=EntryKind.DAILY)
    # A member may no longer appeal; HR may reopen.
    assert _appeal(org.worker_b, item).status_code == 200
    hr2 = _hr2(org)  # nobody re-examines their own appeal: HR's goes to another HR officer
    assert _appeal(org.hr, item, reason="发现弄虚作假").status_code == 302
    _reexamine(org, by=hr2)
    response = _rule(org.committee, "false_declaration")
    assert response.status_code == 302, _errors(response)
    reversal = LedgerEntry.objects.get(reverses=original)
    assert reversal.amount == -30
    false = LedgerEntry.objects.get(member=org.worker_a1, kind=EntryKind.FALSE_DECLARATION)
    assert false.amount == -60
    account_total = sum(
        LedgerEntry.objects.filter(member=org.worker_a1, in_period_totals=True)
        .exclude(kind=EntryKind.BASE)
        .values_list("amount", flat=True)
    )
    assert account_total == -60
    assert ledger_verify() == []


def test_an_amendment_after_posting_reverses_and_posts_a_correction(
    org: Org, rule: Any, committee2: Any
) -> None:
    summary = _published(org, rule, committee2)
    _close_after_window(summary)
    item = summary.items.get(member=org.worker_b)
    hr2 = _hr2(org)
    assert _appeal(org.hr, item, reason="复核").status_code == 302
    _reexamine(org, by=hr2)
    response = _rule(org.committee, "amend", 15)
    assert response.status_code == 302, _errors(response)
    # Same (open) month: the ruled value is an ordinary entry after the reversal.
    entries = LedgerEntry.objects.filter(member=org.worker_b).exclude(kind=EntryKind.BASE)
    assert sorted(entries.values_list("kind", "amount")) == [
        ("daily", 15),
        ("daily", 40),
        ("reversal", -40),
    ]
    month = PeriodTotal.objects.get(member=org.worker_b, period_kind="month")
    assert month.total == org.organisation.policy.base_points + 15
    assert ledger_verify() == []


def test_an_exclusion_sends_the_item_back_and_it_is_never_posted(
    org: Org, rule: Any, committee2: Any
) -> None:
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    _approved(org, rule, org.worker_b, org.leader_b, 40)
    summary = _open_summary(org)
    item = summary.items.get(member=org.worker_b)
    task = _task(SummaryFlow, SummaryFlow.prepare)
    hr = _client(org.hr)
    # A reason is required; nothing changes without it.
    response = hr.post(_url("/publicity/summary/", task), {"exclude": "1", "item": item.pk})
    assert response.status_code == 200 and "这个字段是必填项" in response.content.decode()
    item.refresh_from_db()
    assert item.status == ItemStatus.INCLUDED
    response = hr.post(
        _url("/publicity/summary/", task),
        {"exclude": "1", "item": item.pk, "reason": "与上月重复"},
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == ItemStatus.EXCLUDED and item.excluded_reason == "与上月重复"
    assert DeclarationItem.objects.get(pk=item.declaration_item_id).pool_month is None
    subjects = set(org.leader_b.user.notifications.values_list("subject", flat=True)) | set(
        org.worker_b.user.notifications.values_list("subject", flat=True)
    )
    assert any("排除" in s for s in subjects), subjects
    _submit(org)
    assert _sign(org.committee, summary).status_code == 302
    assert _sign(committee2, summary).status_code == 302
    _close_after_window(summary)
    assert not LedgerEntry.objects.filter(member=org.worker_b, kind=EntryKind.DAILY).exists()
    assert LedgerEntry.objects.filter(member=org.worker_a1, kind=EntryKind.DAILY).exists()


def test_a_committee_rejection_returns_the_summary_to_hr(
    org: Org, rule: Any, committee2: Any
) -> None:
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    summary = _open_summary(org)
    _submit(org)
    # A rejection needs a reason.
    response = _sign(org.committee, summary, "reject")
    assert response.status_code == 200 and "请说明驳回的理由" in response.content.decode()
    assert _sign(org.committee, summary, "reject", "证据不足").status_code == 302
    summary.refresh_from_db()
    # Majority of two: one rejection already makes a majority impossible.
    assert summary.status == SummaryStatus.DRAFT and "证据不足" in summary.rejection_reasons
    task = _task(SummaryFlow, SummaryFlow.prepare)
    assert task.owner == org.hr.user and task.status == STATUS.ASSIGNED
    page = _client(org.hr).get(_url("/publicity/summary/", task))
    assert "证据不足" in page.content.decode()
    # HR resubmits; the second round is signed off.
    _submit(org)
    summary.refresh_from_db()
    assert summary.round == 2
    assert _sign(org.committee, summary).status_code == 302
    assert _sign(committee2, summary).status_code == 302
    summary.refresh_from_db()
    assert summary.status == SummaryStatus.PUBLICITY


def test_nobody_outside_the_scope_sees_the_publicity(
    org: Org, other_org: Org, rule: Any, committee2: Any
) -> None:
    summary = _published(org, rule, committee2)
    assert _client(other_org.worker_b).get(f"/publicity/board/{summary.pk}/").status_code == 404
    assert _client(other_org.worker_b).get(f"/publicity/board/{summary.pk}/pdf/").status_code == 404
    item = summary.items.first()
    assert item is not None
    assert _client(other_org.worker_b).get(f"{APPEAL_START}?item={item.pk}").status_code == 404
    # The committee of another organisation never sees the ruling task in its queue.
    assert _appeal(org.worker_b, item).status_code == 302
    _reexamine(org)
    task = _task(AppealFlow, AppealFlow.rule)
    outsider = _client(other_org.committee)
    assert outsider.post(_url("/publicity/appeal/", task, "assign")).status_code in (403, 404)
    queue = outsider.get("/publicity/appeal/queue/")
    assert f"/{task.pk}/" not in queue.content.decode()  # as a link, as the check below
    assert _client(org.committee).get("/publicity/appeal/queue/").status_code == 200
    assert f"/{task.pk}/" in _client(org.committee).get("/publicity/appeal/queue/").content.decode()


def test_nobody_rules_on_an_appeal_about_themselves(org: Org, rule: Any, committee2: Any) -> None:
    _approved(org, rule, committee2, org.ceo, 30)
    summary = _open_summary(org)
    _submit(org)
    _sign(org.committee, summary)
    _sign(committee2, summary)
    item = summary.items.get()
    assert _appeal(org.worker_b, item).status_code == 302
    _reexamine(org)
    task = _task(AppealFlow, AppealFlow.rule)
    client = _client(committee2)
    # the member the appeal is about may not take its ruling from the queue, nor rule
    assert client.post(_url("/publicity/appeal/", task, "assign")).status_code == 403
    response = client.post(
        _url("/publicity/appeal/", task), {"ruling": "uphold", "reason": "维持", "points": ""}
    )
    assert response.status_code == 403
    assert Appeal.objects.get().status == AppealStatus.RULING
    task.refresh_from_db()
    assert task.owner_id is None  # still in the queue for the others
    assert _rule(org.committee, "uphold").status_code == 302


def test_an_amendment_outside_the_rule_range_is_refused(
    org: Org, rule: Any, committee2: Any
) -> None:
    summary = _published(org, rule, committee2)
    item = summary.items.get(member=org.worker_a1)
    _appeal(org.worker_b, item)
    _reexamine(org)
    response = _rule(org.committee, "amend", 500)
    assert response.status_code == 200 and "10 至 100 分" in response.content.decode()
    assert Appeal.objects.get().status == AppealStatus.RULING


def test_html_in_user_text_is_escaped_on_the_page_and_not_fetched_in_the_pdf(
    org: Org, rule: Any, committee2: Any
) -> None:
    evil = '<script>alert(1)</script><img src="http://127.0.0.1:9/x.png">'
    _approved(org, rule, org.worker_a1, org.leader_a1, 30, description=evil)
    summary = _open_summary(org)
    _submit(org)
    _sign(org.committee, summary)
    _sign(committee2, summary)
    page = _client(org.worker_b).get(f"/publicity/board/{summary.pk}/").content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    from flows.publicity_views import publicity_notice_pdf
    from points.pdf import LocalOnlyFetcher

    fetcher = LocalOnlyFetcher()
    pdf = publicity_notice_pdf(summary=summary, fetcher=fetcher)
    assert fetcher.refused == []  # escaped: no <img> element exists to fetch
    assert "<script>alert(1)</script>" in _pdftotext(pdf).replace("\n", "")


def test_flags_mark_duplicates_caps_and_vetoes(org: Org, committee2: Any, post: Any) -> None:
    capped = RuleItemFactory(
        organisation=org.organisation,
        name="加班",
        kind="award",
        points_min=10,
        points_max=10,
        cap_per_day=10,
    )
    veto_rule = RuleItemFactory(
        organisation=org.organisation,
        name="严重违纪",
        kind="deduction",
        points_min=50,
        points_max=50,
        veto=True,
    )
    post(org.worker_b, -50, rule_item_id=veto_rule.pk)
    _approved(org, capped, org.worker_a1, org.leader_a1, 10)
    _approved(org, capped, org.worker_a1, org.leader_a1, 10)
    _approved(org, capped, org.worker_b, org.leader_b, 10)
    summary = _open_summary(org)
    flags = {(i.member_id, tuple(i.flags)) for i in summary.items.all()}
    assert (org.worker_a1.pk, ("cap", "duplicate")) in flags
    assert (org.worker_b.pk, ("veto",)) in flags
    page = _client(org.hr).get(_url("/publicity/summary/", _task(SummaryFlow, SummaryFlow.prepare)))
    assert "同一人同一规则同一天重复申报" in page.content.decode()


def test_only_hr_opens_a_summary_and_an_empty_pool_is_refused(org: Org) -> None:
    assert _client(org.worker_a1).get(SUMMARY_START).status_code == 403
    response = _client(org.hr).post(SUMMARY_START, {"scope": org.company.pk, "on": "2026-11-20"})
    assert response.status_code == 200
    assert "待汇总池中没有" in response.content.decode()
    assert not Summary.objects.exists()


def test_appeal_deadlines_remind_once(org: Org, rule: Any, committee2: Any) -> None:
    from flows.publicity import appeal_deadlines_run

    summary = _published(org, rule, committee2)
    _appeal(org.worker_b, summary.items.get(member=org.worker_a1))
    later = datetime(2026, 11, 20, 10, 0, tzinfo=UTC) + timedelta(days=4)
    assert appeal_deadlines_run(now=later) == {"hr": 1, "committee": 0}
    assert appeal_deadlines_run(now=later) == {"hr": 0, "committee": 0}
    _reexamine(org)
    much_later = timezone_now() + timedelta(days=6)
    assert appeal_deadlines_run(now=much_later) == {"hr": 0, "committee": 1}
    assert org.committee.user.notifications.filter(subject__contains="逾期").exists()


def timezone_now() -> datetime:
    from django.utils import timezone

    return timezone.now()


def test_a_ruling_in_a_later_month_corrects_the_closed_month(
    org: Org, rule: Any, committee2: Any
) -> None:
    """November is posted and closed; a December ruling reverses the entry and posts the
    amended value as a correction booked in December that names November."""
    from points.services.accounts import period_close

    summary = _published(org, rule, committee2)
    _close_after_window(summary)
    with time_machine.travel(datetime(2026, 12, 3, 2, 0, tzinfo=UTC), tick=False):
        period_close(organisation=org.organisation, month=date(2026, 11, 1), actor=org.hr.user)
        item = summary.items.get(member=org.worker_b)
        hr2 = _hr2(org)
        assert _appeal(org.hr, item, reason="复核").status_code == 302
        _reexamine(org, by=hr2)
        response = _rule(org.committee, "amend", 25)
        assert response.status_code == 302, _errors(response)
    original = LedgerEntry.objects.get(member=org.worker_b, kind=EntryKind.DAILY)
    reversal = LedgerEntry.objects.get(reverses=original)
    correction = LedgerEntry.objects.get(member=org.worker_b, kind=EntryKind.CORRECTION)
    assert reversal.booked_on.month == 12 and reversal.corrects_month == date(2026, 11, 1)
    assert correction.amount == 25 and correction.booked_on == date(2026, 12, 3)
    assert correction.corrects_month == date(2026, 11, 1)
    assert ledger_verify() == []


def test_leaders_above_the_scope_see_its_publicity(org: Org, rule: Any, committee2: Any) -> None:
    """A batch scoped to department A is seen by its members, by the leaders above it (the
    CEO), but not by department B."""
    _approved(org, rule, org.worker_a1, org.leader_a1, 30)
    hr = _client(org.hr)
    response = hr.post(SUMMARY_START, {"scope": org.dept_a.pk, "on": "2026-11-20"})
    assert response.status_code == 302
    summary = Summary.objects.get()
    _submit(org)
    _sign(org.committee, summary)
    _sign(committee2, summary)
    url = f"/publicity/board/{summary.pk}/"
    assert _client(org.worker_a1).get(url).status_code == 200
    assert _client(org.ceo).get(url).status_code == 200
    assert _client(org.leader_a).get(url).status_code == 200
    assert _client(org.worker_b).get(url).status_code == 404
    assert _client(org.leader_b).get(url).status_code == 404
