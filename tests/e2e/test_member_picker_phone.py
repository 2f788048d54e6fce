"""On a 390-px phone, member pickers of long lists are searched: a leader finds a notice's
member by typing part of a name, and a recorder the member they declare for."""

from __future__ import annotations

import re
from typing import Any

import pytest

from flows.models import AwardNotice
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
from tests.factories import MemberFactory, RuleItemFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def e2e_org(transactional_db: Any, settings: Any) -> Org:
    settings.POINTS_MEMBER_SEARCH_ABOVE = 3
    org = Org("acme")
    RuleItemFactory(
        organisation=org.organisation, code="ATD-002", name="迟到", kind="deduction",
        category="attendance", points_min=5, points_max=5,
    )  # fmt: skip
    for n in range(6):
        MemberFactory(organisation=org.organisation, unit=org.team_a1, name=f"装配工{n}")
    MemberFactory(organisation=org.organisation, unit=org.team_a1, name="<b>粗体</b>")
    return org


def _pick(page: Any, query: str, choice: str) -> None:
    """Type into the Tom Select control and choose the answer holding ``choice``."""
    page.locator(".ts-control").first.click()  # as a finger does: the field, then type
    page.wait_for_selector(".ts-wrapper.focus")  # keys typed before the focus are lost
    page.keyboard.type(query, delay=20)
    page.locator(".ts-dropdown .option", has_text=choice).first.click()


def test_a_leader_finds_a_notices_members_by_typing(live_server: Any, e2e_org: Org) -> None:
    worker = e2e_org.worker_a1
    two = e2e_org.organisation.members.get(name="装配工2")
    late = e2e_org.organisation.rule_items.get(code="ATD-002")
    with browser_page() as page:
        login(page, live_server.url, e2e_org.leader_a.user.username)
        page.goto(f"{live_server.url}/declarations/awardnotice/start/")
        page.wait_for_selector(".ts-control")
        assert page.locator("select[name=members] option").count() == 0  # none drawn
        _pick(page, "worker", "acme-worker-a1")
        _pick(page, "装配工2", "装配工2")
        # a label with markup is shown as text, not drawn
        page.locator(".ts-control input").first.fill("粗体")
        page.wait_for_selector(".ts-dropdown .option")
        assert page.locator(".ts-dropdown .option b").count() == 0
        assert "<b>粗体</b>" in page.locator(".ts-dropdown .option").first.text_content()
        page.locator(".ts-control input").first.fill("nobody-like-this")
        page.wait_for_selector(".ts-dropdown .no-results")
        assert page.locator(".ts-dropdown .no-results").inner_text() == "未找到成员"
        page.keyboard.press("Escape")
        assert small_targets(page, ".ts-control") == []
        assert fits_width(page)
        screenshot(page, "notice/01-members-by-search")
        page.select_option("select[name=rule_item]", str(late.pk))
        # the rule's points are filled in and said, with their sign (flows/declare.js)
        assert page.input_value("input[name=points]") == "5"
        see(page, "固定分值：每项 −5 分。")
        page.fill("input[name=event_date]", "2026-11-12")
        page.fill("textarea[name=description]", "早会迟到")
        page.click("form.pts-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/declarations/awardnotice/\d+/$"))
        settled(page)
        see(page, "通知单已生效")  # within the leader's tier: no signature needed
    notice = AwardNotice.objects.get()
    assert set(notice.items.values_list("member", flat=True)) == {worker.pk, two.pk}


def test_a_recorder_finds_the_member_they_declare_for(live_server: Any, e2e_org: Org) -> None:
    worker = e2e_org.worker_a1
    with browser_page() as page:
        login(page, live_server.url, e2e_org.recorder.user.username)
        page.goto(f"{live_server.url}/declarations/declaration/start/")
        page.wait_for_selector(".ts-control")
        _pick(page, "worker", "acme-worker-a1")
        page.wait_for_url(re.compile(rf".*\?member={worker.pk}$"))
        settled(page)
        page.wait_for_selector(".ts-control")
        assert page.input_value("select[name=member]") == str(worker.pk)
        assert "acme-worker-a1" in page.locator(".ts-control").inner_text()
        assert fits_width(page)
        screenshot(page, "declare/08-recorder-searched-a-member")
