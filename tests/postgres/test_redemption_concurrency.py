"""20 members redeem the last 5 items at the same moment, each from their own thread and
connection through the request page: exactly 5 requests succeed (and are then approved
and fulfilled), 15 are refused; the stock ends at 0, never below, and every balance and
total is right."""

from __future__ import annotations

import threading
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from flows.flows import RedemptionFlow
from flows.models import Redemption, RedemptionStatus
from points.models import Account, EntryKind, LedgerEntry, Member, Reward
from points.selectors.ledger import ledger_verify
from tests.conftest import Org
from tests.factories import TEST_PASSWORD
from tests.flows.test_redemption import _decide
from tests.postgres.at_once import Answers, Requests, rounds_at_once

pytestmark = pytest.mark.postgres

START = "/shop/redemption/start/"


def _logged_in(member: Member) -> Client:
    client = Client()
    assert client.login(username=member.user.username, password=TEST_PASSWORD)
    return client


def test_twenty_members_redeem_the_last_five_items_at_once() -> None:
    org = Org("shop")
    members = [org.member(org.team_a1, f"shop-buyer-{n}") for n in range(20)]
    reward = Reward.objects.create(
        organisation=org.organisation, name="保温杯", points_cost=100, stock=5
    )
    clients = [_logged_in(member) for member in members]
    connection.close()  # each thread opens its own connection
    barrier = threading.Barrier(len(clients), timeout=60)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def worker(client: Client) -> None:
        try:
            barrier.wait()
            response = client.post(START, {"reward": reward.pk, "note": ""})
            statuses.append(response.status_code)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(client,), daemon=True) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a redemption is stuck"
    assert errors == []
    assert sorted(statuses) == [200] * 15 + [302] * 5  # 200: the page with the refusal
    reward.refresh_from_db()
    assert reward.stock == 0
    redemptions = list(Redemption.objects.select_related("member"))
    assert len(redemptions) == 5
    assert LedgerEntry.objects.filter(kind=EntryKind.REDEMPTION).count() == 5
    buyers = {r.member_id for r in redemptions}
    balances: dict[int, Any] = dict(
        Account.objects.filter(member__in=members).values_list("member_id", "redeemable")
    )
    assert balances == {m.pk: 400 if m.pk in buyers else 500 for m in members}

    # HR approves and fulfils each of the five from the queue.
    for redemption in redemptions:
        assert _decide(org.hr, RedemptionFlow.approve, redemption, "approve").status_code == 302
        assert _decide(org.hr, RedemptionFlow.fulfil, redemption, "fulfil").status_code == 302
    assert set(Redemption.objects.values_list("status", flat=True)) == {RedemptionStatus.FULFILLED}
    reward.refresh_from_db()
    assert reward.stock == 0
    assert ledger_verify() == []
    out = StringIO()
    call_command("points_verify", stdout=out)  # exits non-zero on any difference


ROUNDS = 20


def test_the_member_cancels_while_hr_approves_and_nothing_deadlocks() -> None:
    """Each round the member withdraws a request at the moment HR approves it from the
    task page. Whichever comes first, the request ends cancelled and refunded once: the
    withdrawal takes the task's row before the redemption's, as the task page does (in the
    other order the two deadlocked and PostgreSQL aborted one with a 500)."""
    from flows.models import Redemption as RedemptionModel
    from tests.flows.test_redemption import LIST, _task, _task_url

    org = Org("shopx")
    member = org.member(org.team_a1, "shopx-buyer")
    reward = Reward.objects.create(
        organisation=org.organisation, name="保温杯", points_cost=10, stock=ROUNDS
    )
    buyer, hr = _logged_in(member), _logged_in(org.hr)

    def prepare(round_: int) -> Requests:
        assert buyer.post(START, {"reward": reward.pk, "note": ""}).status_code == 302
        redemption = RedemptionModel.objects.latest("pk")
        task = _task(RedemptionFlow.approve, redemption)
        assert hr.post(_task_url(task, "assign")).status_code == 302
        return {
            "withdraw": (f"{LIST}withdraw/{redemption.pk}/", {"confirm": "yes"}),
            "approve": (_task_url(task), {"decision": "approve", "reason": ""}),
        }

    def check(round_: int, answers: Answers) -> None:
        redemption = RedemptionModel.objects.latest("pk")
        assert redemption.status == RedemptionStatus.CANCELLED, (round_, answers)
        assert redemption.refund_entry is not None, (round_, answers)

    rounds_at_once([("withdraw", buyer), ("approve", hr)], ROUNDS, prepare, check)
    assert Account.objects.get(member=member).redeemable == 500
    assert LedgerEntry.objects.filter(member=member, kind=EntryKind.REVERSAL).count() == ROUNDS
    assert ledger_verify() == []
