"""On a 390×844 phone the trend chart of "my points" shows its first month whole: Chart.js
rotates the month labels and keeps room on the left for the first one's width only, so
without ``flows/charts.js``'s extra room "2025-12" was cut to "025-12". Screenshot under
test-artifacts/mypoints/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from points.periods import month_start, organisation_today
from points.services.ledger import PostingItem, ledger_post_batch
from tests.conftest import Org
from tests.e2e.conftest import browser_page, login, screenshot

pytestmark = pytest.mark.e2e

#: Of the canvas's band below the plot (where the month labels are): the painted pixels of
#: each of its first columns, in device pixels, and the first label's rotation.
LEFT_EDGE = """(canvas) => {
  const chart = canvas.chart, ctx = canvas.getContext('2d'), ratio = chart.currentDevicePixelRatio;
  const top = Math.ceil(chart.chartArea.bottom * ratio), height = canvas.height - top;
  const columns = 4 * ratio, data = ctx.getImageData(0, top, columns, height).data;
  const painted = [];
  for (let x = 0; x < columns; x++) {
    let count = 0;
    for (let y = 0; y < height; y++) { if (data[(y * columns + x) * 4 + 3] !== 0) count++; }
    painted.push(count);
  }
  return {painted: painted, rotation: chart.scales.x.labelRotation,
          first: chart.scales.x.getLabelItems()[0].label};
}"""


@pytest.fixture
def small_org(transactional_db: Any) -> Org:
    """Twelve months of a few points for worker_a1: the y axis's labels are narrow, so the
    x axis's first label decides the room on the left."""
    org = Org("acme")
    today = organisation_today(org.organisation)
    items, month = [], month_start(today)
    for n in range(1, 12):
        month = month_start(month - timedelta(days=1))
        items.append(
            PostingItem(
                member_id=org.worker_a1.pk,
                idempotency_key=f"e2e-chart:{n}",
                effective_date=month.replace(day=10),
                amount=n % 4 + 1,
                note=f"第{n}个月",
                approved_by_id=org.leader_a1.user_id,
            )
        )
    ledger_post_batch(organisation=org.organisation, items=items, today=today)
    return org


def test_the_first_month_of_the_trend_is_not_cut_off_on_a_phone(
    live_server: Any, small_org: Org
) -> None:
    with browser_page() as page:
        login(page, live_server.url, small_org.worker_a1.user.username, then="/points/me/")
        canvas = page.wait_for_selector("#trend-chart[data-drawn='1']", timeout=10_000)
        assert canvas is not None
        edge = canvas.evaluate(LEFT_EDGE)
        screenshot(page, "mypoints/09-trend-first-label")
    assert edge["rotation"] > 0  # rotated labels: the case that was cut off
    assert len(edge["first"]) == 7  # "YYYY-MM"
    assert edge["painted"] == [0] * len(edge["painted"]), edge  # nothing at the left edge
