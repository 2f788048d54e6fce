"""On a 390-px phone every filter field, checkbox and small link is a finger's target: at
least 44 px tall (and 44 px wide for a checkbox's label, a "#" row link, a file-format link
or a page arrow), on my points, the ledger export, the audit log, the rule catalog, the
declaration list, the bulk import page and the home page."""

from __future__ import annotations

from typing import Any

import pytest

from points.models import AuditEvent
from tests.conftest import Org
from tests.e2e.conftest import browser_page, fits_width, login, screenshot, settled
from tests.factories import RuleItemFactory
from tests.flows.test_declaration_flow import _declare

pytestmark = pytest.mark.e2e

LEAST = 44
FILTER_FIELDS = ".pts-filter input:not([type=hidden]):not([type=checkbox]), .pts-filter select"


def small_boxes(page: Any, selector: str, width: bool = True) -> list[str]:
    """The visible elements matching ``selector`` less than 44 px tall (or, with ``width``,
    wide), each named by its tag, name or text and measured; [] if there are none. There
    must be at least one element, so that a renamed selector does not pass unseen."""
    found: dict[str, Any] = page.evaluate(
        """([selector, least, width]) => {
            const shown = [...document.querySelectorAll(selector)]
                .filter(e => e.offsetParent !== null);
            const small = shown.filter(e => {
                const box = e.getBoundingClientRect();
                return box.height < least || (width && box.width < least);
            }).map(e => {
                const box = e.getBoundingClientRect();
                return `${e.tagName} ${e.name || e.textContent.trim().slice(0, 20)}`
                       + ` ${Math.round(box.width)}x${Math.round(box.height)}`;
            });
            return {count: shown.length, small: small};
        }""",
        [selector, LEAST, width],
    )
    assert found["count"] > 0, f"nothing matches {selector}"
    small: list[str] = found["small"]
    return small


@pytest.fixture
def e2e_org(transactional_db: Any) -> Org:
    """A declaration of worker_a1 (a "#" link in their list) and more audit rows than one
    page of the audit log holds."""
    org = Org("acme")
    rule = RuleItemFactory(
        organisation=org.organisation, name="合理化建议", kind="award", points_min=10,
        points_max=10,
    )  # fmt: skip
    assert _declare(org.worker_a1, rule).status_code == 302
    for n in range(51):
        AuditEvent.objects.create(
            organisation=org.organisation,
            actor=org.hr.user,
            action="ledger.post",
            data={"posted": 1, "first_key": f"e2e:{n}", "last_key": f"e2e:{n}"},
        )
    return org


def test_a_member_s_filters_checkbox_and_links_on_a_phone(live_server: Any, e2e_org: Org) -> None:
    with browser_page() as page:
        login(page, live_server.url, e2e_org.worker_a1.user.username, then="/points/me/")
        assert small_boxes(page, FILTER_FIELDS, width=False) == []
        assert fits_width(page)
        screenshot(page, "targets/01-my-points")

        page.goto(f"{live_server.url}/points/rule_catalog/")
        settled(page)
        assert small_boxes(page, FILTER_FIELDS, width=False) == []
        # The checkbox's label is its target: 44 px both ways, and a tap on it ticks the box.
        mine = ".pts-filter label:has(input[name=scope])"
        assert small_boxes(page, mine) == []
        page.click(mine, position={"x": 40, "y": 42})
        assert page.is_checked("input[name=scope]")
        assert fits_width(page)
        screenshot(page, "targets/02-catalog")

        page.goto(f"{live_server.url}/declarations/declaration/")
        settled(page)
        assert small_boxes(page, 'td[data-label="#"] a') == []
        assert fits_width(page)
        # the "#" link's margin stays inside its table: the card does not move sideways
        assert page.evaluate(
            "[...document.querySelectorAll('.pts-table-wrap')]"
            ".every(w => w.scrollWidth <= w.clientWidth)"
        )
        screenshot(page, "targets/03-declarations")

        # my points' open declaration, then its process page: the steps and the way back
        page.goto(f"{live_server.url}/points/me/")
        settled(page)
        assert small_boxes(page, "#declarations .pts-list li > a") == []
        page.click("#declarations .pts-list li > a")
        settled(page)
        assert small_boxes(page, ".pts-steps td a") == []
        assert small_boxes(page, ".vf-card__breadcrumbs a[href]") == []
        # the flow chart is drawn large enough to read, and scrolls in its own box
        chart = page.locator(".pts-chart-box .pts-chart-img")
        chart.scroll_into_view_if_needed()
        page.wait_for_function("document.querySelector('.pts-chart-img').complete")
        assert chart.bounding_box()["width"] >= 600
        assert fits_width(page)
        screenshot(page, "targets/03b-process")

        page.goto(f"{live_server.url}/")
        settled(page)
        assert small_boxes(page, ".pts-facts a") == []  # the notification settings
        assert fits_width(page)
        screenshot(page, "targets/04-home")


def test_hr_s_filters_and_links_on_a_phone(live_server: Any, e2e_org: Org) -> None:
    e2e_org.worker_a1.name = "欧阳振华"  # (the ORM outside the browser's block)
    e2e_org.worker_a1.position = "总经理助理兼安全主管"
    e2e_org.worker_a1.save()
    with browser_page() as page:
        login(page, live_server.url, e2e_org.hr.user.username, then="/reports/ledger/")
        assert small_boxes(page, FILTER_FIELDS, width=False) == []
        assert fits_width(page)
        # the preview shows four lines of an entry on a phone, not sixteen
        shown = page.evaluate(
            "[...document.querySelectorAll('.pts-export-preview tbody tr:first-child td')]"
            ".filter(td => td.offsetParent !== null).map(td => td.dataset.label)"
        )
        assert shown == ["记账日期", "成员", "奖扣分标准条目", "分值"], shown
        screenshot(page, "targets/05-ledger")

        page.goto(f"{live_server.url}/points/audit/")
        settled(page)
        assert small_boxes(page, FILTER_FIELDS, width=False) == []
        assert page.locator(".pts-filter select[name=action]").count() == 1
        assert small_boxes(page, ".pts-raw summary", width=False) == []
        assert small_boxes(page, ".pts-pager a") == []
        assert fits_width(page)
        screenshot(page, "targets/06-audit")

        page.goto(f"{live_server.url}/declarations/imports/")
        settled(page)
        assert small_boxes(page, ".pts-facts a") == []  # the XLSX and CSV templates
        assert fits_width(page)
        screenshot(page, "targets/07-imports")

        # the admin's member list (home's "members" button): a row is one line, the list
        # scrolls sideways in its box (names and titles wrapped a character per line)
        page.goto(f"{live_server.url}/admin/points/member/")
        settled(page)
        heights = page.evaluate(
            "[...document.querySelectorAll('#result_list tbody tr')]"
            ".map(r => Math.round(r.getBoundingClientRect().height))"
        )
        assert heights and max(heights) < 50, heights
        assert fits_width(page)
        screenshot(page, "targets/08-admin-members")
