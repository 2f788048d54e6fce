"""Random posts, reversals, closes, leaves and resets: after every step every total equals
the sum of its entries, and no idempotency key appears twice."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Count, Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from points.models import LedgerEntry, Member
from points.periods import period_end, period_start
from points.selectors.ledger import ledger_verify, member_statement, ranking_for_period
from points.services.accounts import member_leave, period_close, year_end_reset
from points.services.ledger import LedgerError, PostingItem, ledger_post_batch, ledger_reverse
from tests.conftest import Org

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 20)
DAYS = st.sampled_from(
    [
        date(2026, 9, 8),
        date(2026, 10, 13),
        date(2026, 10, 31),
        date(2026, 11, 2),
        date(2026, 11, 19),
    ]
)


class LedgerMachine(RuleBasedStateMachine):
    org: Org

    @initialize()
    def begin(self) -> None:
        self.savepoint = transaction.savepoint()
        self.members = list(Member.objects.filter(organisation=self.org.organisation)[:5])
        self.keys: list[PostingItem] = []
        self.counter = 0

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    @rule(
        index=st.integers(0, 4),
        amount=st.integers(-300, 300).filter(bool),
        day=DAYS,
        kind=st.sampled_from(["daily", "daily", "false_declaration", "redemption"]),
        correction=st.booleans(),
    )
    def post(self, index: int, amount: int, day: date, kind: str, correction: bool) -> None:
        self.counter += 1
        item = PostingItem(
            member_id=self.members[index].pk,
            idempotency_key=f"s:{self.counter}",
            effective_date=day,
            amount=amount,
            kind=kind,
            correction=correction and day.month != TODAY.month,
        )
        result = ledger_post_batch(organisation=self.org.organisation, items=[item], today=TODAY)
        if result.posted:
            self.keys.append(item)

    @rule(data=st.data())
    def replay(self, data: Any) -> None:
        if self.keys:
            item = data.draw(st.sampled_from(self.keys))
            result = ledger_post_batch(
                organisation=self.org.organisation, items=[item], today=TODAY
            )
            assert len(result.existing) == 1 and not result.posted

    @rule(data=st.data())
    def reverse(self, data: Any) -> None:
        candidates = list(
            LedgerEntry.objects.filter(reversals__isnull=True, linked_to__isnull=True)
            .exclude(kind="reversal")
            .values_list("pk", flat=True)[:50]
        )
        if candidates:
            entry = LedgerEntry.objects.get(pk=data.draw(st.sampled_from(candidates)))
            try:
                ledger_reverse(entry=entry, reason="random", today=TODAY)
            except LedgerError:
                pass  # e.g. the member left and the account is frozen

    @rule(month=st.sampled_from([date(2026, 9, 1), date(2026, 10, 1)]))
    def close(self, month: date) -> None:
        try:
            period_close(organisation=self.org.organisation, month=month)
        except LedgerError:
            pass  # already closed

    @rule(index=st.integers(0, 4))
    def leave(self, index: int) -> None:
        member_leave(member=self.members[index], left_on=TODAY, today=TODAY)

    @rule()
    def reset(self) -> None:
        policy = self.org.organisation.policy
        policy.year_end_reset = True
        policy.save()
        year_end_reset(organisation=self.org.organisation, year=2026, today=TODAY)

    @invariant()
    def totals_equal_entries(self) -> None:
        if hasattr(self, "members"):
            assert ledger_verify() == []

    @invariant()
    def statements_agree_with_the_entries_and_rankings(self) -> None:
        """Week figures are summed from the entries, the others read the kept totals: a
        statement's total is its entries' sum, and its rank is the ranking's."""
        if not hasattr(self, "members"):
            return
        for kind, on in (("week", date(2026, 11, 19)), ("month", TODAY), ("quarter", TODAY)):
            begin, end = period_start(kind, on), period_end(kind, period_start(kind, on))
            ranks = {
                row.member_id: row.rank
                for row in ranking_for_period(
                    organisation=self.org.organisation, kind=kind, start=on
                )
            }
            for member in self.members[:3]:
                statement = member_statement(member=member, kind=kind, on=on, limit=0)
                entries = LedgerEntry.objects.filter(
                    member=member, in_period_totals=True, booked_on__gte=begin, booked_on__lte=end
                )
                assert statement.totals[kind] == (entries.aggregate(s=Sum("amount"))["s"] or 0)
                if member.pk in ranks:
                    assert statement.rank_in_organisation == ranks[member.pk]

    @invariant()
    def keys_are_unique(self) -> None:
        duplicates = (
            LedgerEntry.objects.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1)
        )
        assert not duplicates.exists()


def test_ledger_state_machine(org: Org) -> None:
    LedgerMachine.org = org
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
