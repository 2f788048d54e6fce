"""Edge cases found in review: each test fails without its fix."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from points.models import Account, Attendance, FixedPointRule, LedgerEntry, PeriodTotal
from points.selectors.ledger import member_vetoed, ranking_for_period
from points.services.accounts import (
    base_points_grant,
    fixed_points_post_month,
    member_leave,
    period_close,
)
from points.services.ledger import PostingRefused, ledger_reverse
from tests.conftest import Org
from tests.factories import RuleItemFactory

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 20)


def test_reversing_a_late_correction_books_in_the_open_month(org: Org, post: Any) -> None:
    period_close(organisation=org.organisation, month=date(2026, 10, 1))
    correction = post(
        org.worker_a1, 30, effective_date=date(2026, 10, 5), kind="correction", correction=True
    )
    [reversal] = ledger_reverse(entry=correction, reason="x", today=TODAY)
    assert reversal.booked_on == TODAY and reversal.corrects_month == date(2026, 10, 1)
    october = PeriodTotal.objects.filter(
        member=org.worker_a1, period_start=date(2026, 10, 1), period_kind="month"
    )
    assert not october.exists()


def test_a_reversed_false_declaration_does_not_use_up_the_cap(org: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation, kind="award", points_min=10, points_max=10, cap_per_day=10
    )
    fake = post(org.worker_a1, 10, kind="false_declaration", rule_item_id=rule.pk)
    ledger_reverse(entry=fake, reason="申诉成立", today=TODAY)
    post(org.worker_a1, 10, rule_item_id=rule.pk)  # the genuine claim is within the cap


def test_an_entry_with_an_existing_primary_key_is_never_an_update(org: Org, post: Any) -> None:
    entry = post(org.worker_a1, 10)
    clone = LedgerEntry(
        pk=entry.pk,
        organisation=org.organisation,
        member=org.worker_a1,
        kind="daily",
        amount=999,
        redeemable_delta=999,
        effective_date=TODAY,
        booked_on=TODAY,
        idempotency_key="clone",
        fingerprint="x",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()
    assert LedgerEntry.objects.get(pk=entry.pk).amount == 10


def test_base_points_stay_given_once_after_the_policy_changes(org: Org) -> None:
    policy = org.organisation.policy
    policy.base_points = 900
    policy.save()
    entry = base_points_grant(member=org.worker_a1)
    assert entry is not None and entry.amount == 500
    assert LedgerEntry.objects.filter(member=org.worker_a1, kind="base").count() == 1


def test_fixed_points_rerun_after_new_attendance_skips_what_was_posted(org: Org) -> None:
    FixedPointRule.objects.create(
        organisation=org.organisation, factor="seniority", value="", points=2
    )
    org.worker_a1.hire_date = date(2020, 1, 1)
    org.worker_a1.save()
    first = fixed_points_post_month(organisation=org.organisation, month=date(2026, 10, 1))
    assert first.posted_count >= 1
    Attendance.objects.create(
        member=org.worker_a1, month=date(2026, 10, 1), days_present=1, days_required=22
    )
    again = fixed_points_post_month(organisation=org.organisation, month=date(2026, 10, 1))
    assert again.posted_count == 0 and again.already_posted == first.posted_count


def test_fixed_points_wait_for_the_month_to_end(org: Org) -> None:
    from points.services.ledger import LedgerError

    with pytest.raises(LedgerError):
        fixed_points_post_month(organisation=org.organisation, month=date(2026, 11, 1))


def test_a_veto_counts_in_the_week_it_happened(org: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation, kind="deduction", points_min=50, points_max=50, veto=True
    )
    post(org.worker_a1, -50, rule_item_id=rule.pk, effective_date=date(2026, 11, 11))
    assert member_vetoed(member=org.worker_a1, kind="week", start=date(2026, 11, 11))
    assert not member_vetoed(member=org.worker_a1, kind="week", start=date(2026, 11, 3))


def test_a_vetoed_member_cannot_redeem(org: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation, kind="deduction", points_min=50, points_max=50, veto=True
    )
    post(org.worker_a1, -50, rule_item_id=rule.pk, effective_date=date(2026, 11, 11))
    with pytest.raises(PostingRefused, match="一票否决") as refused:
        post(org.worker_a1, -100, kind="redemption")
    assert refused.value.code == "vetoed"
    assert Account.objects.get(member=org.worker_a1).redeemable == 450


def test_an_entry_can_be_reversed_after_the_leader_left(org: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation,
        kind="award",
        points_min=20,
        points_max=20,
        leader_coaward_ratio=Decimal("0.5"),
    )
    entry = post(org.worker_a1, 20, rule_item_id=rule.pk)
    member_leave(member=org.leader_a1, left_on=TODAY, today=TODAY)
    ledger_reverse(entry=entry, reason="x", today=TODAY)
    assert Account.objects.get(member=org.worker_a1).lifetime_total == 500


def test_a_reset_does_not_wipe_the_period_rankings(org: Org, post: Any) -> None:
    post(org.worker_a1, 80)
    member_leave(member=org.worker_a1, left_on=TODAY, today=TODAY)
    rows = ranking_for_period(organisation=org.organisation, kind="month", start=TODAY)
    assert {r.member_id: r.total for r in rows}[org.worker_a1.pk] == 580


def test_bad_arguments_are_refused(org: Org, post: Any) -> None:
    with pytest.raises(ValueError):
        ranking_for_period(organisation=org.organisation, kind="month", start=TODAY, top=0)
    with pytest.raises(ValueError):
        post(org.worker_a1, 5, idempotency_key="k" * 181)
