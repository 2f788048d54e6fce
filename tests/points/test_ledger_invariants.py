"""The ledger's invariants (DESIGN.md): append-only, reversal once, idempotency, integer
points with their rule value, totals equal to the entries, closed months."""

from __future__ import annotations

from datetime import date
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from points.models import Account, AppendOnlyError, AuditEvent, LedgerEntry, PeriodTotal
from points.selectors.ledger import member_statement
from points.services.accounts import period_close
from points.services.ledger import (
    LedgerConflict,
    LedgerError,
    PostingItem,
    PostingRefused,
    ledger_post,
    ledger_reverse,
)
from tests.conftest import Org
from tests.factories import RuleItemFactory

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 20)


# --- 1. append-only ----------------------------------------------------------------------


def test_orm_refuses_to_change_or_remove_an_entry(org: Org, post: Any) -> None:
    entry = post(org.worker_a1, 10)
    entry.amount = 1000
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=1000)
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AppendOnlyError):
        LedgerEntry.objects.bulk_update([entry], ["amount"])
    assert LedgerEntry.objects.get(pk=entry.pk).amount == 10


def test_admin_cannot_change_or_delete_entries(org: Org, post: Any, admin_client: Any) -> None:
    entry = post(org.worker_a1, 10)
    assert admin_client.get(f"/admin/points/ledgerentry/{entry.pk}/change/").status_code == 200
    response = admin_client.post(f"/admin/points/ledgerentry/{entry.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.postgres
def test_postgres_trigger_rejects_update_and_delete(org: Org, post: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL only; make test runs this on PostgreSQL")
    entry = post(org.worker_a1, 10)
    for sql in (
        "UPDATE points_ledgerentry SET amount = 99 WHERE id = %s",
        "DELETE FROM points_ledgerentry WHERE id = %s",
    ):
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).amount == 10


# --- 2. reversal -------------------------------------------------------------------------


def test_reversal_names_its_entry_and_restores_totals(org: Org, post: Any) -> None:
    entry = post(org.worker_a1, 30)
    [reversal] = ledger_reverse(entry=entry, reason="录入错误", today=TODAY)
    assert reversal.reverses == entry and reversal.amount == -30 and reversal.kind == "reversal"
    account = Account.objects.get(member=org.worker_a1)
    assert account.lifetime_total == 500  # base points only
    with pytest.raises(LedgerError):
        ledger_reverse(entry=entry, reason="again", today=TODAY)


def test_the_audit_row_names_the_reversed_entry_in_words(org: Org, post: Any) -> None:
    """The audit log's "object" column reads as words, not as ids and codes."""
    entry = post(org.worker_a1, 30)
    ledger_reverse(entry=entry, reason="录入错误", today=TODAY)
    audit = AuditEvent.objects.get(action="ledger.reverse")
    assert audit.object_repr == f"#{entry.pk} {entry.get_kind_display()} +30 ({entry.booked_on})"
    assert entry.get_kind_display() != entry.kind  # in the organisation's words


def test_database_stops_a_second_reversal(org: Org, post: Any) -> None:
    entry = post(org.worker_a1, 30)
    ledger_reverse(entry=entry, reason="x", today=TODAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            organisation=org.organisation,
            member=org.worker_a1,
            kind="reversal",
            amount=-30,
            redeemable_delta=-30,
            effective_date=TODAY,
            booked_on=TODAY,
            idempotency_key="sneaky",
            fingerprint="x",
            reverses=entry,
        )


def test_a_reversal_cannot_be_reversed(org: Org, post: Any) -> None:
    [reversal] = ledger_reverse(entry=post(org.worker_a1, 30), reason="x", today=TODAY)
    with pytest.raises(LedgerError):
        ledger_reverse(entry=reversal, reason="y", today=TODAY)


# --- 3. idempotency ----------------------------------------------------------------------


def test_same_key_same_content_returns_the_existing_entry(org: Org, post: Any) -> None:
    first = post(org.worker_a1, 10, idempotency_key="declaration-item:1")
    again = post(org.worker_a1, 10, idempotency_key="declaration-item:1")
    assert again.pk == first.pk
    assert LedgerEntry.objects.filter(idempotency_key="declaration-item:1").count() == 1
    assert Account.objects.get(member=org.worker_a1).lifetime_total == 510


def test_same_key_different_content_is_a_conflict(org: Org, post: Any) -> None:
    post(org.worker_a1, 10, idempotency_key="declaration-item:1")
    with pytest.raises(LedgerConflict, match="declaration-item:1"):
        post(org.worker_a1, 20, idempotency_key="declaration-item:1")
    assert Account.objects.get(member=org.worker_a1).lifetime_total == 510


def test_database_enforces_unique_keys(org: Org, post: Any) -> None:
    entry = post(org.worker_a1, 10, idempotency_key="k")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            organisation=org.organisation,
            member=org.worker_a1,
            kind="daily",
            amount=10,
            redeemable_delta=10,
            effective_date=TODAY,
            booked_on=TODAY,
            idempotency_key=entry.idempotency_key,
            fingerprint="x",
        )


# --- 4. integers with the rule's value of the time ------------------------------------


def test_entry_keeps_the_rule_value_and_who_approved(org: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation, kind="award", points_min=10, points_max=50
    )
    entry = post(org.worker_a1, 30, rule_item_id=rule.pk, approved_by_id=org.leader_a1.user.pk)
    rule.points_min, rule.points_max = 20, 80
    rule.save()
    entry.refresh_from_db()
    assert (entry.rule_points_min, entry.rule_points_max) == (10, 50)
    assert entry.approved_by == org.leader_a1.user and entry.approved_at is not None
    assert isinstance(entry.amount, int)


