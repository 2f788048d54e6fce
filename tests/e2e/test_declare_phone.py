"""On a 390-px phone: a member declares points with a photo; the leader sees it in the inbox
and approves it."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from flows.models import Declaration
from tests.conftest import Org
from tests.e2e.conftest import (
    ARTIFACTS,
    browser_page,
    fits_width,
    login,
    screenshot,
    see,
    settled,
    small_targets,
)
from tests.factories import RuleItemFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def e2e_org(transactional_db: Any) -> Org:
    org = Org("acme")
    RuleItemFactory(
        organisation=org.organisation,
        code="SVC-001",
        name="顾客表扬",
        kind="award",
        points_min=50,
        points_max=50,
        evidence_required=True,
    )
    return org


def test_declare_with_a_photo_and_approve_on_a_phone(live_server: Any, e2e_org: Org) -> None:
    photo = ARTIFACTS / "declare" / "scene.jpg"
    photo.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(buffer, "JPEG")
    Path(photo).write_bytes(buffer.getvalue())
    rule = e2e_org.organisation.rule_items.get(code="SVC-001")
    worker, leader = e2e_org.worker_a1.user.username, e2e_org.leader_a1.user.username

    with browser_page() as page:
        login(page, live_server.url, worker)
        page.goto(f"{live_server.url}/declarations/declaration/start/")
        page.select_option("select[name=items-0-rule_item]", str(rule.pk))
        page.fill("input[name=items-0-event_date]", "2026-11-10")
        page.fill("input[name=items-0-place]", "二号车间")
        page.fill("textarea[name=items-0-description]", "顾客来电表扬服务周到")
        page.set_input_files("input[name=items-0-evidence][multiple]", str(photo))
        screenshot(page, "declare/01-start")
        assert fits_width(page)
        fields = "form.pts-form input:not([type=hidden]):not([type=file]), form.pts-form select"
        assert small_targets(page, f"{fields}, form.pts-form button") == []
        page.click("form.pts-form button[type=submit]")
        page.wait_for_url(lambda url: "/start/" not in url)
        settled(page)
        screenshot(page, "declare/02-submitted")

        login(page, live_server.url, leader)
        page.goto(f"{live_server.url}/declarations/declaration/inbox/")
        # each task says whose declaration it is, on a card the width of the phone
        see(page, "acme-worker-a1 · 顾客表扬 · +50 分")
        assert fits_width(page) and small_targets(page, "table tbody a") == []
        screenshot(page, "declare/03-inbox")
        page.click("table tbody a >> nth=0")
        page.wait_for_url(re.compile(r".*/review/\d+/execute/$"))
        settled(page)
        see(page, "顾客来电表扬服务周到")
        screenshot(page, "declare/04-review")
        assert small_targets(page, "form.pts-form label:has(input[type=radio])") == []
        page.check("input[name=action][value=approve]")
        page.click("form.pts-form button[type=submit]")
        page.wait_for_url(lambda url: "/execute/" not in url)
        settled(page)
        screenshot(page, "declare/05-decided")

    declaration = Declaration.objects.get()  # (the ORM outside the browser's block)
    assert declaration.status == "approved"
    with browser_page() as page:
        login(page, live_server.url, worker)
        page.goto(f"{live_server.url}/declarations/declaration/{declaration.process_id}/")
        settled(page)
        see(page, "审核申报", "流程结束")  # every step, named, as a card of its own
        assert fits_width(page)
        screenshot(page, "declare/06-process")


def test_a_declaration_of_several_items_on_a_phone(live_server: Any, e2e_org: Org) -> None:
    """ "Add another item" adds an item, and an added one can be removed; each item says what
    its rule gives, and a fixed rule fills in its points (flows/declare.js)."""
    fixed = RuleItemFactory(
        organisation=e2e_org.organisation, code="ATD-001", name="全勤", kind="award",
        points_min=10, points_max=10,
    )  # fmt: skip
    ranged = RuleItemFactory(
        organisation=e2e_org.organisation, code="QLT-002", name="质量改进", kind="award",
        points_min=10, points_max=80,
    )  # fmt: skip

    def item(page: Any, n: int, rule: Any, description: str) -> None:
        page.select_option(f"select[name=items-{n}-rule_item]", str(rule.pk))
        page.fill(f"input[name=items-{n}-event_date]", "2026-11-10")
        page.fill(f"input[name=items-{n}-place]", "二号车间")
        page.fill(f"textarea[name=items-{n}-description]", description)

    with browser_page() as page:
        login(page, live_server.url, e2e_org.worker_a1.user.username)
        page.goto(f"{live_server.url}/declarations/declaration/start/")
        labels = page.locator("select[name=items-0-rule_item] option").all_inner_texts()
        assert labels[0] == "请选择奖扣分标准条目"
        assert "ATD-001 全勤 (+10)" in labels and "QLT-002 质量改进 (+10~80)" in labels
        item(page, 0, fixed, "本月全勤")
        assert page.input_value("input[name=items-0-points]") == "10"
        see(page, "固定分值：每项 +10 分。")
        page.click("text=添加一项")
        item(page, 1, ranged, "改进质检流程")
        see(page, "请在 10 至 80 分之间选择单项分值。")
        page.fill("input[name=items-1-points]", "30")
        page.click("text=添加一项")
        assert page.locator("fieldset[data-item]").count() == 3
        page.locator("fieldset[data-item] >> nth=2").locator("text=移除此项").click()
        assert page.locator("fieldset[data-item]").count() == 2
        assert page.input_value("input[name=items-TOTAL_FORMS]") == "2"
        assert fits_width(page) and small_targets(page, "form.pts-form button") == []
        screenshot(page, "declare/08-several-items")
        page.click("form.pts-form button[type=submit]")
        page.wait_for_url(lambda url: "/start/" not in url)
        settled(page)

    declaration = Declaration.objects.get()  # (the ORM outside the browser's block)
    items = declaration.items.order_by("pk")
    assert [(i.rule_item_id, i.points, i.description) for i in items] == [
        (fixed.pk, 10, "本月全勤"),
        (ranged.pk, 30, "改进质检流程"),
    ]


def test_a_recorder_choosing_a_member_gets_that_members_rules(
    live_server: Any, e2e_org: Org
) -> None:
    """The declare-for list reloads the page for the member chosen (flows/declare.js)."""
    team_only = RuleItemFactory(organisation=e2e_org.organisation, name="甲一班组专项")
    team_only.units.set([e2e_org.team_a1])
    recorder, worker = e2e_org.recorder.user.username, e2e_org.worker_a1

    with browser_page() as page:
        login(page, live_server.url, recorder)
        page.goto(f"{live_server.url}/declarations/declaration/start/")
        rules = "select[name=items-0-rule_item] option"
        assert "甲一班组专项" not in page.locator(rules).all_inner_texts()
        # with an item typed, changing the member asks first: dismissed, nothing changes
        page.fill("textarea[name=items-0-description]", "已填写的说明")
        asked: list[str] = []

        def answer(dialog: Any, accept: bool) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        page.once("dialog", lambda dialog: answer(dialog, False))
        page.select_option("select[name=member]", str(worker.pk))
        assert asked and "清空" in asked[0]
        assert page.input_value("select[name=member]") != str(worker.pk)
        assert page.input_value("textarea[name=items-0-description]") == "已填写的说明"
        page.once("dialog", lambda dialog: answer(dialog, True))
        page.select_option("select[name=member]", str(worker.pk))
        page.wait_for_url(re.compile(rf".*\?member={worker.pk}$"))
        assert page.title().startswith(f"为{worker.name}申报积分")
        settled(page)
        assert any("甲一班组专项" in text for text in page.locator(rules).all_inner_texts())
        assert page.input_value("select[name=member]") == str(worker.pk)
        assert fits_width(page)
        screenshot(page, "declare/07-recorder-chose-a-member")


def test_a_leader_approves_several_declarations_at_once(live_server: Any, e2e_org: Org) -> None:
    from tests.flows.test_declaration_flow import _declare

    idea = RuleItemFactory(
        organisation=e2e_org.organisation, name="合理化建议", kind="award", points_min=10,
        points_max=10,
    )  # fmt: skip
    for _ in range(3):
        _declare(e2e_org.worker_a1, idea)
    with browser_page() as page:
        login(page, live_server.url, e2e_org.leader_a1.user.username)
        page.goto(f"{live_server.url}/declarations/declaration/inbox/")
        page.click("a.pts-bulk")
        page.wait_for_url(re.compile(r".*/bulk-approve/$"))
        settled(page)
        boxes = page.locator("input[name=task]")
        assert boxes.count() == 3
        boxes.nth(0).check()
        boxes.nth(1).check()
        assert small_targets(page, ".pts-checklist label") == [] and fits_width(page)
        screenshot(page, "declare/09-bulk-approve")
        page.click("form.pts-form button[type=submit]")
        settled(page)
        see(page, "已批准 2 份")
        assert page.locator("input[name=task]").count() == 1
    assert Declaration.objects.filter(status="approved").count() == 2
