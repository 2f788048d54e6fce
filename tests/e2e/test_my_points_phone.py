"""On a 390×844 phone: a member opens "my points" and sees the trend chart drawn by the
locally served Chart.js; a member redeems a reward in the shop and "my points" shows the
balance spent; HR opens the dashboard and sees its charts. Screenshots are saved under
test-artifacts/mypoints/."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from flows.models import Redemption
from points.models import Account, PrizeAward, PrizeTable, Reward
from points.periods import month_start, organisation_today
from points.services.ledger import PostingItem, ledger_post_batch
from tests.conftest import Org
from tests.e2e.conftest import browser_page, fits_width, login, screenshot, settled

pytestmark = pytest.mark.e2e

#: Whether a canvas has any painted pixel.
PAINTED = """(canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) return true; }
  return false;
}"""


@pytest.fixture
def e2e_org(transactional_db: Any) -> Org:
    """Twelve months of points for worker_a1 (and a little for worker_b)."""
    org = Org("acme")
    today = organisation_today(org.organisation)
    items = []
    month = month_start(today)
    for n in range(12):
        day = min(month.replace(day=10), today)
        for member, amount in ((org.worker_a1, 10 + 7 * (n % 5)), (org.worker_b, 5)):
            items.append(
                PostingItem(
                    member_id=member.pk,
                    idempotency_key=f"e2e:{member.pk}:{n}",
                    effective_date=day,
                    amount=amount,
                    note=f"第{n}个月的奖分",
                    approved_by_id=org.leader_a1.user_id,
                )
            )
        month = month_start(month - timedelta(days=1))
    ledger_post_batch(organisation=org.organisation, items=items, today=today)
    return org


def test_a_member_sees_the_trend_chart_on_a_phone(live_server: Any, e2e_org: Org) -> None:
    with browser_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console",
            lambda message: errors.append(message.text) if message.type == "error" else None,
        )
        login(page, live_server.url, e2e_org.worker_a1.user.username, then="/points/me/")
        canvas = page.wait_for_selector("#trend-chart[data-drawn='1']", timeout=10_000)
        assert canvas is not None
        assert page.evaluate("typeof window.Chart") == "function"  # our static copy loaded
        assert canvas.evaluate(PAINTED)
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 150
        labels = page.evaluate("document.getElementById('trend-chart').chart.data.labels")
        assert len(labels) == 12
        assert page.locator("[data-figure=balance]").inner_text().strip() != ""
        assert page.locator("#history-table tbody tr").count() == 13  # 12 months + base
        assert fits_width(page)
        assert errors == []
        screenshot(page, "mypoints/01-my-points")

        page.select_option("select[name=direction]", "award")
        page.fill("input[name=q]", "第3个月")
        page.click("#history button[type=submit]")
        page.wait_for_selector("#trend-chart[data-drawn='1']")
        assert page.locator("#history-table tbody tr").count() == 1
        screenshot(page, "mypoints/02-history-filtered")


@pytest.fixture
def reward(e2e_org: Org) -> Reward:
    return Reward.objects.create(
        organisation=e2e_org.organisation,
        name="保温杯",
        description="不锈钢，500毫升",
        points_cost=120,
        stock=3,
        active=True,
    )


@pytest.fixture
def prize(e2e_org: Org) -> PrizeAward:
    """Last month's first place of a rank table, not yet paid."""
    table = PrizeTable.objects.create(organisation=e2e_org.organisation, name="月度排名奖")
    start = month_start(month_start(organisation_today(e2e_org.organisation)) - timedelta(days=1))
    return PrizeAward.objects.create(
        organisation=e2e_org.organisation,
        table=table,
        member=e2e_org.worker_a1,
        period_kind="month",
        period_start=start,
        period_end=month_start(start + timedelta(days=32)) - timedelta(days=1),
        place=1,
        total=45,
        prize="100元购物卡",
        amount=Decimal(100),
    )


def _my_points_balance(page: Any) -> int:
    """The redeemable balance as "my points" shows it, once the page (and its chart) is
    drawn."""
    canvas = page.wait_for_selector("#trend-chart[data-drawn='1']", timeout=10_000)
    assert canvas is not None and canvas.evaluate(PAINTED)
    return int(page.locator("[data-figure=balance]").inner_text().strip())


def test_a_member_redeems_a_reward_and_sees_the_balance_drop_on_a_phone(
    live_server: Any, e2e_org: Org, reward: Reward, prize: PrizeAward
) -> None:
    member = e2e_org.worker_a1
    before = Account.objects.get(member=member).redeemable
    assert before >= reward.points_cost
    base = live_server.url
    with browser_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        login(page, base, member.user.username, then="/points/me/")
        assert _my_points_balance(page) == before
        prizes = page.locator("#prizes-table tbody tr")
        assert prizes.count() == 1 and prize.prize in prizes.inner_text()
        assert fits_width(page)
        screenshot(page, "mypoints/04-before-redeeming")

        page.goto(f"{base}/shop/rewards/")
        card = page.locator(f"#reward-{reward.pk}")
        card.wait_for()
        assert int(page.locator("#shop-balance").inner_text().strip()) == before
        assert fits_width(page)
        screenshot(page, "mypoints/05-shop")
        card.locator(f"a[href$='/shop/redemption/start/?reward={reward.pk}']").click()
        page.wait_for_url(f"{base}/shop/redemption/start/?reward={reward.pk}")
        settled(page)
        confirm = page.locator("#redeem-confirm")
        confirm.wait_for()
        assert fits_width(page)
        screenshot(page, "mypoints/06-redeem")
        page.fill("textarea[name=note]", "下周一领取")
        with page.expect_navigation():
            confirm.click()
        page.wait_for_url(f"{base}/shop/redemption/")
        settled(page)
        screenshot(page, "mypoints/07-redeemed")

        page.goto(f"{base}/points/me/")
        assert _my_points_balance(page) == before - reward.points_cost
        redemptions = page.locator("#redemptions").inner_text()
        assert reward.name in redemptions and str(reward.points_cost) in redemptions
        assert fits_width(page)
        assert errors == []
        screenshot(page, "mypoints/08-after-redeeming")

    redemption = Redemption.objects.get(member=member)
    assert redemption.reward_id == reward.pk and redemption.points == reward.points_cost
    assert redemption.process_id is not None  # started through the flow's start page
    assert redemption.note == "下周一领取"
    assert Account.objects.get(member=member).redeemable == before - reward.points_cost
    reward.refresh_from_db()
    assert reward.stock == 2


def test_hr_sees_the_dashboard_charts_on_a_phone(live_server: Any, e2e_org: Org) -> None:
    with browser_page() as page:
        login(page, live_server.url, e2e_org.hr.user.username, then="/points/dashboard/")
        page.wait_for_selector("canvas[data-chart='chart-distribution'][data-drawn='1']")
        for chart in ("chart-distribution", "chart-units", "chart-participation"):
            canvas = page.locator(f"canvas[data-chart='{chart}']")
            assert canvas.evaluate(PAINTED), chart
        assert fits_width(page)
        screenshot(page, "mypoints/03-dashboard")
