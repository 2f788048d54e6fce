"""seed_demo stocks the shop, leaves redemptions at every step through the real flow, and
last month's prize winners; idempotently."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from viewflow.workflow.models import Task

from flows.flows import RedemptionFlow
from flows.models import Redemption, RedemptionStatus
from points.demo.seed import DEMO_PASSWORD
from points.models import LedgerEntry, PrizeAward, PrizeTable, Reward
from points.selectors.ledger import ledger_verify

pytestmark = pytest.mark.django_db

LAST_MONTH = date(2026, 10, 1)  # the tests run on 2026-11-20


def _counts() -> dict[str, int]:
    return {
        "rewards": Reward.objects.count(),
        "redemptions": Redemption.objects.count(),
        "ledger": LedgerEntry.objects.count(),
        "tasks": Task.objects.count(),
        "tables": PrizeTable.objects.count(),
        "prizes": PrizeAward.objects.count(),
        "paid": PrizeAward.objects.filter(paid=True).count(),
        "stock": sum(Reward.objects.values_list("stock", flat=True)),
    }


def test_the_shop_demo_at_every_step_and_idempotent() -> None:
    call_command("seed_demo", stdout=StringIO())
    first = _counts()
    assert first["rewards"] >= 5
    assert set(Redemption.objects.values_list("status", flat=True)) == set(RedemptionStatus.values)
    mine = Redemption.objects.get(member__user__username="member")
    assert mine.status == RedemptionStatus.REQUESTED
    # HR finds one approval and one fulfilment in the queue.
    open_tasks = Task.objects.filter(
        flow_task__in=[RedemptionFlow.approve, RedemptionFlow.fulfil], status="NEW"
    )
    assert open_tasks.count() == 2
    # Last month's winners, one paid.
    winners = PrizeAward.objects.filter(period_start=LAST_MONTH)
    assert winners.exists() and winners.filter(paid=True).count() == 1
    assert ledger_verify() == []

    call_command("seed_demo", stdout=StringIO())
    assert _counts() == first

    client = Client()
    assert client.login(username="member", password=DEMO_PASSWORD)
    shop = client.get("/shop/rewards/")
    assert shop.status_code == 200 and "不锈钢保温杯" in shop.content.decode()
    reward = Reward.objects.get(name="不锈钢保温杯")
    picture = client.get(f"/shop/rewards/{reward.pk}/picture/")
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
    assert client.login(username="hr1", password=DEMO_PASSWORD)
    assert client.get("/shop/redemption/queue/").status_code == 200
    assert "元" in client.get("/shop/prizes/").content.decode()
