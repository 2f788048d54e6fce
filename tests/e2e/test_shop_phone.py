"""On a 390-px phone the shop's reward card keeps its facts (cost, stock) apart from the
Redeem button below them: "库存 39" touched the button. Screenshot under
test-artifacts/shop/."""

from __future__ import annotations

from typing import Any

import pytest

from points.models import Reward, RewardKind
from tests.conftest import Org
from tests.e2e.conftest import browser_page, fits_width, login, screenshot

pytestmark = pytest.mark.e2e

#: The gap (px) between the bottom of each reward card's facts and the top of the button
#: that follows, by reward name.
GAPS = """() => Object.fromEntries([...document.querySelectorAll('.pts-reward')].map(card => {
  const facts = card.querySelector('.pts-facts').getBoundingClientRect();
  const button = card.querySelector('a.mdc-button');
  return [card.querySelector('h2').textContent.trim(),
          button ? Math.round(button.getBoundingClientRect().top - facts.bottom) : null];
}))"""


@pytest.fixture
def e2e_org(transactional_db: Any) -> Org:
    org = Org("acme")
    for name, cost, stock in (("不锈钢保温杯", 150, 39), ("电影票两张", 120, 0)):
        Reward.objects.create(
            organisation=org.organisation,
            name=name,
            kind=RewardKind.GIFT,
            points_cost=cost,
            stock=stock,
            description="实物奖品，人力资源部领取。",
        )
    return org


def test_the_redeem_button_keeps_its_distance_from_the_stock(
    live_server: Any, e2e_org: Org
) -> None:
    with browser_page() as page:
        login(page, live_server.url, e2e_org.worker_a1.user.username, then="/shop/rewards/")
        gaps = page.evaluate(GAPS)
        screenshot(page, "shop/01-rewards-phone")
        assert gaps["电影票两张"] is None  # out of stock: no button
        assert gaps["不锈钢保温杯"] >= 8, gaps
        assert fits_width(page)
