"""The posting service's rules: caps, leader co-award, veto, false declaration, redeemable
balance, base and fixed points, leaving and resets."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from points.models import (
    Account,
    Attendance,
    FixedPointRule,
    LedgerEntry,
    Member,
    PeriodTotal,
    Veto,
)
from points.selectors.ledger import member_vetoed, vetoed_member_ids
from points.services.accounts import member_leave, year_end_reset
from points.services.ledger import (
    LedgerError,
    PostingItem,
    PostingRefused,
    ledger_post_batch,
    ledger_reverse,
)
from points.tasks import post_fixed_points_for_last_month
from tests.conftest import Org
from tests.factories import MemberFactory, RuleItemFactory

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 20)


def _account(member: Member) -> Account:
    return Account.objects.get(member=member)


# --- caps ---------------------------------------------------------------------------------


def test_items_over_the_daily_cap_are_refused_with_a_reason(org: Org) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation,
        kind="award",
        points_min=5,
        points_max=5,
        cap_per_day=10,
        name="好人好事",
    )
    items = [
        PostingItem(
            member_id=org.worker_a1.pk,
            idempotency_key=f"d{n}",
            effective_date=date(2026, 11, 10),
            amount=5,
            rule_item_id=rule.pk,
        )
        for n in range(3)
    ] + [
        PostingItem(
            member_id=org.worker_a1.pk,
            idempotency_key="next-day",
            effective_date=date(2026, 11, 11),
            amount=5,
            rule_item_id=rule.pk,
        )
    ]
    result = ledger_post_batch(organisation=org.organisation, items=items, today=TODAY)
    assert [e.idempotency_key for e in result.posted] == ["d0", "d1", "next-day"]
    [(refused, reason)] = result.refused
    assert refused.idempotency_key == "d2"
    assert "每日上限" in reason and "好人好事" in reason
    assert reason.code == "over_daily_cap"
    assert _account(org.worker_a1).lifetime_total == 515  # not trimmed to fit


def test_monthly_cap_counts_what_is_already_in_the_ledger(org: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation,
        kind="deduction",
        points_min=5,
        points_max=50,
        cap_per_month=60,
    )
    post(org.worker_a1, -50, rule_item_id=rule.pk, effective_date=date(2026, 11, 3))
    with pytest.raises(PostingRefused, match="每月上限") as refused:
        post(org.worker_a1, -20, rule_item_id=rule.pk, effective_date=date(2026, 11, 4))
    assert refused.value.code == "over_monthly_cap"
    post(org.worker_a1, -20, rule_item_id=rule.pk, effective_date=date(2026, 10, 4))


def test_a_reversed_entry_no_longer_counts_against_the_cap(org: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation, kind="award", points_min=10, points_max=10, cap_per_day=10
    )
    entry = post(org.worker_a1, 10, rule_item_id=rule.pk)
    ledger_reverse(entry=entry, reason="x", today=TODAY)
    post(org.worker_a1, 10, rule_item_id=rule.pk)


# --- leader co-award -----------------------------------------------------------------


def test_the_unit_leader_gains_and_loses_alongside_as_a_linked_entry(org: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation,
        kind="award",
        points_min=50,
        points_max=50,
        leader_coaward_ratio=Decimal("0.5"),
    )
    entry = post(org.worker_a1, 50, rule_item_id=rule.pk)
    [coaward] = entry.linked_entries.all()
    assert coaward.member == org.leader_a1 and coaward.amount == 25 and coaward.kind == "coaward"
    assert coaward.idempotency_key == f"{entry.idempotency_key}:coaward"
    assert _account(org.leader_a1).lifetime_total == 525

    penalty = RuleItemFactory(
        organisation=org.organisation,
        kind="deduction",
        points_min=5,
        points_max=5,
        leader_coaward_ratio=Decimal("0.5"),
    )
    post(org.worker_a1, -5, rule_item_id=penalty.pk)
    assert _account(org.leader_a1).lifetime_total == 522  # −2.5 rounds half away to −3

    # Reversing the member's entry reverses the leader's share too.
    ledger_reverse(entry=entry, reason="x", today=TODAY)
    assert _account(org.leader_a1).lifetime_total == 497


def test_a_leader_earns_no_co_award_on_their_own_entry(org: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation,
        kind="award",
        points_min=50,
        points_max=50,
        leader_coaward_ratio=Decimal("0.5"),
    )
    entry = post(org.leader_a1, 50, rule_item_id=rule.pk)
    assert not entry.linked_entries.exists()


# --- veto --------------------------------------------------------------------------------


def test_a_veto_bars_the_period_but_points_still_accrue(org: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation, kind="deduction", points_min=100, points_max=100, veto=True
    )
    entry = post(org.worker_a1, -100, rule_item_id=rule.pk, effective_date=date(2026, 11, 5))
    post(org.worker_a1, 30, effective_date=date(2026, 11, 6))
    assert _account(org.worker_a1).lifetime_total == 430
    assert Veto.objects.get(member=org.worker_a1).month == date(2026, 11, 1)
    for kind in ("month", "quarter", "year"):
        assert member_vetoed(member=org.worker_a1, kind=kind, start=date(2026, 11, 1))
    assert not member_vetoed(member=org.worker_a1, kind="month", start=date(2026, 10, 1))
    assert vetoed_member_ids(
        organisation=org.organisation, kind="month", start=date(2026, 11, 1)
    ) == {org.worker_a1.pk}
    ledger_reverse(entry=entry, reason="裁定撤销", today=TODAY)
    assert not member_vetoed(member=org.worker_a1, kind="month", start=date(2026, 11, 1))


# --- false declaration ----------------------------------------------------------------


def test_a_false_declaration_deducts_double(org: Org, post: Any) -> None:
    entry = post(org.worker_a1, 40, kind="false_declaration")
    assert entry.amount == -80
    assert _account(org.worker_a1).lifetime_total == 420


# --- redeemable balance and the HR review flag -----------------------------------------


def test_deductions_never_take_the_redeemable_balance_below_zero(org: Org, post: Any) -> None:
    entry = post(org.worker_a1, -600)
    account = _account(org.worker_a1)
    assert entry.redeemable_delta == -500
    assert (account.lifetime_total, account.redeemable) == (-100, 0)
    assert account.flagged_for_review  # balance fell to zero or below (coal mine scheme)
    ledger_reverse(entry=entry, reason="x", today=TODAY)
    account.refresh_from_db()
    assert (account.lifetime_total, account.redeemable) == (500, 500)


def test_redemption_spends_the_balance_but_not_the_ranking_by_default(org: Org, post: Any) -> None:
    entry = post(org.worker_a1, -200, kind="redemption")
    account = _account(org.worker_a1)
    assert (entry.amount, entry.redeemable_delta) == (0, -200)
    assert (account.lifetime_total, account.redeemable) == (500, 300)
    with pytest.raises(PostingRefused, match="300") as refused:
        post(org.worker_a1, -400, kind="redemption")
    assert refused.value.code == "insufficient_points"

    policy = org.organisation.policy
    policy.redemption_lowers_ranking = True
    policy.save()
    org.worker_a1.organisation.refresh_from_db()
    post(org.worker_b, -100, kind="redemption")
    assert _account(org.worker_b).lifetime_total == 400


# --- base and fixed points --------------------------------------------------------------


def test_base_points_are_given_once_on_joining(org: Org) -> None:
    member = MemberFactory(organisation=org.organisation, unit=org.dept_b)
    [entry] = LedgerEntry.objects.filter(member=member)
    assert (entry.kind, entry.amount, entry.idempotency_key) == ("base", 500, f"base:{member.pk}")
    from points.services.accounts import base_points_grant

    base_points_grant(member=member)
    assert LedgerEntry.objects.filter(member=member).count() == 1


def test_base_points_follow_the_policy(org: Org) -> None:
    policy = org.organisation.policy
    policy.base_points = 800
    policy.save()
    member = MemberFactory(organisation=org.organisation, unit=org.dept_b)
    assert _account(member).lifetime_total == 800


@pytest.fixture
def fixed_table(org: Org) -> None:
    for factor, value, points in [
        ("education", "bachelor", 30),
        ("title", "中级职称", 20),
        ("position", "组长", 50),
        ("skill", "技师", 25),
        ("seniority", "", 2),
    ]:
        FixedPointRule.objects.create(
            organisation=org.organisation, factor=factor, value=value, points=points
        )
    m = org.worker_a1
    m.education, m.title, m.position, m.skill_level = "bachelor", "中级职称", "组长", "技师"
    m.hire_date = date(2016, 3, 1)
    m.save()


def _fixed(member: Member, month: str) -> int:
    entries = LedgerEntry.objects.filter(
        member=member, kind="fixed", idempotency_key__startswith=f"fixed:{month}:"
    )
    assert entries.count() <= 1
    return sum(e.amount for e in entries)


@pytest.mark.usefixtures("fixed_table")
def test_fixed_points_by_table_and_seniority_posted_once(org: Org) -> None:
    out = StringIO()
    call_command("post_fixed_points", "--month", "2026-10", stdout=out)
    call_command("post_fixed_points", "--month", "2026-10", stdout=out)
    assert _fixed(org.worker_a1, "2026-10") == 30 + 20 + 50 + 25 + 2 * 10
    assert "already posted" in out.getvalue()


@pytest.mark.usefixtures("fixed_table")
def test_fixed_points_are_pro_rated_by_attendance(org: Org) -> None:
    Attendance.objects.create(
        member=org.worker_a1, month=date(2026, 10, 1), days_present=11, days_required=22
    )
    call_command("post_fixed_points", "--month", "2026-10", stdout=StringIO())
    assert _fixed(org.worker_a1, "2026-10") == 73  # 145 × 11/22 = 72.5 → 73


def test_fixed_points_command_rejects_a_bad_month(org: Org) -> None:
    with pytest.raises(CommandError, match="2026-13"):
        call_command("post_fixed_points", "--month", "2026-13")


@pytest.mark.usefixtures("fixed_table")
def test_celery_beat_task_posts_last_month_once(org: Org, settings: Any) -> None:
    assert "post-fixed-points-monthly" in settings.CELERY_BEAT_SCHEDULE
    post_fixed_points_for_last_month.delay()
    post_fixed_points_for_last_month.delay()
    keys = LedgerEntry.objects.filter(member=org.worker_a1, kind="fixed")
    assert keys.count() == 1


# --- leaving and resets -----------------------------------------------------------------


def test_a_member_who_leaves_is_frozen_and_cleared_by_a_reset_entry(org: Org, post: Any) -> None:
    post(org.worker_a1, 70)
    member_leave(member=org.worker_a1, left_on=date(2026, 11, 15), today=TODAY)
    org.worker_a1.refresh_from_db()
    account = _account(org.worker_a1)
    assert org.worker_a1.status == "left" and account.frozen
    assert (account.lifetime_total, account.redeemable) == (0, 0)
    reset = LedgerEntry.objects.get(member=org.worker_a1, kind="reset")
    assert reset.amount == -570
    assert LedgerEntry.objects.filter(member=org.worker_a1).count() == 3  # nothing deleted
    with pytest.raises(PostingRefused, match="冻结") as refused:
        post(org.worker_a1, 5)
    assert refused.value.code == "account_frozen"


def test_leaving_without_clearing_keeps_the_points(org: Org) -> None:
    policy = org.organisation.policy
    policy.clear_on_leave = False
    policy.save()
    member_leave(member=org.worker_b, left_on=date(2026, 11, 15), today=TODAY)
    assert _account(org.worker_b).lifetime_total == 500
    assert _account(org.worker_b).frozen


def test_year_end_reset_is_a_policy(org: Org, post: Any) -> None:
    with pytest.raises(LedgerError):
        year_end_reset(organisation=org.organisation, year=2026, today=date(2026, 12, 31))
    policy = org.organisation.policy
    policy.year_end_reset = True
    policy.save()
    post(org.worker_a1, 40, effective_date=date(2026, 12, 1), today=date(2026, 12, 31))
    year_end_reset(organisation=org.organisation, year=2026, today=date(2026, 12, 31))
    year_end_reset(organisation=org.organisation, year=2026, today=date(2026, 12, 31))
    assert _account(org.worker_a1).lifetime_total == 0
    assert LedgerEntry.objects.filter(member=org.worker_a1, kind="reset").count() == 1
    # A reset clears the balance, not what the year earned: rankings keep it.
    year = PeriodTotal.objects.get(
        member=org.worker_a1, period_kind="year", period_start=date(2026, 1, 1)
    )
    assert year.total == 540


def test_a_year_end_reset_keeps_points_booked_after_the_year(org: Org, post: Any) -> None:
    policy = org.organisation.policy
    policy.year_end_reset = True
    policy.save()
    post(org.worker_a1, 70, effective_date=date(2027, 1, 2), today=date(2027, 1, 3))
    year_end_reset(organisation=org.organisation, year=2026, today=date(2027, 1, 3))
    assert _account(org.worker_a1).lifetime_total == 70
    january = PeriodTotal.objects.get(
        member=org.worker_a1, period_kind="month", period_start=date(2027, 1, 1)
    )
    assert january.total == 70


# --- the bulk paths --------------------------------------------------------------------------


def test_keys_with_quotes_backslashes_and_commas_replay_idempotently(org: Org) -> None:
    """On PostgreSQL the keys travel as one array literal: every character must survive."""
    keys = ['a"b', "c\\d", "e,f", "{g}", "h i", "NULL", "点数:1", 'x\\"y', "'z'"]
    items = [
        PostingItem(
            member_id=org.worker_a1.pk,
            idempotency_key=key,
            effective_date=date(2026, 11, 10),
            amount=n + 1,
        )
        for n, key in enumerate(keys)
    ]
    first = ledger_post_batch(organisation=org.organisation, items=items, today=TODAY)
    assert sorted(e.idempotency_key for e in first.posted) == sorted(keys)
    again = ledger_post_batch(organisation=org.organisation, items=items, today=TODAY)
    assert again.posted == [] and [e.idempotency_key for e in again.existing] == keys
    assert _account(org.worker_a1).lifetime_total == 500 + sum(range(1, len(keys) + 1))


def test_a_large_batch_pauses_the_garbage_collector_and_restores_it(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    from points.services import ledger

    monkeypatch.setattr(ledger, "GC_PAUSE_MIN_ITEMS", 2)
    seen: list[bool] = []
    original = ledger._post_batch

    def spy(**kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return original(**kwargs)

    monkeypatch.setattr(ledger, "_post_batch", spy)
    item = PostingItem(
        member_id=org.worker_a1.pk, idempotency_key="gc", effective_date=TODAY, amount=1
    )
    twice = [item, replace(item, idempotency_key="gc2")]
    assert gc.isenabled()
    ledger_post_batch(organisation=org.organisation, items=twice, today=TODAY)
    ledger_post_batch(organisation=org.organisation, items=[item], today=TODAY)
    assert seen == [False, True] and gc.isenabled()
    with pytest.raises(ValueError, match="duplicate"):
        ledger_post_batch(organisation=org.organisation, items=[item, item], today=TODAY)
    assert gc.isenabled()  # restored after a refusal too
    gc.disable()
    try:
        ledger_post_batch(organisation=org.organisation, items=twice, today=TODAY)
        assert not gc.isenabled()  # a caller's own pause is left alone
    finally:
        gc.enable()
