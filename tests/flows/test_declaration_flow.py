"""The declaration flow through the test client: start, review (approve, adjust, reject,
return and resubmit), tier escalation, scope and self-approval."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.models import Declaration, DeclarationStatus
from points.models import AuditEvent, LedgerEntry
from tests.conftest import Org
from tests.factories import TEST_PASSWORD, AuthorityTierFactory, RuleItemFactory

pytestmark = pytest.mark.django_db
START = "/declarations/declaration/start/"


def _photo() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "green").save(out, "JPEG")
    return SimpleUploadedFile("scene.jpg", out.getvalue(), content_type="image/jpeg")


@pytest.fixture
def rules(org: Org) -> dict[str, Any]:
    return {
        "praise": RuleItemFactory(
            organisation=org.organisation,
            name="顾客表扬",
            kind="award",
            points_min=50,
            points_max=50,
            evidence_required=True,
        ),
        "idea": RuleItemFactory(
            organisation=org.organisation,
            name="合理化建议",
            kind="award",
            points_min=10,
            points_max=100,
        ),
    }


def _client(member: Any) -> Client:
    client = Client()
    assert client.login(username=member.user.username, password=TEST_PASSWORD)
    return client


def _declare(
    member: Any,
    rule: Any,
    points: int | None = None,
    for_member: Any = None,
    client: Client | None = None,
    **extra: Any,
) -> Any:
    client = client or _client(member)
    data = {
        "member": (for_member or member).pk,
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "5",
        "items-0-rule_item": rule.pk,
        "items-0-quantity": "1",
        "items-0-points": "" if points is None else str(points),
        "items-0-event_date": "2026-11-10",
        "items-0-place": "二号车间",
        "items-0-description": extra.pop("description", "合理化建议被采纳"),
    }
    if rule.evidence_required:
        data["items-0-evidence"] = _photo()
    return client.post(START, data)


def _said(response: Any) -> list[str]:
    """The messages a response left for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def _open_task(user: Any) -> Task:
    return Task.objects.get(owner=user, status=STATUS.ASSIGNED)


def _task_url(task: Task) -> str:
    return f"/declarations/declaration/{task.process_id}/{task.flow_task.name}/{task.pk}/execute/"


def _decide(reviewer: Any, action: str, reason: str = "", **points: int) -> Any:
    task = _open_task(reviewer.user)
    data = {"action": action, "reason": reason, **{f"points_{k}": v for k, v in points.items()}}
    return _client(reviewer).post(_task_url(task), data)


def test_member_declares_and_the_leader_approves_into_the_pending_pool(
    org: Org, rules: dict[str, Any]
) -> None:
    org.leader_a1.name = "王组长"
    org.leader_a1.save()
    response = _declare(org.worker_a1, rules["praise"])
    assert response.status_code == 302, response.content.decode()[:3000]
    assert _said(response) == ["您的申报已提交给 王组长 审核。"]  # a name, not a login
    declaration = Declaration.objects.get()
    assert declaration.reviewer == org.leader_a1.user
    task = _open_task(org.leader_a1.user)
    page = _client(org.leader_a1).get(_task_url(task))
    assert page.status_code == 200 and "顾客表扬" in page.content.decode()

    assert _decide(org.leader_a1, "approve").status_code == 302
    declaration.refresh_from_db()
    item = declaration.items.get()
    assert declaration.status == DeclarationStatus.APPROVED
    assert item.pool_month == date(2026, 11, 1) and item.approved_points == 50
    assert declaration.process.finished is not None
    assert not LedgerEntry.objects.filter(member=org.worker_a1, kind="daily").exists()
    assert AuditEvent.objects.filter(action="declaration.approve").count() == 1


def test_adjust_within_the_range_needs_a_reason(org: Org, rules: dict[str, Any]) -> None:
    _declare(org.worker_a1, rules["idea"], points=80)
    item = Declaration.objects.get().items.get()
    response = _decide(org.leader_a1, "approve", **{str(item.pk): 60})
    assert response.status_code == 200 and "理由" in response.content.decode()
    response = _decide(org.leader_a1, "approve", **{str(item.pk): 120}, reason="x")
    assert response.status_code == 200
    html = response.content.decode()  # said at the field, which also bounds the number
    assert "确保该值小于或等于100" in html and 'max="100"' in html and 'min="10"' in html
    item.refresh_from_db()
    assert item.approved_points is None
    _decide(org.leader_a1, "approve", reason="效果一般", **{str(item.pk): 60})
    item.refresh_from_db()
    assert item.approved_points == 60 and item.adjustment_reason == "效果一般"


