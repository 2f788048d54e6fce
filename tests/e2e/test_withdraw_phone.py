"""On a 390-px phone a member withdraws a declaration from their list: the list's Withdraw
button, the confirmation page with the items, a reason typed, and the process page saying
it is withdrawn. Screenshots under test-artifacts/withdraw/."""

from __future__ import annotations

from typing import Any

import pytest

from flows.models import Declaration, DeclarationStatus
from tests.conftest import Org
from tests.e2e.conftest import (
    browser_page,
    fits_width,
    login,
    screenshot,
    see,
    settled,
    small_targets,
)
from tests.factories import idea_rule
from tests.flows.test_declaration_flow import _declare

pytestmark = pytest.mark.e2e

LIST = "/declarations/declaration/"


def test_a_member_withdraws_a_declaration_on_a_phone(
    live_server: Any, transactional_db: Any
) -> None:
    org = Org("acme")
    rule = idea_rule(org.organisation)
    assert _declare(org.worker_a1, rule, points=30).status_code == 302
    declaration = Declaration.objects.get()
    base = live_server.url
    with browser_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        login(page, base, org.worker_a1.user.username, then=LIST)
        withdraw = page.locator(f"a[href$='{LIST}withdraw/{declaration.pk}/']")
        assert withdraw.count() == 1 and withdraw.inner_text().strip() == "撤回"
        assert fits_width(page) and small_targets(page, "td a.mdc-button") == []
        screenshot(page, "withdraw/01-list")
        withdraw.click()
        page.wait_for_url(f"{base}{LIST}withdraw/{declaration.pk}/")
        settled(page)
        see(page, "撤回申报", "合理化建议", "30")
        assert fits_width(page)
        assert small_targets(page, "#withdraw-confirm .mdc-button") == []
        screenshot(page, "withdraw/02-confirm")
        page.fill("textarea[name=reason]", "选错了规则")
        with page.expect_navigation():
            page.locator("#withdraw-confirm button[type=submit]").click()
        page.wait_for_url(f"{base}{LIST}{declaration.process_id}/")
        settled(page)
        see(page, "已撤回", "撤回理由", "选错了规则")
        assert fits_width(page)
        screenshot(page, "withdraw/03-withdrawn")
        assert errors == []

    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.WITHDRAWN
    assert declaration.decision_reason == "选错了规则"
