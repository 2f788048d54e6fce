"""The publicity cycle's pages cost the same number of queries whatever the number of rows:
the publicity board and a published batch, the summary and appeal lists, the committee's
sign-off list and page, and HR's prepare task. Each page is measured with a few rows and
with many (members, items, summaries, appeals) against one budget for both sizes.

Rows are made in bulk (approved declarations straight into the pending pool, summaries and
appeals with ``bulk_create``); the flow steps a page needs (a prepare task, a sign-off
round) go through the test client as in ``test_publicity``."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from flows.flows import SummaryFlow
from flows.models import (
    Appeal,
    AppealStatus,
    Declaration,
    DeclarationItem,
    DeclarationStatus,
    ItemStatus,
    Summary,
    SummaryItem,
    SummaryStatus,
)
from flows.publicity import summary_open
from points.models import Member
from tests.conftest import Org
from tests.flows.test_publicity import (
    SUMMARY_START,
    _client,
    _sign,
    _submit,
    _task,
    _url,
    rule,
)

__all__ = ["rule"]  # a fixture, imported for pytest to find

pytestmark = pytest.mark.django_db

FEW, MANY = 3, 30
SIZES = [pytest.param(FEW, id="few"), pytest.param(MANY, id="many")]
TODAY = date(2026, 11, 20)

#: Queries per page, one budget for few and many rows: what the page costs today (session,
#: user, member, roles, the page's own reads) plus 2 of slack. A page that read per row
#: would need at least MANY - FEW = 27 more.
BUDGET = {
    "board": 6 + 2,
    "board_detail": 7 + 2,
    "summary_list": 12 + 2,
    "appeal_list": 12 + 2,
    "signoff_list": 5 + 2,
    "signoff": 10 + 2,
    "prepare": 11 + 2,  # (one of them: may its owner still see the summary?)
}


# --- data ---------------------------------------------------------------------------------


def _crowd(org: Org, size: int) -> list[Member]:
    """``size`` members of department B (reviewed by its leader)."""
    return [org.member(org.dept_b, f"acme-crowd-{i}") for i in range(size)]


def _pool(org: Org, rule: Any, members: list[Member]) -> list[DeclarationItem]:
    """One approved declaration item per member, waiting in the pending pool."""
    declarations = Declaration.objects.bulk_create(
        [
            Declaration(
                organisation=org.organisation,
                member=member,
                submitted_by=member.user,
                reviewer=org.leader_b.user,
                status=DeclarationStatus.APPROVED,
            )
            for member in members
        ]
    )
    return DeclarationItem.objects.bulk_create(
        [
            DeclarationItem(
                declaration=declaration,
                rule_item=rule,
                quantity=1,
                points=10 + i % 50,
                event_date=date(2026, 11, 10),
                place="二号车间",
                description=f"合理化建议 {i}",
                pool_month=date(2026, 11, 1),
            )
            for i, declaration in enumerate(declarations)
        ]
    )


def _summaries(org: Org, size: int, status: str, **fields: Any) -> list[Summary]:
    now = timezone.now()
    return Summary.objects.bulk_create(
        [
            Summary(
                organisation=org.organisation,
                scope=org.company,
                period_kind="month",
                period_start=date(2026, 11, 1) - timedelta(days=31 * i),
                period_end=date(2026, 11, 30) - timedelta(days=31 * i),
                status=status,
                created_by=org.hr.user,
                round=1,
                submitted_at=now,
                **fields,
            )
            for i in range(size)
        ]
    )


def _published_batches(org: Org, rule: Any, size: int) -> list[Summary]:
    """``size`` published summaries, each with one item under an open appeal."""
    now = timezone.now()
    summaries = _summaries(
        org,
        size,
        SummaryStatus.PUBLICITY,
        published_at=now,
        window_ends_at=now + timedelta(days=7),
    )
    members = _crowd(org, size)
    sources = _pool(org, rule, members)
    items = SummaryItem.objects.bulk_create(
        [
            SummaryItem(
                summary=summary,
                declaration_item=source,
                member=member,
                rule_item=rule,
                quantity=1,
                points=source.points,
                amount=source.points,
                event_date=source.event_date,
                approved_by=org.leader_b.user,
                status=ItemStatus.HELD,
            )
            for summary, source, member in zip(summaries, sources, members, strict=True)
        ]
    )
    _appeals(org, items)
    return summaries


def _appeals(org: Org, items: list[SummaryItem]) -> list[Appeal]:
    return Appeal.objects.bulk_create(
        [
            Appeal(
                organisation=org.organisation,
                item=item,
                appellant=org.worker_b,
                reason="并未被采纳",
                hr_due=timezone.now() + timedelta(days=3),
                status=AppealStatus.REEXAMINATION,
            )
            for item in items
        ]
    )


def _opened(org: Org, rule: Any, size: int) -> Summary:
    """A summary HR opened through the flow over ``size`` members' approved items."""
    _pool(org, rule, _crowd(org, size))
    response = _client(org.hr).post(SUMMARY_START, {"scope": org.company.pk, "on": "2026-11-20"})
    assert response.status_code == 302, response.content.decode()[:2000]
    summary = Summary.objects.get()
    assert summary.items.count() == size
    return summary


