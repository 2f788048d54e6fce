"""The claim page on a 390-px phone: "领取并办理" is the filled button, both buttons are a
finger's target (at least 44 px tall), and the filled one leads to the task's form."""

from __future__ import annotations

import re
from typing import Any

import pytest

from flows.flows import RedemptionFlow
from tests.conftest import Org
from tests.e2e.conftest import browser_page, fits_width, login, screenshot, settled
from tests.flows.test_redemption import _requested, _reward, _task, _task_url

pytestmark = pytest.mark.e2e


@pytest.fixture
def claim_url(transactional_db: Any) -> tuple[Org, str]:
    """HR and the claim page of a redemption's approval waiting in HR's queue."""
    org = Org("acme")
    redemption = _requested(org, org.worker_a1, _reward(org))
    return org, _task_url(_task(RedemptionFlow.approve, redemption), "assign")


def test_claim_and_handle_is_the_filled_button_and_a_finger_s_target(
    live_server: Any, claim_url: tuple[Org, str]
) -> None:
    org, url = claim_url
    with browser_page() as page:
        login(page, live_server.url, org.hr.user.username, then=url)
        buttons = page.evaluate(
            """() => [...document.querySelectorAll('.pts-task-actions button')].map(b => {
                const box = b.getBoundingClientRect();
                return {text: b.textContent.trim(), name: b.name, height: box.height,
                        background: getComputedStyle(b).backgroundColor};
            })"""
        )
        assert [(b["text"], b["name"]) for b in buttons] == [
            ("领取并办理", "_continue"),
            ("仅领取", ""),
        ]
        assert all(b["height"] >= 44 for b in buttons), buttons
        filled, outlined = (b["background"] for b in buttons)
        assert filled not in ("rgba(0, 0, 0, 0)", "transparent") and filled != outlined
        assert fits_width(page)
        screenshot(page, "claim/01-claim-page")

        page.click("button[name=_continue]")
        page.wait_for_url(re.compile(r".*/approve/\d+/execute/$"))
        settled(page)
        screenshot(page, "claim/02-claimed")
