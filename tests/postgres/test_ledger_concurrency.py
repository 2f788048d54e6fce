"""20 threads post at once: the same source gives exactly one entry, different sources
for one member lose nothing, and the totals are right."""

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


def _in_parallel(org: Org, batches: list[list[PostingItem]]) -> list[BaseException]:
    """Post each batch from its own thread (own connection), all released at once."""
    barrier = threading.Barrier(len(batches), timeout=60)
    errors: list[BaseException] = []

    def worker(items: list[PostingItem]) -> None:
        try:
            barrier.wait()
            ledger_post_batch(organisation=org.organisation, items=items, today=date(2026, 11, 20))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(batch,), daemon=True) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a posting is stuck"
    return errors


def test_twenty_threads_posting_the_same_source_make_one_entry() -> None:
    org = Org("conc")
    item = PostingItem(
        member_id=org.worker_a1.pk,
        idempotency_key="declaration-item:42",
        effective_date=date(2026, 11, 10),
        amount=30,
    )
    assert _in_parallel(org, [[item]] * 20) == []
    assert LedgerEntry.objects.filter(idempotency_key="declaration-item:42").count() == 1
    assert Account.objects.get(member=org.worker_a1).lifetime_total == 530
    assert ledger_verify() == []


def test_twenty_threads_posting_different_sources_for_one_member_lose_nothing() -> None:
    org = Org("conc2")
    batches = [
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
    assert _in_parallel(org, batches) == []
    assert Account.objects.get(member=org.worker_a1).lifetime_total == 520
    assert ledger_verify() == []