# --- measuring ----------------------------------------------------------------------------


def _measure(assert_max: Any, client: Any, url: str, budget: int) -> str:
    """GET ``url`` once to warm per-process caches, then again within ``budget``."""
    assert client.get(url).status_code == 200
    with assert_max(budget):
        response = client.get(url)
    assert response.status_code == 200
    body: str = response.content.decode()
    return body


@pytest.mark.parametrize("size", SIZES)
def test_publicity_board(
    org: Org, rule: Any, size: int, django_assert_max_num_queries: Any
) -> None:
    summaries = _published_batches(org, rule, size)
    body = _measure(
        django_assert_max_num_queries, _client(org.worker_b), "/publicity/board/", BUDGET["board"]
    )
    listed = {int(pk) for pk in re.findall(r'href="/publicity/board/(\d+)/"', body)}
    assert listed == {summary.pk for summary in summaries}


@pytest.mark.parametrize("size", SIZES)
def test_publicity_detail(
    org: Org, rule: Any, committee2: Any, size: int, django_assert_max_num_queries: Any
) -> None:
    summary = _opened(org, rule, size)
    _submit(org)
    assert _sign(org.committee, summary).status_code == 302
    assert _sign(committee2, summary).status_code == 302
    body = _measure(
        django_assert_max_num_queries,
        _client(org.worker_b),
        f"/publicity/board/{summary.pk}/",
        BUDGET["board_detail"],
    )
    assert len(re.findall(r'id="item-\d+"', body)) == size


@pytest.mark.parametrize("size", SIZES)
def test_summary_list(org: Org, size: int, django_assert_max_num_queries: Any) -> None:
    # Summaries without a flow process: the list's link to the process page fails on its
    # own (see test_publicity_permissions), which is not what is measured here.
    _summaries(org, size, SummaryStatus.DRAFT)
    body = _measure(
        django_assert_max_num_queries,
        _client(org.hr),
        "/publicity/summary/",
        BUDGET["summary_list"],
    )
    assert body.count("<tr>") - 1 == size


@pytest.mark.parametrize("size", SIZES)
def test_appeal_list(org: Org, rule: Any, size: int, django_assert_max_num_queries: Any) -> None:
    _pool(org, rule, _crowd(org, size))
    summary = summary_open(user=org.hr.user, scope=org.company, on=TODAY)
    Summary.objects.filter(pk=summary.pk).update(status=SummaryStatus.PUBLICITY)
    _appeals(org, list(summary.items.all()))
    for member in (org.hr, org.worker_b):
        body = _measure(
            django_assert_max_num_queries,
            _client(member),
            "/publicity/appeal/",
            BUDGET["appeal_list"],
        )
        assert body.count("<tr>") - 1 == size


@pytest.mark.parametrize("size", SIZES)
def test_signoff_list(org: Org, size: int, django_assert_max_num_queries: Any) -> None:
    summaries = _summaries(org, size, SummaryStatus.SIGNOFF)
    body = _measure(
        django_assert_max_num_queries,
        _client(org.committee),
        "/publicity/board/signoff/",
        BUDGET["signoff_list"],
    )
    assert body.count('href="/publicity/board/signoff/') == size
    assert f"/publicity/board/signoff/{summaries[0].pk}/" in body


@pytest.mark.parametrize("size", SIZES)
def test_signoff_page(
    org: Org, rule: Any, committee2: Any, size: int, django_assert_max_num_queries: Any
) -> None:
    summary = _opened(org, rule, size)
    _submit(org)
    assert _sign(committee2, summary).status_code == 302  # one vote in, one to go
    body = _measure(
        django_assert_max_num_queries,
        _client(org.committee),
        f"/publicity/board/signoff/{summary.pk}/",
        BUDGET["signoff"],
    )
    assert len(re.findall(r'id="item-\d+"', body)) == size


@pytest.mark.parametrize("size", SIZES)
def test_prepare_task(
    org: Org, rule: Any, committee2: Any, size: int, django_assert_max_num_queries: Any
) -> None:
    _opened(org, rule, size)
    url = _url("/publicity/summary/", _task(SummaryFlow, SummaryFlow.prepare))
    body = _measure(django_assert_max_num_queries, _client(org.hr), url, BUDGET["prepare"])
    assert len(re.findall(r'id="item-\d+"', body)) == size


def test_the_board_counts_each_item_once_whatever_its_appeals(org: Org, rule: Any) -> None:
    summary = _published_batches(org, rule, 1)[0]
    item = summary.items.get()  # under one open appeal
    for earlier in _appeals(org, [item, item]):  # after two that were ruled
        earlier.status = AppealStatus.RULED
        earlier.save(update_fields=["status"])
    body = _client(org.hr).get("/publicity/board/").content.decode()
    items, open_appeals = re.findall(r'class="pts-num">(\d+)<', body)
    assert (items, open_appeals) == ("1", "1")
