"""On a 390-px phone: log in, see the home page in Chinese, open the rule catalog."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Org
from tests.e2e.conftest import browser_page, fits_width, screenshot, see, settled
from tests.factories import TEST_PASSWORD, RuleItemFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def e2e_org(transactional_db: Any) -> Org:
    org = Org("acme")
    for n in range(12):
        RuleItemFactory(
            organisation=org.organisation,
            code=f"ATT-{n:03d}",
            name=f"顾客表扬第{n}项",
            kind="award",
            points_min=10,
            points_max=50,
        )
    return org


def test_member_logs_in_on_a_phone_and_reads_the_catalog(live_server: Any, e2e_org: Org) -> None:
    username = e2e_org.worker_a1.user.username
    with browser_page() as page:
        page.goto(f"{live_server.url}/points/rule_catalog/")
        assert "/accounts/login/" in page.url  # anonymous → login, not 403
        see(page, "积分制管理平台")
        screenshot(page, "shell/01-login")

        page.fill("input[name=username]", username)
        page.fill("input[name=password]", TEST_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/points/rule_catalog/")
        settled(page)
        see(page, "顾客表扬第1项")
        assert fits_width(page)
        screenshot(page, "shell/02-catalog")

        page.goto(f"{live_server.url}/")
        see(page, "规则目录", "直接上级")
        assert fits_width(page)
        screenshot(page, "shell/03-home")
