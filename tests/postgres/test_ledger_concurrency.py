"""20 threads post the same source at once: exactly one entry, and the totals are right."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection

from points.models import Account, LedgerEntry
from points.selectors.ledger import ledger_verify
from points.services.ledger import PostingItem, ledger_post_batch
from tests.conftest import Org

pytestmark = pytest.mark.postgres


def _hammer(org: Org, items: list[PostingItem], threads: int = 20) -> list[BaseException]:
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            ledger_post_batch(organisation=org.organisation, items=items, today=date(2026, 11, 20))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    return errors


def test_twenty_threads_posting_the_same_source_make_one_entry() -> None:
    org = Org("conc")
    item = PostingItem(
        member_id=org.worker_a1.pk,
        idempotency_key="declaration-item:42",
        effective_date=date(2026, 11, 10),
        amount=30,
    )
    assert _hammer(org, [item]) == []
    assert LedgerEntry.objects.filter(idempotency_key="declaration-item:42").count() == 1
    assert Account.objects.get(member=org.worker_a1).lifetime_total == 530
    assert ledger_verify() == []


def test_twenty_threads_posting_different_sources_for_one_member_lose_nothing() -> None:
    org = Org("conc2")
    barrier_items = [
        [
            PostingItem(
                member_id=org.worker_a1.pk,
                idempotency_key=f"k{n}",
                effective_date=date(2026, 11, 10),
                amount=1,
            )
        ]
        for n in range(20)
    ]
    errors: list[BaseException] = []
    threads = []
    barrier = threading.Barrier(20)

    def worker(items: list[PostingItem]) -> None:
        try:
            barrier.wait()
            ledger_post_batch(organisation=org.organisation, items=items, today=date(2026, 11, 20))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    for items in barrier_items:
        threads.append(threading.Thread(target=worker, args=(items,)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert Account.objects.get(member=org.worker_a1).lifetime_total == 520
    assert ledger_verify() == []