def test_reject_with_a_reason_ends_the_process(org: Org, rules: dict[str, Any]) -> None:
    _declare(org.worker_a1, rules["idea"], points=20)
    assert _decide(org.leader_a1, "reject").status_code == 200  # a reason is required
    _decide(org.leader_a1, "reject", reason="不属实")
    declaration = Declaration.objects.get()
    assert declaration.status == DeclarationStatus.REJECTED
    assert declaration.process.finished is not None


def test_return_and_resubmit_goes_back_to_the_same_reviewer(
    org: Org, rules: dict[str, Any]
) -> None:
    _declare(org.worker_a1, rules["idea"], points=20)
    _decide(org.leader_a1, "return", reason="请补充说明")
    declaration = Declaration.objects.get()
    assert declaration.status == DeclarationStatus.RETURNED
    task = _open_task(org.worker_a1.user)
    client = _client(org.worker_a1)
    assert client.get(_task_url(task)).status_code == 200
    item = declaration.items.get()
    response = client.post(
        _task_url(task),
        {
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "5",
            "items-0-rule_item": item.rule_item_id,
            "items-0-quantity": "1",
            "items-0-points": "30",
            "items-0-event_date": "2026-11-10",
            "items-0-place": "二号车间",
            "items-0-description": "补充：节约成本两万元",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _said(response) == [f"申报已重新提交给 {org.leader_a1.name}。"]  # a name, not a login
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.SUBMITTED
    assert declaration.items.get().points == 30
    assert _open_task(org.leader_a1.user)  # the same reviewer has it back


def test_a_returned_item_whose_rule_went_out_of_force_says_so(
    org: Org, rules: dict[str, Any]
) -> None:
    """The revise page keeps the item's rule selected though the list offers only rules
    in force, so resubmitting it is refused with the rule's own message, not "required"."""
    _declare(org.worker_a1, rules["idea"], points=20)
    _decide(org.leader_a1, "return", reason="请补充说明")
    rules["idea"].active = False
    rules["idea"].save()
    task = _open_task(org.worker_a1.user)
    page = _client(org.worker_a1).get(_task_url(task)).content.decode()
    assert re.search(rf'<option value="{rules["idea"].pk}"[^>]* selected[ >]', page)
    item = Declaration.objects.get().items.get()
    response = _client(org.worker_a1).post(
        _task_url(task),
        {
            "items-TOTAL_FORMS": "1",
            "items-INITIAL_FORMS": "1",
            "items-MIN_NUM_FORMS": "0",
            "items-MAX_NUM_FORMS": "5",
            "items-0-id": item.pk,
            "items-0-rule_item": item.rule_item_id,
            "items-0-quantity": "1",
            "items-0-points": "30",
            "items-0-event_date": "2026-11-10",
            "items-0-place": "二号车间",
            "items-0-description": "补充说明",
        },
    )
    assert response.status_code == 200 and "不再有效" in response.content.decode()


def test_above_the_reviewers_tier_it_escalates_to_the_next_level(
    org: Org, rules: dict[str, Any]
) -> None:
    org.team_a1.authority_tier = AuthorityTierFactory(
        organisation=org.organisation, level=1, max_points=20
    )
    org.team_a1.save()
    _declare(org.worker_a1, rules["praise"])  # 50 points > 20
    _decide(org.leader_a1, "approve")
    declaration = Declaration.objects.get()
    assert declaration.status == DeclarationStatus.ESCALATED
    assert declaration.reviewer == org.leader_a.user
    _decide(org.leader_a, "approve")
    declaration.refresh_from_db()
    assert declaration.status == DeclarationStatus.APPROVED


def test_a_leaders_own_declaration_goes_to_the_level_above(org: Org, rules: dict[str, Any]) -> None:
    _declare(org.leader_a1, rules["idea"], points=20)
    assert Declaration.objects.get().reviewer == org.leader_a.user
    assert not Task.objects.filter(owner=org.leader_a1.user, status=STATUS.ASSIGNED).exists()


def test_another_departments_leader_cannot_open_or_decide_the_task(
    org: Org, rules: dict[str, Any]
) -> None:
    _declare(org.worker_a1, rules["idea"], points=20)
    task = _open_task(org.leader_a1.user)
    outsider = _client(org.leader_b)
    # not found, as if there were no such task or declaration (403 would say there is)
    assert outsider.get(_task_url(task)).status_code == 404
    assert outsider.post(_task_url(task), {"action": "approve"}).status_code == 404
    assert outsider.get(f"/declarations/declaration/{task.process_id}/").status_code == 404
    assert Declaration.objects.get().status == DeclarationStatus.SUBMITTED


def test_lists_show_only_declarations_in_scope(org: Org, rules: dict[str, Any]) -> None:
    _declare(org.worker_a1, rules["idea"], points=20, description="甲部门的建议")
    _declare(org.worker_b, rules["idea"], points=20, description="乙部门的建议")
    html = _client(org.leader_b).get("/declarations/declaration/").content.decode()
    assert org.worker_b.name in html and org.worker_a1.name not in html


def test_evidence_is_served_only_in_scope_as_an_attachment(org: Org, rules: dict[str, Any]) -> None:
    _declare(org.worker_a1, rules["praise"])
    evidence = Declaration.objects.get().items.get().evidence.get()
    response = _client(org.leader_a1).get(f"/evidence/{evidence.pk}/")
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment")
    assert _client(org.leader_b).get(f"/evidence/{evidence.pk}/").status_code == 404
    assert Client().get(f"/evidence/{evidence.pk}/").status_code == 302


def test_script_in_a_description_is_shown_escaped(org: Org, rules: dict[str, Any]) -> None:
    _declare(org.worker_a1, rules["idea"], points=20, description="<script>alert(1)</script>")
    html = _client(org.leader_a1).get(_task_url(_open_task(org.leader_a1.user))).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_the_form_shows_how_close_the_member_is_to_each_cap(org: Org, post: Any) -> None:
    rule = RuleItemFactory(
        organisation=org.organisation,
        name="好人好事",
        kind="award",
        points_min=5,
        points_max=5,
        cap_per_day=10,
        cap_per_month=30,
    )
    post(org.worker_a1, 5, rule_item_id=rule.pk, effective_date=date(2026, 11, 20))
    post(org.worker_a1, 5, rule_item_id=rule.pk, effective_date=date(2026, 11, 3))
    for n in range(2):  # capped rules not used yet: folded away under their count
        RuleItemFactory(
            organisation=org.organisation, name=f"未用{n}", kind="award", cap_per_month=50
        )
    html = _client(org.worker_a1).get(START).content.decode()
    caps = html[html.index('id="caps"') : html.index("</section>", html.index('id="caps"'))]
    shown, folded = caps.split('<details class="pts-caps-unused">')
    assert "好人好事" in shown and "5 / 10" in shown and "10 / 30" in shown
    assert "未用" not in shown
    assert "<summary>2 条设上限的标准尚未使用</summary>" in folded
    assert "未用0" in folded and "未用1" in folded and "0 / 50" in folded


def test_lists_name_people_not_logins(org: Org) -> None:
    """The declarations list shows the reviewer's name, not their username."""
    org.leader_a1.name = "王组长"
    org.leader_a1.save()
    rule = RuleItemFactory(organisation=org.organisation, points_min=5, points_max=5)
    _declare(org.worker_a1, rule)
    html = _client(org.worker_a1).get("/declarations/declaration/").content.decode()
    row = html.split("<tbody>")[1].split("</tbody>")[0]
    assert "王组长" in row and org.leader_a1.user.username not in row
    process_id = Declaration.objects.get().process_id  # each row opens its status history
    assert f'href="/declarations/declaration/{process_id}/"' in row


def test_viewflow_pages_name_every_step_and_count_in_chinese(org: Org) -> None:
    """The routing and end steps have names (viewflow showed "Route" and "End"), and the
    task lists' pager reads 第 1–1 条，共 1 条."""
    rule = RuleItemFactory(organisation=org.organisation, points_min=5, points_max=5)
    _declare(org.worker_a1, rule)
    declaration = Declaration.objects.get()
    inbox = _client(org.leader_a1).get("/declarations/declaration/inbox/").content.decode()
    assert "第 1–1 条，共 1 条" in inbox and " of " not in inbox.split("vf-list__pagination")[1]
    org.leader_a1.name = "王组长"
    org.leader_a1.save()
    detail = f"/declarations/declaration/{declaration.process_id}/"
    text = _client(org.worker_a1).get(detail).content.decode()
    assert f"{detail}cancel/" not in text  # not theirs to cancel
    assert "王组长" in text  # the reviewer's step, by name
    _decide(org.leader_a1, "approve")
    text = _client(org.worker_a1).get(detail).content.decode()
    assert "流程结束" in text and "按结果流转" not in text  # the end named; gateways not steps
    assert ">Route<" not in text and ">End<" not in text