# --- 5. totals -----------------------------------------------------------------------


def test_totals_follow_every_entry(org: Org, post: Any) -> None:
    post(org.worker_a1, 30, effective_date=date(2026, 11, 2))
    post(org.worker_a1, -5, effective_date=date(2026, 11, 9))
    post(org.worker_a1, 7, effective_date=date(2026, 10, 30))
    account = Account.objects.get(member=org.worker_a1)
    assert account.lifetime_total == 532 and account.redeemable == 532
    totals = {
        (t.period_kind, t.period_start): t.total
        for t in PeriodTotal.objects.filter(member=org.worker_a1)
    }
    assert totals[("month", date(2026, 11, 1))] == 525  # base points booked on 2026-11-20
    assert totals[("month", date(2026, 10, 1))] == 7
    assert totals[("quarter", date(2026, 10, 1))] == 532
    assert totals[("year", date(2026, 1, 1))] == 532
    # Week totals are not kept: a week is summed from its entries.
    assert not any(kind == "week" for kind, _start in totals)
    week = member_statement(member=org.worker_a1, kind="week", on=date(2026, 11, 4))
    assert week.totals["week"] == 30 and week.totals["month"] == 525


def test_only_month_quarter_and_year_totals_can_be_stored(org: Org, post: Any) -> None:
    post(org.worker_a1, 30, effective_date=date(2026, 11, 2))
    with pytest.raises(IntegrityError), transaction.atomic():
        PeriodTotal.objects.create(
            organisation=org.organisation,
            member=org.worker_a1,
            period_kind="week",
            period_start=date(2026, 11, 2),
            total=30,
        )


def test_points_verify_passes_and_names_each_mismatch(org: Org, post: Any) -> None:
    post(org.worker_a1, 30)
    out = StringIO()
    call_command("points_verify", stdout=out)
    assert "verified" in out.getvalue()

    Account.objects.filter(member=org.worker_a1).update(lifetime_total=1)
    PeriodTotal.objects.filter(member=org.worker_b, period_kind="month").update(total=7)
    err = StringIO()
    with pytest.raises(CommandError, match=r"total\(s\) differ"):
        call_command("points_verify", stdout=StringIO(), stderr=err)
    assert f"member {org.worker_a1.pk}" in err.getvalue()
    assert f"month total of member {org.worker_b.pk}" in err.getvalue()


def test_every_posting_writes_an_audit_row(org: Org, post: Any) -> None:
    before = AuditEvent.objects.filter(action="ledger.post").count()
    post(org.worker_a1, 30)
    assert AuditEvent.objects.filter(action="ledger.post").count() == before + 1
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


# --- 6. closed months --------------------------------------------------------------------


def test_a_closed_month_accepts_no_entries(org: Org, post: Any) -> None:
    period_close(organisation=org.organisation, month=date(2026, 10, 1))
    with pytest.raises(PostingRefused, match="2026-10") as refused:
        post(org.worker_a1, 10, effective_date=date(2026, 10, 15))
    assert refused.value.code == "period_closed"
    assert not LedgerEntry.objects.filter(effective_date=date(2026, 10, 15)).exists()


def test_a_late_correction_lands_in_the_open_month_and_names_the_closed_one(
    org: Org, post: Any
) -> None:
    period_close(organisation=org.organisation, month=date(2026, 10, 1))
    entry = post(
        org.worker_a1, 10, effective_date=date(2026, 10, 15), correction=True, kind="correction"
    )
    assert entry.booked_on == TODAY and entry.corrects_month == date(2026, 10, 1)
    october = PeriodTotal.objects.filter(
        member=org.worker_a1, period_kind="month", period_start=date(2026, 10, 1)
    )
    assert not october.exists()
    # A correction must name an earlier month than the open one.
    with pytest.raises(PostingRefused, match="早于当前开放月份") as refused:
        post(org.worker_a1, 10, effective_date=TODAY, correction=True, kind="correction")
    assert refused.value.code == "correction_in_open_month"


def test_reversing_an_entry_of_a_closed_month_books_in_the_open_month(org: Org, post: Any) -> None:
    entry = post(org.worker_a1, 10, effective_date=date(2026, 10, 15), today=date(2026, 10, 20))
    period_close(organisation=org.organisation, month=date(2026, 10, 1))
    [reversal] = ledger_reverse(entry=entry, reason="x", today=TODAY)
    assert reversal.booked_on == TODAY and reversal.corrects_month == date(2026, 10, 1)


def test_only_an_ended_month_can_be_closed_and_only_once(org: Org) -> None:
    with pytest.raises(LedgerError):
        period_close(organisation=org.organisation, month=date(2999, 1, 1))
    period_close(organisation=org.organisation, month=date(2026, 10, 1))
    with pytest.raises(LedgerError, match="已经关闭"):
        period_close(organisation=org.organisation, month=date(2026, 10, 1))


def test_bad_member_or_duplicate_keys_write_nothing(org: Org, other_org: Org) -> None:
    from points.services.ledger import ledger_post_batch

    count = LedgerEntry.objects.count()
    with pytest.raises(ValueError):
        ledger_post_batch(
            organisation=org.organisation,
            items=[
                PostingItem(
                    member_id=other_org.worker_b.pk,
                    idempotency_key="x",
                    effective_date=TODAY,
                    amount=5,
                )
            ],
            today=TODAY,
        )
    with pytest.raises(ValueError):
        ledger_post_batch(
            organisation=org.organisation,
            items=[
                PostingItem(
                    member_id=org.worker_b.pk, idempotency_key="y", effective_date=TODAY, amount=5
                )
            ]
            * 2,
            today=TODAY,
        )
    assert LedgerEntry.objects.count() == count
    assert ledger_post is not None
